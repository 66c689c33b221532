"""Forward and backward of MSLE and SquaredHinge on 2**24 float32 values.

Against the Keras built-ins and a memory-bandwidth floor, in tf.function and XLA,
all in one run, timed round-robin. Two floors, each one fused XLA pass:

* bandwidth floor: `a - b`, the bytes any loss step must move at least (read y_true
  and y_pred, write a gradient of the same size), with no arithmetic to speak of;
* arithmetic floor: the loss's own gradient formula in one pass (for MSLE two
  `log1p` and a division per element), i.e. what a perfectly fused step would cost.

Goals: ours under XLA at most 2x the bandwidth floor, and never slower than the
built-in in the same mode.

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
            # d/dp mean((log1p(p) - log1p(t))**2): two log1p and a division
            lambda t, p: 2.0 * (tf.math.log1p(p) - tf.math.log1p(t)) / (1.0 + p),
        ),
        "SquaredHinge": (
            rng.choice([-1.0, 1.0], shape).astype("float32"),
            rng.normal(size=shape).astype("float32"),
            keras_losses.SquaredHinge(),
            keras.losses.SquaredHinge(),
            # d/dp mean(relu(1 - t * p)**2)
            lambda t, p: -2.0 * t * tf.nn.relu(1.0 - t * p),
        ),
    }

    def bandwidth(a, b):
        return a - b

    harness.header(f"Loss value and gradient on {size} float32 values (2**{size.bit_length() - 1})")
    rows = []
    for name, (y_true, y_pred, ours, builtin, gradient_formula) in data.items():
        y_true, y_pred = tf.constant(y_true), tf.constant(y_pred)
        fns = {
            "bandwidth": tf.function(bandwidth, jit_compile=True),
            "arithmetic": tf.function(gradient_formula, jit_compile=True),
        }
        for mode, jit in (("tf.function", False), ("xla", True)):
            fns[f"ours {mode}"] = tf.function(harness.value_and_gradient(ours), jit_compile=jit)
            fns[f"built-in {mode}"] = tf.function(harness.value_and_gradient(builtin), jit_compile=jit)
        times = harness.compare(
            {key: (lambda fn=fn: fn(y_true, y_pred)) for key, fn in fns.items()}, args.repeats
        )
        for mode in ("tf.function", "xla"):
            ours_time, theirs_time = times[f"ours {mode}"], times[f"built-in {mode}"]
            rows.append(
                {
                    "loss": name,
                    "mode": mode,
                    "ours ms": ours_time * 1e3,
                    "built-in ms": theirs_time * 1e3,
                    "ours / built-in": ours_time / theirs_time,
                    "bandwidth floor ms": times["bandwidth"] * 1e3,
                    "ours / bandwidth": ours_time / times["bandwidth"],
                    "arithmetic floor ms": times["arithmetic"] * 1e3,
                    "ours / arithmetic": ours_time / times["arithmetic"],
                }
            )
    harness.table(rows, list(rows[0]))
    print("goals: xla ours / bandwidth <= 2; ours / built-in <= 1 (within noise) in each mode")


if __name__ == "__main__":
    main()
