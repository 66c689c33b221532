"""Weight penalties: L1, L2 (with the CS231n half), elastic net, soft max-norm, group lasso.

Each penalty is a `keras.regularizers.Regularizer`: pass it to a layer
(`Dense(..., kernel_regularizer=L2(1e-4))`) or attach it to a built model with
`keras_losses.regularizers.apply`. Keras adds the value to the training loss, so it
shows in `model.losses`, `fit` and `evaluate`.

Every penalty computes in float32 for float16/bfloat16 weights (a sum of squares
of a large kernel overflows float16, whose largest value is 65504) and in the
weight's own dtype otherwise; the strength is cast to that dtype. The norm-based
penalties take the square root only where a norm is positive, so their gradients
are finite everywhere, a row or column of zeros included.
"""

import numbers

import keras
from keras import ops

from keras_losses import _backend
from keras_losses import _config
from keras_losses import _inputs
from keras_losses import _validation


def _strength(value, x):
    return ops.cast(value, x.dtype)


def _check_axis(axis):
    """An int, or a non-empty list of distinct ints (returned as a list)."""
    expected = "an integer or a non-empty list of distinct integers"
    if isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
        return int(axis)
    if isinstance(axis, (list, tuple)) and axis:
        if all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axis):
            if len(set(int(a) for a in axis)) == len(axis):
                return [int(a) for a in axis]
    raise _validation.invalid("axis", expected, axis)


def _resolve_axis(owner, axis, x):
    """`axis` as a tuple of non-negative axes of `x`; `ValueError` if `x` lacks one."""
    rank = len(x.shape)
    axes = [axis] if isinstance(axis, int) else list(axis)
    resolved = []
    for a in axes:
        if not -rank <= a < rank:
            raise ValueError(
                f"{owner} takes norms along axis={axis}, but the weight of shape "
                f"{tuple(x.shape)} has no axis {a} (its rank is {rank}). Pass an `axis` "
                "that the weight has (a Dense kernel is (input_dim, units))."
            )
        resolved.append(a % rank)
    if len(set(resolved)) != len(resolved):
        raise ValueError(
            f"{owner} got axis={axis}, which names the same axis of a weight of shape "
            f"{tuple(x.shape)} twice."
        )
    return tuple(resolved)


def _norm(x, axis):
    """The Euclidean norm of `x` along `axis`, finite for any finite `x`, with a finite
    gradient at zero.

    Each group is divided by its largest magnitude before squaring, as safe norms
    do: `norm(x) = m * sqrt(sum((x / m)**2))`, so squares neither overflow (a weight
    of 1e20 would square to inf in float32) nor underflow. `m` is held constant for
    the gradient, which is exact because the norm is homogeneous. sqrt has an
    infinite derivative at 0, and 0 * inf is NaN: the square root is taken only of
    positive sums (zero sums give sqrt a harmless 1 instead) and the norm is set to
    0 there. At a zero group the gradient is 0, a valid subgradient of the norm.
    """
    largest = ops.stop_gradient(_backend.max_along(ops.abs(x), axis, keepdims=True))
    scale = ops.where(ops.greater(largest, 0), largest, ops.ones_like(largest))
    squares = ops.sum(ops.square(x / scale), axis=axis, keepdims=True)  # >= 1 unless 0
    positive = ops.greater(squares, 0)
    safe = ops.where(positive, squares, ops.ones_like(squares))
    norm = ops.where(positive, scale * ops.sqrt(safe), ops.zeros_like(squares))
    return ops.squeeze(norm, axis=axis)


@keras.saving.register_keras_serializable(package="keras_losses")
class L1(_config.Configurable, keras.regularizers.Regularizer):
    """L1 weight penalty (lasso): `l1 * sum(abs(w))`.

    Pushes individual weights to exactly zero (sparse weights). The same value as
    `keras.regularizers.L1`, computed in float32 for 16-bit weights.

    Args:
        l1: float >= 0, the strength. Default 0.01.

    Returns:
        Called on a weight of any shape: a scalar tensor.

    Example:

    >>> import numpy as np
    >>> print(f"{float(L1(0.1)(np.array([[1.0, -2.0], [0.5, 0.0]]))):.2f}")  # 0.1 * 3.5
    0.35
    """

    def __init__(self, l1=0.01):
        self.l1 = _validation.non_negative_float("l1", l1)

    def __call__(self, x):
        x = _inputs.floats(x)
        return _strength(self.l1, x) * ops.sum(ops.abs(x))


@keras.saving.register_keras_serializable(package="keras_losses")
class L2(_config.Configurable, keras.regularizers.Regularizer):
    """L2 weight penalty (ridge, weight decay): `l2 * sum(w**2)`, or half of it.

    With `half=False` (the default) this is `keras.regularizers.L2`. With
    `half=True` it is `l2 * sum(w**2) / 2`, the convention of CS231n and of
    `l2 * tf.nn.l2_loss(w)`, whose gradient is simply `l2 * w`. The two differ by
    a factor of 2 in the strength: `L2(l2=2 * c, half=True)` equals `L2(l2=c)`.

    Args:
        l2: float >= 0, the strength. Default 0.01.
        half: whether to halve the sum of squares. Default False.

    Returns:
        Called on a weight of any shape: a scalar tensor.

    Example:

    >>> import numpy as np
    >>> w = np.array([[1.0, -2.0], [0.5, 0.0]])  # sum of squares 5.25
    >>> print(f"{float(L2(0.1)(w)):.3f} {float(L2(0.1, half=True)(w)):.4f}")
    0.525 0.2625
    """

    def __init__(self, l2=0.01, half=False):
        self.l2 = _validation.non_negative_float("l2", l2)
        self.half = _validation.boolean("half", half)

    def __call__(self, x):
        x = _inputs.floats(x)
        strength = self.l2 / 2 if self.half else self.l2
        return _strength(strength, x) * ops.sum(ops.square(x))


