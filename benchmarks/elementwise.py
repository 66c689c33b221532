"""Forward and backward of MSLE and SquaredHinge on 2**24 float32 values.

Against the Keras built-ins and a memory-bandwidth floor, in tf.function and XLA,
all in one run. The floor is one fused XLA pass over the same bytes a loss step
must move at least: read y_true and y_pred, write a gradient of the same size
(`sum(a * b)` and `a - b`). Goals: ours under XLA at most 2x the floor, and never
slower than the built-in in the same mode.

    python benchmarks/elementwise.py [--quick] [--repeats N]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import harness  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_losses  # noqa: E402


def main():
    args = harness.arguments(__doc__.splitlines()[0])
    import tensorflow as tf

    size = 2**16 if args.quick else 2**24
    shape = (size // 16, 16)
    rng = np.random.default_rng(0)
    data = {
        "MeanSquaredLogarithmicError": (
            rng.uniform(0, 10, shape).astype("float32"),
            rng.uniform(0, 10, shape).astype("float32"),
            keras_losses.MeanSquaredLogarithmicError(),
            keras.losses.MeanSquaredLogarithmicError(),
        ),
        "SquaredHinge": (
            rng.choice([-1.0, 1.0], shape).astype("float32"),
            rng.normal(size=shape).astype("float32"),
            keras_losses.SquaredHinge(),
            keras.losses.SquaredHinge(),
        ),
    }

    def step(loss):
        def run(y_true, y_pred):
            with tf.GradientTape() as tape:
                tape.watch(y_pred)
                value = loss(y_true, y_pred)
            return value, tape.gradient(value, y_pred)

        return run

    def floor(a, b):
        return tf.reduce_sum(a * b), a - b

    harness.header(f"Loss value and gradient on {size} float32 values (2**{size.bit_length() - 1})")
    rows = []
    for name, (y_true, y_pred, ours, builtin) in data.items():
        y_true, y_pred = tf.constant(y_true), tf.constant(y_pred)
        floor_time = harness.median_seconds(
            lambda f=tf.function(floor, jit_compile=True): f(y_true, y_pred), args.repeats
        )
        for mode, jit in (("tf.function", False), ("xla", True)):
            ours_fn = tf.function(step(ours), jit_compile=jit)
            theirs_fn = tf.function(step(builtin), jit_compile=jit)
            ours_time = harness.median_seconds(lambda: ours_fn(y_true, y_pred), args.repeats)
            theirs_time = harness.median_seconds(lambda: theirs_fn(y_true, y_pred), args.repeats)
            rows.append(
                {
                    "loss": name,
                    "mode": mode,
                    "ours ms": ours_time * 1e3,
                    "built-in ms": theirs_time * 1e3,
                    "floor ms": floor_time * 1e3,
                    "ours / built-in": ours_time / theirs_time,
                    "ours / floor": ours_time / floor_time,
                }
            )
    harness.table(rows, ["loss", "mode", "ours ms", "built-in ms", "floor ms", "ours / built-in", "ours / floor"])
    print("goals: xla ours / floor <= 2; ours / built-in <= 1 (within noise) in each mode")


if __name__ == "__main__":
    main()
