"""The one place that knows which backend runs and touches what Keras keeps private.

Everything else in the package is written with the public `keras.ops`. What cannot
be (reading and setting Keras masks, asking whether a value is concrete, replica
collectives under `tf.distribute`) lives here, so that a Keras upgrade or a new
backend is handled in one file.
"""

import keras
import numpy as np

# Keras keeps masks and its loss reduction in private helpers; they have no public
# equivalent in 3.15.
from keras.src.backend.common.masking import get_keras_mask
from keras.src.backend.common.masking import set_keras_mask
from keras.src.losses.loss import reduce_weighted_values


def name():
    """The active Keras backend: "tensorflow", "jax", "torch" or "numpy"."""
    return keras.backend.backend()


def get_mask(x):
    """The Keras mask attached to `x`, or `None`."""
    return get_keras_mask(x)


def set_mask(x, mask):
    """Attaches `mask` to `x` (or removes the mask when `mask` is `None`)."""
    set_keras_mask(x, mask)


def is_concrete(x):
    """Whether `x` holds values now (eager), rather than being traced symbolically."""
    backend = name()
    if isinstance(x, keras.KerasTensor):
        return False
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.executing_eagerly() and not tf.is_symbolic_tensor(x)
    if backend == "jax":
        import jax

        return not isinstance(x, jax.core.Tracer)
    if backend == "torch":
        import torch

        return not torch.compiler.is_compiling()
    return True


def to_numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def reduce(values, sample_weight, mask, reduction, dtype):
    """Keras's own loss reduction: weights, mask, reduction and replica scaling."""
    return reduce_weighted_values(
        values, sample_weight=sample_weight, mask=mask, reduction=reduction, dtype=dtype
    )


def replicas_in_sync():
    """How many replicas compute this step together, when called inside one of them.

    Under a `tf.distribute` strategy, in a replica context, the strategy's number of
    replicas; 1 everywhere else (no strategy, the cross-replica context Keras uses
    while building, or the JAX and PyTorch backends, whose data parallelism already
    shows a loss the global batch).
    """
    if name() != "tensorflow":
        return 1
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None:
        return 1
    return context.num_replicas_in_sync


def sum_over_replicas(x):
    """The sum of `x` over the replicas of this step (`x` itself with one replica)."""
    if replicas_in_sync() == 1:
        return x
    import tensorflow as tf

    return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, x)