@keras.saving.register_keras_serializable(package="keras_losses")
class ElasticNet(_config.Configurable, keras.regularizers.Regularizer):
    """Elastic net: `l1 * sum(abs(w)) + l2 * sum(w**2)`.

    Sparse like L1 while keeping groups of correlated weights together like L2.
    Equals `keras.regularizers.L1L2(l1, l2)` with the same factors; unlike
    `L1L2()`, whose factors default to zero, the defaults here penalize.

    Args:
        l1: float >= 0, the L1 strength. Default 0.01.
        l2: float >= 0, the L2 strength. Default 0.01.

    Returns:
        Called on a weight of any shape: a scalar tensor.

    Example:

    >>> import numpy as np
    >>> w = np.array([[1.0, -2.0], [0.5, 0.0]])
    >>> print(f"{float(ElasticNet(l1=0.1, l2=0.1)(w)):.3f}")  # 0.1 * 3.5 + 0.1 * 5.25
    0.875

    References:
        Zou and Hastie, 2005, "Regularization and variable selection via the
        elastic net".
    """

    def __init__(self, l1=0.01, l2=0.01):
        self.l1 = _validation.non_negative_float("l1", l1)
        self.l2 = _validation.non_negative_float("l2", l2)

    def __call__(self, x):
        x = _inputs.floats(x)
        return _strength(self.l1, x) * ops.sum(ops.abs(x)) + _strength(self.l2, x) * ops.sum(
            ops.square(x)
        )


@keras.saving.register_keras_serializable(package="keras_losses")
class MaxNormPenalty(_config.Configurable, keras.regularizers.Regularizer):
    """Soft max-norm: `strength * sum(max(0, norm(w, axis) - max_value)**2)`.

    Zero while every norm along `axis` stays within `max_value`; beyond it, a
    quadratic cost pulls the norm back. With the default `axis=0` on a Dense
    kernel `(input_dim, units)` the norms are those of each unit's incoming
    weights, as in `keras.constraints.MaxNorm`. That constraint is the hard
    version (it rescales the weights after every update, the max-norm of
    Srivastava et al. used with dropout); this penalty is its soft counterpart,
    which lets a norm exceed the bound at a cost and acts through the gradient.

    The gradient is finite everywhere, also where a norm is zero.

    Args:
        max_value: float >= 0, the largest norm that costs nothing. Default 3.0.
        strength: float >= 0. Default 0.01.
        axis: int or list of ints, the axis (axes) the norm is taken along.
            Default 0. A weight without that axis raises `ValueError` when the
            penalty is computed.

    Returns:
        Called on a weight: a scalar tensor.

    Example:

    >>> import numpy as np
    >>> w = np.array([[3.0, 0.0], [4.0, 1.0]])  # column norms 5 and 1
    >>> print(f"{float(MaxNormPenalty(max_value=3.0, strength=0.1)(w)):.2f}")  # 0.1 * 2**2
    0.40

    References:
        Srivastava et al., 2014, "Dropout: a simple way to prevent neural networks
        from overfitting", JMLR 15 (max-norm regularization).
    """

    def __init__(self, max_value=3.0, strength=0.01, axis=0):
        self.max_value = _validation.non_negative_float("max_value", max_value)
        self.strength = _validation.non_negative_float("strength", strength)
        self.axis = _check_axis(axis)

    def __call__(self, x):
        x = _inputs.floats(x)
        axes = _resolve_axis(f"MaxNormPenalty(axis={self.axis})", self.axis, x)
        excess = ops.relu(_norm(x, axes) - _strength(self.max_value, x))
        # strength * excess**2 as (sqrt(strength) * excess)**2: finite wherever the
        # value is (an excess of 1e20 squares to inf in float32 before 0.01 scales it)
        return ops.sum(ops.square(_strength(self.strength**0.5, x) * excess))


@keras.saving.register_keras_serializable(package="keras_losses")
class GroupLasso(_config.Configurable, keras.regularizers.Regularizer):
    """Group lasso: `strength * sum(norm(w, axis))`, one Euclidean norm per group.

    A group is a slice of the weight along the axes not in `axis`. With the
    default `axis=1` on a Dense kernel `(input_dim, units)`, each group is one row:
    all the weights leaving one input feature. The penalty drives whole rows
    towards zero, so it selects input features rather than single weights (as L1
    does). Gradient steps only approach zero (the norm has a kink there); features
    whose rows become negligible can then be pruned.

    At a zero group the gradient is 0 (a valid subgradient), never NaN.

    Args:
        strength: float >= 0. Default 0.01.
        axis: int or list of ints, the axis (axes) each norm is taken along.
            Default 1. A weight without that axis raises `ValueError` when the
            penalty is computed.

    Returns:
        Called on a weight: a scalar tensor.

    Example:

    >>> import numpy as np
    >>> w = np.array([[3.0, 4.0], [0.0, 0.0], [1.0, 0.0]])  # row norms 5, 0, 1
    >>> print(f"{float(GroupLasso(strength=0.1)(w)):.2f}")  # 0.1 * (5 + 0 + 1)
    0.60

    References:
        Yuan and Lin, 2006, "Model selection and estimation in regression with
        grouped variables", JRSS B 68(1).
    """

    def __init__(self, strength=0.01, axis=1):
        self.strength = _validation.non_negative_float("strength", strength)
        self.axis = _check_axis(axis)

    def __call__(self, x):
        x = _inputs.floats(x)
        axes = _resolve_axis(f"GroupLasso(axis={self.axis})", self.axis, x)
        return _strength(self.strength, x) * ops.sum(_norm(x, axes))
