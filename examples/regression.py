"""Fit targets that span four orders of magnitude with the squared log error.

    python examples/regression.py

Prices, counts and durations are often spread over orders of magnitude. The mean
squared error is then dominated by the largest targets, and a model trained with it
is wrong by large factors on the small ones. `MeanSquaredLogarithmicError` compares
`log1p` of target and prediction, so it charges relative errors. The script trains
the same network with both and prints the median relative error on small and on
large held-out targets.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_losses  # noqa: E402


def wide_targets(n=6000, seed=0):
    """y = exp(a linear function of x): from about 1 to about 10,000."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 3)).astype("float32")
    y = np.exp(4.6 + x @ np.array([3.0, 1.2, 0.4]) + 0.05 * rng.normal(size=n)).astype("float32")
    return x, y[:, None]


def train(loss, x, y):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((x.shape[1],)),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(1, activation="softplus"),  # MSLE needs predictions > -1: keep them positive
    ])
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=loss)
    model.fit(x, y, epochs=15, batch_size=128, verbose=0)
    return model


def main():
    x, y = wide_targets()
    x_train, y_train, x_test, y_test = x[:5000], y[:5000], x[5000:], y[5000:]
    small, large = y_test[:, 0] < np.quantile(y_test, 0.25), y_test[:, 0] > np.quantile(y_test, 0.75)
    errors = {}
    for name, loss in [("MSE", keras.losses.MeanSquaredError()),
                       ("MSLE", keras_losses.MeanSquaredLogarithmicError())]:
        prediction = train(loss, x_train, y_train).predict(x_test, verbose=0)
        relative = np.abs(prediction - y_test)[:, 0] / y_test[:, 0]
        errors[name] = (np.median(relative[small]), np.median(relative[large]))
        print(f"{name:4s}: median relative error {errors[name][0]:6.1%} on the smallest quarter of targets, "
              f"{errors[name][1]:6.1%} on the largest quarter")

    if not errors["MSLE"][0] < errors["MSE"][0]:
        print("the example did not reach its target: MSLE should be more accurate on small targets",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
