"""Train an imbalanced classifier with the binary focal loss and a prior bias.

    python examples/focal.py

One positive in fifty. The output layer starts at the base rate with
`PriorProbability` (RetinaNet's initialisation, so the first steps are not spent
unlearning a 50% guess), and the loss is `BinaryFocalLoss` from logits, which
down-weights the many easy negatives. The script prints the starting probability,
the average precision reached on held-out data, and checks both.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_losses  # noqa: E402

POSITIVE_RATE = 0.02


def imbalanced(n=20000, features=16, seed=0):
    """Positives sit near a direction in feature space; most examples are easy negatives."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < POSITIVE_RATE).astype("float32")
    x = rng.normal(size=(n, features)).astype("float32")
    x[:, :4] += 1.5 * y[:, None]  # the signal: four features shift for positives
    return x, y[:, None]


def average_precision(y, scores):
    """Area under the precision-recall curve, as the mean precision at each positive."""
    order = np.argsort(-scores)
    hits = y[order] == 1
    precision_at_hit = np.cumsum(hits)[hits] / (np.flatnonzero(hits) + 1)
    return float(precision_at_hit.mean())


def main():
    keras.utils.set_random_seed(0)
    x, y = imbalanced()
    x_train, y_train, x_test, y_test = x[:15000], y[:15000], x[15000:], y[15000:]

    model = keras.Sequential([
        keras.Input((x.shape[1],)),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(
            1,
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
            bias_initializer=keras_losses.PriorProbability(POSITIVE_RATE),
        ),  # a logit: no sigmoid
    ])
    start = float(np.mean(keras.ops.convert_to_numpy(keras.ops.sigmoid(model(x_test)))))
    print(f"before training: mean predicted probability {start:.4f} (positive rate {POSITIVE_RATE})")

    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras_losses.BinaryFocalLoss(gamma=2.0, alpha=None, from_logits=True),
    )
    history = model.fit(x_train, y_train, epochs=5, batch_size=256, verbose=0)
    scores = model.predict(x_test, verbose=0)[:, 0]
    ap = average_precision(y_test[:, 0], scores)
    losses = history.history["loss"]
    print(f"trained: focal loss {losses[0]:.4f} -> {losses[-1]:.4f}; held-out average precision {ap:.3f} "
          f"(a random ranking scores about {y_test.mean():.3f})")

    if not (abs(start - POSITIVE_RATE) < 0.005 and losses[-1] < losses[0] and ap > 5 * y_test.mean()):
        print("the example did not reach its targets", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
