"""The one place that knows which backend runs and touches what Keras keeps private.

Everything else in the package is written with the public `keras.ops`. What cannot
be (reading and setting Keras masks, asking whether a value is concrete, replica
collectives under `tf.distribute`) lives here, so that a Keras upgrade or a new
backend is handled in one file.
"""

import keras
import numpy as np

# Keras keeps masks in a private helper; it has no public equivalent in 3.15.
from keras.src.backend.common.masking import get_keras_mask
from keras.src.backend.common.masking import set_keras_mask


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


def take_rows(variable, indices):
    """`keras.ops.take(variable, indices, axis=0)`, reading only the rows asked for.

    On TensorFlow this gathers straight from the variable (`ResourceGather`), so no
    tensor of the variable's full size appears in the graph and the gradient is a
    `tf.IndexedSlices` that optimizers apply as a sparse update. Elsewhere, and on
    symbolic inputs, it is `keras.ops.take`.
    """
    if name() == "tensorflow" and not isinstance(indices, keras.KerasTensor):
        import tensorflow as tf

        value = variable.value if isinstance(variable, keras.Variable) else variable
        if isinstance(value, tf.Variable):
            return tf.gather(value, indices)
    return keras.ops.take(variable, indices, axis=0)
