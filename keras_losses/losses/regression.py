"""Regression losses."""

import keras
from keras import ops

from keras_losses import _inputs
from keras_losses.losses.base import function_twin
from keras_losses.losses.base import Loss


@function_twin
def mean_squared_logarithmic_error(y_true, y_pred):
    """Mean squared error between `log(1 + y_true)` and `log(1 + y_pred)`.

    For targets spread over orders of magnitude (counts, prices, durations): an
    error is measured relative to the size of the target, so predicting 110 for 100
    costs about as much as 1.1 for 1, and under-prediction costs a little more than
    over-prediction.

        loss = mean(square(log1p(y_pred) - log1p(y_true)), axis=-1)

    Both inputs are meant to be non-negative. Negative values are clipped to 0 before
    the logarithm, as the Keras built-in does (it clips to 1e-7): a negative
    prediction then has a zero gradient, so give the model a non-negative output
    activation (softplus, relu, exp) rather than relying on the clip.

    Args:
        y_true: float tensor of non-negative targets, `(batch, ...)`.
        y_pred: float tensor of non-negative predictions, the shape of `y_true`.

    Returns:
        Float tensor `(batch, ...)`: the mean over the last axis, one value per
        example (a rank-1 input counts as one output per example).

    Example:

    >>> import numpy as np
    >>> loss = mean_squared_logarithmic_error(np.array([[0.0, 9.0]]), np.array([[0.0, 99.0]]))
    >>> print(f"{float(loss[0]):.4f}")  # (log(100) - log(10))**2 / 2
    2.6509
    """
    y_true, y_pred = _inputs.dense_pair(y_true, y_pred)
    difference = ops.log1p(ops.relu(y_pred)) - ops.log1p(ops.relu(y_true))
    return ops.mean(ops.square(difference), axis=-1)


@keras.saving.register_keras_serializable(package="keras_losses")
class MeanSquaredLogarithmicError(Loss):
    """Mean squared logarithmic error: `mean(square(log1p(y_pred) - log1p(y_true)))`.

    See `mean_squared_logarithmic_error` for the formula and what negative inputs
    do. Equals `keras.losses.MeanSquaredLogarithmicError` on non-negative inputs.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.layers.Dense(1, activation="softplus")])
    >>> model.compile(optimizer="adam", loss=MeanSquaredLogarithmicError())
    """

    function = staticmethod(mean_squared_logarithmic_error)

    def __init__(
        self,
        reduction="sum_over_batch_size",
        name="mean_squared_logarithmic_error",
        dtype=None,
    ):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
