"""The pinball (quantile) loss, for one quantile or one output per quantile."""

import numbers

import keras
from keras import ops

from keras_losses import _inputs
from keras_losses import _validation
from keras_losses.losses.base import Loss

_EXPECTED = "a float in (0, 1) or a non-empty list of them"


def _check_quantiles(quantiles):
    """A float in (0, 1), or a list of them (kept a list, so the config is JSON)."""
    if isinstance(quantiles, (list, tuple)) or hasattr(quantiles, "tolist"):
        values = quantiles.tolist() if hasattr(quantiles, "tolist") else list(quantiles)
        if not isinstance(values, list):  # a 0-d array
            values = [values]
            return _check_quantiles(values[0])
        if not values or any(isinstance(v, (list, tuple)) for v in values):
            raise _validation.invalid("quantiles", _EXPECTED, quantiles)
        checked = []
        for value in values:
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise _validation.invalid("quantiles", _EXPECTED, quantiles)
            if not 0.0 < float(value) < 1.0:
                raise _validation.invalid("quantiles", _EXPECTED, quantiles)
            checked.append(float(value))
        return checked
    if isinstance(quantiles, bool) or not isinstance(quantiles, numbers.Real):
        raise _validation.invalid("quantiles", _EXPECTED, quantiles)
    if not 0.0 < float(quantiles) < 1.0:
        raise _validation.invalid("quantiles", _EXPECTED, quantiles)
    return float(quantiles)


def _quantile_pair(y_true, y_pred, count):
    """`y_pred (..., count)` and `y_true` broadcastable to it: `(...)`, `(..., 1)` or
    `(..., count)`."""
    y_pred = _inputs.floats(y_pred)
    y_true = _inputs.floats(y_true, y_pred.dtype)
    pred_shape, true_shape = tuple(y_pred.shape), tuple(y_true.shape)
    if not pred_shape or pred_shape[-1] not in (None, count):
        raise ValueError(
            f"Shapes of `y_true` {true_shape} and `y_pred` {pred_shape} are incompatible: "
            f"with {count} quantiles `y_pred` must have {count} outputs on its last axis."
        )
    if len(true_shape) == len(pred_shape) - 1:
        y_true = ops.expand_dims(y_true, -1)
        true_shape = true_shape + (1,)
    leading_ok = len(true_shape) == len(pred_shape) and all(
        a is None or b is None or a == b for a, b in zip(true_shape[:-1], pred_shape[:-1])
    )
    if not leading_ok or true_shape[-1] not in (None, 1, count):
        raise ValueError(
            f"Shapes of `y_true` {true_shape} and `y_pred` {pred_shape} are incompatible: "
            f"`y_true` must be `y_pred`'s shape without its quantile axis (or with 1 or "
            f"{count} there)."
        )
    return y_true, y_pred


@keras.saving.register_keras_serializable(package="keras_losses")
def pinball_loss(y_true, y_pred, *, quantiles=0.5):
    """The pinball (quantile) loss, averaged over the last axis.

    With `u = y_true - y_pred` and quantile `q`:

        pinball(u) = max(q * u, (q - 1) * u)

    Under-predictions cost `q` per unit, over-predictions `1 - q`: the minimiser is
    the `q`-quantile of `y_true` given the inputs (`q = 0.5`: half the absolute error,
    the median). With one quantile `y_pred` has the shape of `y_true` (TFA's
    `PinballLoss(tau=q)`). With a list of `K` quantiles, `y_pred` has `K` outputs on
    its last axis, output `k` for quantile `k`, and `y_true` is broadcast against
    them; the value is the mean over the `K` quantiles.

    Args:
        y_true: targets `(batch, ...)`; with a list of quantiles, `y_pred`'s shape
            without the last axis (or with 1 there).
        y_pred: predictions, `(batch, ...)` or `(batch, ..., K)`.
        quantiles: a float in (0, 1), or a list of `K` of them.

    Returns:
        Float tensor `(batch, ...)`: `y_pred`'s shape without its last axis.

    Example:

    >>> import numpy as np
    >>> y_true = np.array([[1.0, 9.0, 2.0], [-5.0, -2.0, 6.0]])
    >>> y_pred = np.array([[4.0, 8.0, 12.0], [8.0, 1.0, 3.0]])
    >>> float(np.mean(pinball_loss(y_true, y_pred, quantiles=0.5)))  # TFA's test
    2.75
    >>> loss = pinball_loss(np.array([1.0]), np.array([[0.0, 2.0]]), quantiles=[0.1, 0.9])
    >>> print(f"{float(loss[0]):.2f}")  # (0.1 * 1 + 0.1 * 1) / 2
    0.10

    References:
        Koenker and Bassett, 1978, "Regression Quantiles", Econometrica 46(1).
    """
    quantiles = _check_quantiles(quantiles)
    if isinstance(quantiles, list):
        y_true, y_pred = _quantile_pair(y_true, y_pred, len(quantiles))
        q = ops.convert_to_tensor(quantiles, dtype=y_pred.dtype)
    else:
        y_true, y_pred = _inputs.dense_pair(y_true, y_pred)
        q = quantiles
    error = y_true - y_pred
    return ops.mean(ops.maximum(q * error, (q - 1.0) * error), axis=-1)


@keras.saving.register_keras_serializable(package="keras_losses")
class PinballLoss(Loss):
    """The pinball (quantile) loss for one quantile or one output per quantile.

    See `pinball_loss`. `PinballLoss(quantiles=q)` is TFA's `PinballLoss(tau=q)`;
    `PinballLoss(quantiles=[0.1, 0.5, 0.9])` trains a model with three outputs, one
    per quantile, against one target.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> model.compile(optimizer="adam", loss=PinballLoss(quantiles=[0.1, 0.5, 0.9]))
    """

    function = staticmethod(pinball_loss)

    def __init__(self, quantiles=0.5, reduction="sum_over_batch_size", name="pinball_loss", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.quantiles = _check_quantiles(quantiles)
