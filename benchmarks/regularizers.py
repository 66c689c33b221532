"""Value and gradient of each penalty on a 4096 x 4096 float32 kernel (2**24 weights).

L1, L2 and ElasticNet against the Keras built-ins (L1, L2, L1L2); GroupLasso and
MaxNormPenalty against a naive version that takes `sqrt` of the sum of squares
directly (what the safe norm costs: its gradient is NaN at a zero row, ours is
not). In tf.function and XLA, timed round-robin in one process. Goals: ours / the
built-in <= 1.1 and ours / naive <= 1.2 in each mode.

    python benchmarks/regularizers.py [--quick] [--repeats N]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import harness  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

import keras_losses  # noqa: E402


def naive_group_lasso(w):
    return 0.01 * ops.sum(ops.sqrt(ops.sum(ops.square(w), axis=1)))


def naive_max_norm(w):
    return 0.01 * ops.sum(ops.square(ops.relu(ops.sqrt(ops.sum(ops.square(w), axis=0)) - 3.0)))


def main():
    args = harness.arguments(__doc__.splitlines()[0])
    import tensorflow as tf

    side = 256 if args.quick else 4096
    kernel = tf.constant(np.random.default_rng(0).normal(0.0, 0.1, (side, side)).astype("float32"))
    pairs = {
        "L1": (keras_losses.L1(), keras.regularizers.L1(0.01), "keras L1"),
        "L2": (keras_losses.L2(), keras.regularizers.L2(0.01), "keras L2"),
        "ElasticNet": (keras_losses.ElasticNet(), keras.regularizers.L1L2(0.01, 0.01), "keras L1L2"),
        "GroupLasso": (keras_losses.GroupLasso(), naive_group_lasso, "naive sqrt"),
        "MaxNormPenalty": (keras_losses.MaxNormPenalty(), naive_max_norm, "naive sqrt"),
    }

    harness.header(f"Penalty value and gradient on a {side} x {side} float32 kernel")
    rows = []
    for name, (ours, other, other_name) in pairs.items():
        for mode, jit in (("tf.function", False), ("xla", True)):
            ours_fn = tf.function(harness.value_and_gradient(ours), jit_compile=jit)
            other_fn = tf.function(harness.value_and_gradient(other), jit_compile=jit)
            times = harness.compare(
                {"ours": lambda: ours_fn(kernel), "other": lambda: other_fn(kernel)}, args.repeats
            )
            rows.append(
                {
                    "penalty": name,
                    "mode": mode,
                    "compared with": other_name,
                    "ours ms": times["ours"] * 1e3,
                    "other ms": times["other"] * 1e3,
                    "ours / other": times["ours"] / times["other"],
                }
            )
    harness.table(rows, ["penalty", "mode", "compared with", "ours ms", "other ms", "ours / other"])
    print("goals: ours / built-in <= 1.1; ours / naive sqrt <= 1.2 (within noise) in each mode")


if __name__ == "__main__":
    main()
