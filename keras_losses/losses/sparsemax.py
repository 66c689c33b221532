"""The sparsemax loss of Martins & Astudillo, the loss whose gradient is sparsemax(z) - y."""

import keras
from keras import ops

from keras_losses import _inputs
from keras_losses import _validation
from keras_losses.losses.base import Loss


def _threshold_and_support(z):
    """sparsemax's threshold tau(z) and support S(z) along the last axis.

    With z sorted in descending order, k(z) = max{k : 1 + k z_(k) > sum_{j<=k} z_(j)},
    S(z) = {j : z_j >= z_(k(z))} and tau(z) = (sum_{j in S} z_j - 1) / k(z). The
    support is found without gradient; tau is differentiated through the sum.
    """
    fixed = ops.stop_gradient(z)
    ordered = -ops.sort(-fixed, axis=-1)
    cumulative = ops.cumsum(ordered, axis=-1)
    k = ops.cast(ops.arange(1, ops.shape(z)[-1] + 1), z.dtype)
    inside = ops.greater(1.0 + k * ordered, cumulative)
    size = ops.sum(ops.cast(inside, "int32"), axis=-1, keepdims=True)
    last = ops.take_along_axis(ordered, ops.maximum(size - 1, 0), axis=-1)
    support = ops.greater_equal(fixed, last)
    z_support = ops.where(support, z, 0.0)
    tau = (ops.sum(z_support, axis=-1, keepdims=True) - 1.0) / ops.cast(size, z.dtype)
    return tau, support, z_support


@keras.saving.register_keras_serializable(package="keras_losses")
def sparsemax_loss(y_true, y_pred, *, from_logits=True, axis=-1):
    """The sparsemax loss: sparsemax's counterpart of softmax cross-entropy.

    For logits `z` and a target distribution `y` (one-hot for a class):

        loss = -y.z + 1/2 * sum_{j in S(z)} (z_j^2 - tau(z)^2) + 1/2 * |y|^2

    where `sparsemax(z) = max(z - tau(z), 0)` is the paper's projection onto the
    simplex (what `keras.ops.sparsemax` computes once keras-team/keras#23469 is in:
    up to Keras 3.15.1 its threshold is wrong when the support has several classes)
    and `S(z)` is its support. It is non-negative, zero exactly when
    `sparsemax(z) = y`, and its gradient with respect to `z` is `sparsemax(z) - y`.
    Logits of `-inf` (masked classes) that the target does not hold cost nothing, as
    in TFA.

    Args:
        y_true: target distributions (one-hot labels), the shape of `y_pred`.
        y_pred: logits, `(batch, ..., classes)`.
        from_logits: must be `True`: the loss is defined on logits, as TFA's
            `SparsemaxLoss` is (probabilities from sparsemax cannot be inverted).
        axis: the class axis.

    Returns:
        Float tensor: `y_pred`'s shape without `axis`.

    Example:

    >>> import numpy as np
    >>> loss = sparsemax_loss(np.array([[0.0, 1.0]]), np.array([[0.0, 2.0]]))
    >>> float(loss[0])  # sparsemax([0, 2]) = [0, 1]: the target exactly
    0.0
    >>> loss = sparsemax_loss(np.array([[1.0, 0.0]]), np.array([[0.0, 0.5]]))
    >>> float(loss[0])  # tau = -0.25: -0 + (0 - 1/16 + 1/4 - 1/16)/2 + 1/2
    0.5625

    References:
        Martins and Astudillo, 2016, "From Softmax to Sparsemax: A Sparse Model of
        Attention and Multi-Label Classification", https://arxiv.org/abs/1602.02068
    """
    _check_from_logits(from_logits)
    axis = _validation.integer("axis", axis)
    y_true, y_pred = _inputs.dense_pair(y_true, y_pred)
    z = ops.moveaxis(y_pred, axis, -1)
    y = ops.moveaxis(y_true, axis, -1)
    # Shifted by c = max(z): the loss at z is the loss at z - c plus c * (1 - sum(y))
    # (tau shifts by c and sum over S of (z_j - tau) is 1). Unshifted, tau = z_max - 1
    # rounds to z_max for |z| >~ 1e8 in float32: the support came out empty
    # (tau = inf, loss -inf) or the 1 was lost (logits [0, 0, 1e15], class 0: 0.5,
    # not 1e15).
    # (-inf logits, masked classes, do not count; `initial` lets an empty batch through.)
    lowest = -3.4028234663852886e38
    c = ops.stop_gradient(
        ops.max(ops.where(ops.isfinite(z), z, lowest), axis=-1, keepdims=True, initial=lowest)
    )
    z = z - c
    tau, support, z_support = _threshold_and_support(z)
    # z_j^2 - tau^2 = (z_j - tau)(z_j + tau), over the support only.
    spread = ops.where(support, (z_support - tau) * (z_support + tau), 0.0)
    # A class the target does not hold adds nothing, even at a logit of -inf.
    z_target = ops.where(ops.equal(y, 0.0), 0.0, z)
    return (
        0.5 * ops.sum(spread, axis=-1)
        - ops.sum(y * z_target, axis=-1)
        + 0.5 * ops.sum(ops.square(y), axis=-1)
        + ops.squeeze(c, -1) * (1.0 - ops.sum(y, axis=-1))
    )


def _check_from_logits(from_logits):
    if from_logits is not True:
        raise _validation.invalid(
            "from_logits", "True (the sparsemax loss is defined on logits)", from_logits
        )
    return True


@keras.saving.register_keras_serializable(package="keras_losses")
class SparsemaxLoss(Loss):
    """The sparsemax loss (Martins & Astudillo 2016, TFA `SparsemaxLoss`).

    See `sparsemax_loss`. `y_pred` holds logits; the model's probabilities are then
    their sparsemax (`keras.ops.sparsemax`, see the note in `sparsemax_loss`), which
    this loss trains towards `y_true` (one-hot labels or target distributions).

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> model.compile(optimizer="adam", loss=SparsemaxLoss())
    >>> # predict: keras.ops.sparsemax(model(x)) gives sparse probabilities
    """

    function = staticmethod(sparsemax_loss)

    def __init__(
        self, from_logits=True, axis=-1, reduction="sum_over_batch_size", name="sparsemax_loss",
        dtype=None,
    ):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.from_logits = _check_from_logits(from_logits)
        self.axis = _validation.integer("axis", axis)

    def class_axis(self):
        return self.axis
