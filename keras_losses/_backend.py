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


# -- replicas (tf.distribute) ------------------------------------------------------
#
# Under a `tf.distribute` strategy each replica runs the model on its share of the
# global batch. A loss that needs the other replicas' examples (CLIP's negatives)
# gathers them with these; a loss that divides by a count sums it with these. Everywhere else (no strategy, the cross-replica context
# in which Keras builds a loss once, and the JAX and PyTorch backends, where Keras's
# own `DataParallel` already shows the loss the global batch) there is one replica
# and they return their input.


def _replica_context():
    """The `tf.distribute` replica context when more than one replica runs, else None."""
    if name() != "tensorflow":
        return None
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    return context


def replica_count():
    """How many replicas run this code together: 1 outside a replica of a strategy."""
    context = _replica_context()
    return 1 if context is None else context.num_replicas_in_sync


def all_gather(x):
    """`x` of every replica, concatenated along axis 0 in replica order.

    Differentiable: the gradient reaching each replica's `x` is the sum, over all
    replicas, of the gradients of their results with respect to its rows (TF's
    `ReplicaContext.all_gather` all-reduces the incoming gradient and keeps this
    replica's slice). With one replica it returns `x` itself.
    """
    context = _replica_context()
    if context is None:
        return x
    return context.all_gather(x, axis=0)


def sum_over_replicas(x):
    """The sum of `x` over the replicas of this step (`x` itself with one replica)."""
    context = _replica_context()
    if context is None:
        return x
    import tensorflow as tf

    return context.all_reduce(tf.distribute.ReduceOp.SUM, x)
# -- models and layers (keras_losses.regularizers) ----------------------------------

# Keras exports no public class for functional models: `keras.Model(inputs, outputs)`
# returns an instance of this private one.
from keras.src.models.functional import Functional as _Functional  # noqa: E402


def is_graph_model(model):
    """Whether `model` is a Functional or Sequential model (a graph of layers that
    `keras.models.clone_model` can rebuild), as opposed to a subclassed model."""
    return isinstance(model, (_Functional, keras.Sequential))


def sublayers(layer):
    """Every layer that `layer` holds, at any depth (not `layer` itself)."""
    return list(layer._flatten_layers(include_self=False, recursive=True))


def unscale_loss_for_distribution(value):
    """Undoes the 1 / replicas scaling that a Keras loss applies under `tf.distribute`
    (a no-op with one replica and on the other backends), as Keras's loss tracker does."""
    from keras.src.losses.loss import unscale_loss_for_distribution

    return unscale_loss_for_distribution(value)


def input_layer(tensor):
    """The `InputLayer` that made a functional model's input `tensor`."""
    return tensor._keras_history.operation


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


# -- custom gradients (keras_losses.losses.linear_cross_entropy) ------------------------
#
# `keras.ops.custom_gradient` exists, but on PyTorch (Keras 3.15) it swallows any
# error of the forward function and then returns a NaN gradient, and on every backend
# its gradient function must recompute from closures. This one takes a forward that
# returns residuals and a backward that receives them, and raises what it raises.


def custom_gradient(forward, backward):
    """A function of tensors with a hand-written vector-Jacobian product.

    Args:
        forward: `forward(*inputs) -> (output, residuals)`, `output` one tensor and
            `residuals` a tuple of tensors kept for the backward pass.
        backward: `backward(inputs, residuals, cotangent) -> gradients`, a tuple
            with one entry per input (`None` for an integer input).

    Returns:
        `fn(*inputs) -> output`, differentiable on TensorFlow (also in `tf.function`
        and XLA), JAX (also under `jax.jit`) and PyTorch.
    """
    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.custom_gradient
        def fn(*inputs):
            output, residuals = forward(*inputs)

            def gradient(cotangent):
                return tuple(backward(inputs, residuals, cotangent))

            return output, gradient

        def read_then_call(*inputs):
            # Variables are read here, outside `fn`: inside, TensorFlow would want their
            # gradients from `gradient` too, as a separate `variables` argument.
            return fn(*[tf.convert_to_tensor(x) for x in inputs])

        return read_then_call
    if backend == "jax":
        import jax

        @jax.custom_vjp
        def fn(*inputs):
            return forward(*inputs)[0]

        def fn_forward(*inputs):
            output, residuals = forward(*inputs)
            return output, (inputs, residuals)

        def fn_backward(saved, cotangent):
            return tuple(backward(saved[0], saved[1], cotangent))

        fn.defvjp(fn_forward, fn_backward)
        return fn
    if backend == "torch":
        import torch

        class Function(torch.autograd.Function):
            @staticmethod
            def forward(ctx, *inputs):
                output, residuals = forward(*inputs)
                ctx.count = len(inputs)
                ctx.save_for_backward(*inputs, *residuals)
                return output

            @staticmethod
            def backward(ctx, cotangent):
                saved = ctx.saved_tensors
                return tuple(backward(saved[: ctx.count], saved[ctx.count :], cotangent))

        return Function.apply
    return lambda *inputs: forward(*inputs)[0]
