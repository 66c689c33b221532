"""Regularize a model that is already built, and watch what the penalty costs.

    python examples/regularization.py

A small network learns a target that depends on 5 of its 40 inputs (the other 35
are noise). `keras_losses.regularizers.apply` adds a `GroupLasso` penalty (one group
per input feature: a row of the first kernel) to the already-built model, without
touching its weights; `DataLoss` and `LogRegularizationLoss` log the data loss and
the penalty separately. The first layer's row norms then show which inputs each
network uses: with the penalty, the noise inputs are all but switched off.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_losses  # noqa: E402
from keras_losses.regularizers import DataLoss  # noqa: E402
from keras_losses.regularizers import LogRegularizationLoss  # noqa: E402

REAL, NOISE = 5, 35


def data(n=1200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, REAL + NOISE)).astype("float32")
    y = np.sin(x[:, 0]) + x[:, 1] * x[:, 2] + np.abs(x[:, 3]) - x[:, 4] + 0.1 * rng.normal(size=n)
    return x, y.astype("float32")[:, None]


def build():
    return keras.Sequential([
        keras.Input((REAL + NOISE,)),
        keras.layers.Dense(32, activation="relu", name="first"),
        keras.layers.Dense(1),
    ])


def noise_to_signal(model):
    """Median row norm of the first kernel over noise inputs, divided by that over real inputs."""
    norms = np.linalg.norm(keras.ops.convert_to_numpy(model.get_layer("first").kernel), axis=1)
    return float(np.median(norms[REAL:]) / np.median(norms[:REAL]))


def main():
    keras.utils.set_random_seed(0)
    x, y = data()
    fit = dict(validation_split=0.25, epochs=40, batch_size=64, verbose=0)

    plain = build()
    plain.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
    plain_logs = plain.fit(x, y, **fit).history

    base = build()  # built, without any regularizer: apply() rebuilds it with one
    model = keras_losses.regularizers.apply(
        base, kernel=keras_losses.GroupLasso(0.01, axis=1), layer_types=(keras.layers.Dense,)
    )
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse", weighted_metrics=[DataLoss("mse")])
    logs = model.fit(x, y, callbacks=[LogRegularizationLoss()], **fit).history
    print(f"with GroupLasso, last epoch: loss {logs['loss'][-1]:.3f} = data loss {logs['data_loss'][-1]:.3f} "
          f"+ penalty {logs['regularization_loss'][-1]:.3f}")
    print(f"validation data loss: {plain_logs['val_loss'][-1]:.3f} without the penalty, "
          f"{logs['val_data_loss'][-1]:.3f} with it")
    ratios = noise_to_signal(plain), noise_to_signal(model)
    print(f"first-layer row norms, noise inputs over real inputs (medians): {ratios[0]:.2f} without the penalty, "
          f"{ratios[1]:.2f} with it")

    if not (ratios[1] < 0.7 * ratios[0] and logs["regularization_loss"][-1] > 0):
        print("the example did not reach its targets", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
