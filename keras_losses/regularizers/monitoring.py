"""Data loss beside regularization loss in the training logs and `History`.

Keras logs one `loss`: the data loss plus every penalty in `model.losses`. To see
what the penalties cost, compile with `DataLoss` (the same loss as a weighted
metric, logged as `data_loss`, averaged over an epoch exactly as Keras averages
`loss`) and, for a `regularization_loss` entry of its own, add the
`LogRegularizationLoss` callback:

    model.compile(optimizer="adam", loss="mse", weighted_metrics=[DataLoss("mse")])
    history = model.fit(x, y, validation_split=0.2, callbacks=[LogRegularizationLoss()])
    history.history["loss"]                     # data + penalties
    history.history["data_loss"]                # data only
    history.history["regularization_loss"]      # loss - data_loss
    history.history["val_regularization_loss"]

`DataLoss` runs inside the compiled train and test steps on every backend: it
needs no access to the model, only `(y_true, y_pred, sample_weight)`, as every
metric gets. The penalties cannot be read reliably from a metric (on JAX the
weights are state passed through the step, not what a metric sees), but they are
exactly `loss - data_loss`: both are means over the same batches, weighted by
batch size.
"""

import keras
from keras import ops

from keras_losses import _backend
from keras_losses import _config
from keras_losses import _validation


def _loss_object(loss):
    """A `keras.losses.Loss` for `loss` (an object, a Keras name, or a function)."""
    resolved = keras.losses.get(loss)
    if isinstance(resolved, keras.losses.Loss):
        return resolved
    if callable(resolved):  # a plain function: reduced the way `compile` reduces it
        return _FunctionLoss(resolved)
    raise _validation.invalid("loss", "a Keras loss (an object, its name or a loss function)", loss)


class _FunctionLoss(keras.losses.Loss):
    """A loss function with Keras's default reduction, as `compile` wraps one."""

    def __init__(self, fn):
        super().__init__(name=getattr(fn, "__name__", "loss"))
        self.fn = fn

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred)


@keras.saving.register_keras_serializable(package="keras_losses")
class DataLoss(_config.Configurable, keras.metrics.Mean):
    """The compiled loss without the penalties, as a metric: logged as `data_loss`.

    Pass the same loss as to `compile`, in `weighted_metrics` (Keras gives sample
    weights and class weights to those only; under `metrics` the data loss would
    ignore them). Each batch it computes
    `loss(y_true, y_pred, sample_weight)` with that loss's own reduction and
    averages it over the epoch weighted by batch size, exactly as Keras averages
    the logged `loss`; the difference `loss - data_loss` is therefore the mean
    regularization loss of the epoch (`LogRegularizationLoss` logs it). For a
    model with several outputs Keras already logs each output's data loss
    (`<output>_loss`).

    Args:
        loss: the compiled loss: a `keras.losses.Loss`, a Keras loss name such as
            `"mse"`, or a loss function.
        name: the name in the logs. Default `"data_loss"`.
        dtype: the metric's dtype. Default `None` (float32).

    Example:

    >>> import keras, numpy as np
    >>> from keras_losses.regularizers import DataLoss, L2
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(
    ...     1, kernel_initializer="ones", kernel_regularizer=L2(0.5))])
    >>> model.compile(loss="mse", weighted_metrics=[DataLoss("mse")])
    >>> logs = model.evaluate(np.zeros((4, 2)), np.ones((4, 1)), return_dict=True, verbose=0)
    >>> print(f"{logs['loss']:.1f} {logs['data_loss']:.1f}")  # 1 + 0.5 * 2, and 1
    2.0 1.0
    """

    def __init__(self, loss, name="data_loss", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.loss = loss
        self._loss = _loss_object(loss)

    def update_state(self, y_true, y_pred, sample_weight=None):
        value = self._loss(y_true, y_pred, sample_weight)
        value = _backend.unscale_loss_for_distribution(ops.cast(value, self.dtype))
        batch = ops.cast(ops.shape(keras.tree.flatten(y_pred)[0])[0], self.dtype)
        super().update_state(value, sample_weight=batch)


@keras.saving.register_keras_serializable(package="keras_losses")
class LogRegularizationLoss(_config.Configurable, keras.callbacks.Callback):
    """Adds `regularization_loss = loss - data_loss` to the epoch logs of `fit`.

    Needs `DataLoss` among the compiled metrics. At the end of every epoch the
    logs, and so `History`, the progress bar and later callbacks (CSVLogger,
    TensorBoard), get `regularization_loss` and, with validation data,
    `val_regularization_loss`: the mean penalty over the epoch's batches. It reads
    only the logged numbers: no extra computation, the same on every backend. (For
    `evaluate`, whose returned dict callbacks cannot extend, take
    `logs["loss"] - logs["data_loss"]`.)

    Args:
        data_loss: the name `DataLoss` was given. Default `"data_loss"`.
        name: the name of the new entry. Default `"regularization_loss"`.

    Example:

    >>> import keras, numpy as np
    >>> from keras_losses.regularizers import DataLoss, L2, LogRegularizationLoss
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(
    ...     1, kernel_initializer="ones", kernel_regularizer=L2(0.5))])
    >>> model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse",
    ...               weighted_metrics=[DataLoss("mse")])
    >>> history = model.fit(np.zeros((4, 2)), np.ones((4, 1)), verbose=0,
    ...                     callbacks=[LogRegularizationLoss()])
    >>> penalty = history.history["regularization_loss"]
    >>> print(f"{penalty[0]:.1f}")  # 0.5 * (1 + 1)
    1.0
    """

    def __init__(self, data_loss="data_loss", name="regularization_loss"):
        super().__init__()
        self.data_loss = _validation.non_empty_string("data_loss", data_loss)
        self.name = _validation.non_empty_string("name", name)

    @property
    def async_safe(self):  # reads the logs at the end of an epoch only
        return True

    def _add(self, logs, prefix=""):
        if logs is None or f"{prefix}loss" not in logs:
            return
        if f"{prefix}{self.data_loss}" not in logs:
            raise ValueError(
                f"LogRegularizationLoss found no {prefix}{self.data_loss!r} in the logs "
                f"{sorted(logs)}. Compile the model with the data loss as a metric: "
                "model.compile(..., weighted_metrics=[keras_losses.regularizers.DataLoss(loss)])."
            )
        logs[f"{prefix}{self.name}"] = logs[f"{prefix}loss"] - logs[f"{prefix}{self.data_loss}"]

    def on_epoch_end(self, epoch, logs=None):
        self._add(logs)
        if logs is not None and "val_loss" in logs:
            self._add(logs, "val_")
