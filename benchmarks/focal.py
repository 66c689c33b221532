"""Forward and backward of the focal losses on 2**22 logits, against the built-ins.

In one run, side by side (round-robin, so the ratios hold on a busy machine), in
tf.function and in XLA:

* binary: `BinaryFocalLoss(from_logits=True)` (gamma 2, and 0.5, which takes the
  exp/log path) against `keras.losses.BinaryFocalCrossentropy(from_logits=True,
  apply_class_balancing=True)` and plain `keras.losses.BinaryCrossentropy(from_logits=True)`;
* categorical: `CategoricalFocalLoss(from_logits=True)` and
  `SparseCategoricalFocalLoss(from_logits=True)` against
  `keras.losses.CategoricalFocalCrossentropy(from_logits=True)` and plain
  `keras.losses.CategoricalCrossentropy(from_logits=True)`.

Goals: ours / built-in focal <= 1 in each mode; binary under XLA ours / BCE <= 2.

Transcendental functions per element (forward; the backward reuses them):
BCE 2 (exp, log1p); ours with a whole-number gamma 2 (the same exp and log1p, the
factor by multiplication); ours with another gamma 4 (+ log, exp); the built-in
binary focal 4 on TensorFlow (sigmoid's exp, exp and log1p of the cross-entropy
from logits, and pow) where XLA does not fold pow(x, 2) into a product. Softmax
forms: ours 1 exp per element (+ 1 log1p and 1 exp for a fractional gamma);
the built-in 3 (exp, log, pow). On a CPU these dominate the cost, so the floor for
ours is about 1x BCE with a whole-number gamma and about 2x with a fractional one.

    python benchmarks/focal.py [--quick] [--repeats N]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import harness  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_losses  # noqa: E402

CLASSES = 64


def main():
    args = harness.arguments(__doc__.splitlines()[0])
    import tensorflow as tf

    size = 2**14 if args.quick else 2**22
    shape = (size // CLASSES, CLASSES)
    rng = np.random.default_rng(0)
    logits = tf.constant(rng.normal(0.0, 3.0, shape).astype("float32"))
    binary_labels = tf.constant((rng.random(shape) < 0.1).astype("float32"))
    classes = rng.integers(0, CLASSES, shape[0])
    one_hot = tf.constant(np.eye(CLASSES, dtype="float32")[classes])
    sparse = tf.constant(classes.astype("int32"))

    groups = {
        "binary": (
            binary_labels,
            {
                "BinaryCrossentropy": (binary_labels, keras.losses.BinaryCrossentropy(from_logits=True)),
                "keras BinaryFocalCrossentropy": (
                    binary_labels,
                    keras.losses.BinaryFocalCrossentropy(from_logits=True, apply_class_balancing=True),
                ),
                "ours BinaryFocalLoss": (binary_labels, keras_losses.BinaryFocalLoss(from_logits=True)),
                "ours BinaryFocalLoss(gamma=0.5)": (
                    binary_labels,
                    keras_losses.BinaryFocalLoss(gamma=0.5, from_logits=True),
                ),
            },
            ("BinaryCrossentropy", "keras BinaryFocalCrossentropy"),
        ),
        "categorical": (
            one_hot,
            {
                "CategoricalCrossentropy": (one_hot, keras.losses.CategoricalCrossentropy(from_logits=True)),
                "keras CategoricalFocalCrossentropy": (
                    one_hot,
                    keras.losses.CategoricalFocalCrossentropy(from_logits=True),
                ),
                "ours CategoricalFocalLoss": (
                    one_hot,
                    keras_losses.CategoricalFocalLoss(alpha=0.25, from_logits=True),
                ),
                "ours CategoricalFocalLoss(gamma=0.5)": (
                    one_hot,
                    keras_losses.CategoricalFocalLoss(gamma=0.5, alpha=0.25, from_logits=True),
                ),
                "ours SparseCategoricalFocalLoss": (
                    sparse,
                    keras_losses.SparseCategoricalFocalLoss(alpha=0.25, from_logits=True),
                ),
            },
            ("CategoricalCrossentropy", "keras CategoricalFocalCrossentropy"),
        ),
    }

    def step(loss):
        def run(y_true, y_pred):
            with tf.GradientTape() as tape:
                tape.watch(y_pred)
                value = loss(y_true, y_pred)
            return value, tape.gradient(value, y_pred)

        return run

    harness.header(
        f"Loss value and gradient on {size} float32 logits (2**{size.bit_length() - 1}), "
        f"shape {shape}"
    )
    rows = []
    for group, (_, losses, (plain, builtin)) in groups.items():
        for mode, jit in (("tf.function", False), ("xla", True)):
            fns = {}
            for name, (y_true, loss) in losses.items():
                compiled = tf.function(step(loss), jit_compile=jit)
                fns[name] = lambda f=compiled, y=y_true: f(y, logits)
            times = harness.compare(fns, args.repeats)
            for name, seconds in times.items():
                rows.append(
                    {
                        "group": group,
                        "mode": mode,
                        "loss": name,
                        "ms": seconds * 1e3,
                        "/ plain CE": seconds / times[plain],
                        "/ keras focal": seconds / times[builtin],
                    }
                )
    harness.table(rows, ["group", "mode", "loss", "ms", "/ plain CE", "/ keras focal"])
    print(
        "goals: ours / keras focal <= 1 in each mode; binary ours / plain CE <= 2 under xla "
        "(floor: ~1x with a whole-number gamma, ~2x with a fractional one)"
    )


if __name__ == "__main__":
    main()
