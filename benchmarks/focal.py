"""Forward and backward of the focal losses on 2**22 logits, against the built-ins.

In one run, side by side (round-robin, so the ratios hold on a busy machine), in
tf.function and in XLA, each of ours against Keras's built-in focal loss with the
same gamma and against the plain cross-entropy:

* binary: `BinaryFocalLoss(from_logits=True)` against
  `keras.losses.BinaryFocalCrossentropy(from_logits=True, apply_class_balancing=True)`
  and `keras.losses.BinaryCrossentropy(from_logits=True)`;
* categorical: `CategoricalFocalLoss(from_logits=True)` against
  `keras.losses.CategoricalFocalCrossentropy(from_logits=True)` and
  `keras.losses.CategoricalCrossentropy(from_logits=True)`;
  `SparseCategoricalFocalLoss(from_logits=True)` (the same loss on integer labels)
  against the same two.

Goals: ours / Keras focal <= 1 in each mode; binary ours / plain CE <= 2 under XLA.

Transcendental functions per element (forward and backward together, as XLA
compiles them on a CPU; a division counted with them):

* BCE: exp, log1p, 1 division (its gradient's sigmoid).
* ours, binary, whole-number gamma: exp, log1p, 1 division (1 / (1 + e), which the
  gradient of log1p reuses): the same as BCE. The floor is then BCE's time plus the
  extra passes over memory that the focal factor's product rule needs (log1p(e) and
  1 / (1 + e) are read by both the loss and its gradient): about 1.5x.
* ours, binary, fractional gamma: + log and exp (the factor exp(gamma * log(1 - p_t)))
  and 1 division (the gradient of that log): about 2x BCE at best.
* Keras's binary focal: 2 exp (sigmoid, and the cross-entropy from logits), log1p,
  2 divisions; its pow(x, 2) becomes a product, pow(x, 0.5) a sqrt (which is why it
  has an infinite gradient where p_t = 1 for gamma < 1).
* ours, categorical: 2 exp (log_softmax, then p = exp(log p)), no per-element log
  (the logarithm of the sum is one per row); + log and exp for a fractional gamma.
  Sparse: 1 exp (the others' logsumexp for the margin logit).
* Keras's categorical focal: exp (softmax), log, and pow.

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


def saturation():
    """Loss and gradient where a wrong class leads the true one, ours and Keras's.

    Three classes, the true one (0) at logit 0, a wrong one ahead by `lead`, gamma 2,
    alpha 0.25 (Keras's defaults). Then plain gradient descent on the logits
    themselves (step 1.0) from a lead of 20: how many steps until the true class
    leads again.
    """
    import tensorflow as tf

    builtin = keras.losses.CategoricalFocalCrossentropy(from_logits=True)
    ours = keras_losses.CategoricalFocalLoss(alpha=0.25, from_logits=True)
    y_true = tf.constant([[1.0, 0.0, 0.0]])

    def value_and_grad(loss, logits):
        with tf.GradientTape() as tape:
            tape.watch(logits)
            value = loss(y_true, logits)
        return float(value), tape.gradient(value, logits)

    rows = []
    for lead in (5.0, 10.0, 16.0, 17.0, 20.0, 100.0, 1e4):
        logits = tf.constant([[0.0, lead, 0.0]])
        theirs, theirs_grad = value_and_grad(builtin, logits)
        mine, my_grad = value_and_grad(ours, logits)
        rows.append(
            {
                "lead": lead,
                "keras loss": theirs,
                "keras grad norm": float(tf.norm(theirs_grad)),
                "ours loss": mine,
                "ours grad norm": float(tf.norm(my_grad)),
            }
        )
    print("## A wrong class ahead by `lead` logits (3 classes, gamma 2, alpha 0.25)")
    harness.table(rows, ["lead", "keras loss", "keras grad norm", "ours loss", "ours grad norm"])

    steps = {}
    for name, loss in (("keras", builtin), ("ours", ours)):
        logits = tf.constant([[0.0, 20.0, 0.0]])
        for step in range(1, 1001):
            _, grad = value_and_grad(loss, logits)
            logits = logits - 1.0 * grad
            if logits[0, 0] > tf.reduce_max(logits[0, 1:]):
                steps[name] = step
                break
        else:
            steps[name] = None
    print(
        "gradient descent on the logits (step 1.0) from a lead of 20: the true class "
        f"leads again after {steps['ours']} steps with ours, "
        + (f"{steps['keras']} with Keras's" if steps["keras"] else "never (1000 steps) with Keras's")
    )
    print()


def main():
    args = harness.arguments(__doc__.splitlines()[0])
    import tensorflow as tf

    saturation()

    size = 2**14 if args.quick else 2**22
    shape = (size // CLASSES, CLASSES)
    rng = np.random.default_rng(0)
    logits = tf.constant(rng.normal(0.0, 3.0, shape).astype("float32"))
    binary_labels = tf.constant((rng.random(shape) < 0.1).astype("float32"))
    classes = rng.integers(0, CLASSES, shape[0])
    one_hot = tf.constant(np.eye(CLASSES, dtype="float32")[classes])
    sparse = tf.constant(classes.astype("int32"))

    def binary_focal(gamma):
        return keras.losses.BinaryFocalCrossentropy(
            gamma=gamma, from_logits=True, apply_class_balancing=True
        )

    def categorical_focal(gamma):
        return keras.losses.CategoricalFocalCrossentropy(gamma=gamma, from_logits=True)

    # group: {name: (labels, loss, the Keras focal loss it is compared with)}
    groups = {
        "binary": {
            "BinaryCrossentropy": (binary_labels, keras.losses.BinaryCrossentropy(from_logits=True), None),
            "keras BinaryFocalCrossentropy": (binary_labels, binary_focal(2.0), None),
            "ours BinaryFocalLoss": (
                binary_labels,
                keras_losses.BinaryFocalLoss(from_logits=True),
                "keras BinaryFocalCrossentropy",
            ),
            "keras BinaryFocalCrossentropy(gamma=0.5)": (binary_labels, binary_focal(0.5), None),
            "ours BinaryFocalLoss(gamma=0.5)": (
                binary_labels,
                keras_losses.BinaryFocalLoss(gamma=0.5, from_logits=True),
                "keras BinaryFocalCrossentropy(gamma=0.5)",
            ),
        },
        "categorical": {
            "CategoricalCrossentropy": (one_hot, keras.losses.CategoricalCrossentropy(from_logits=True), None),
            "keras CategoricalFocalCrossentropy": (one_hot, categorical_focal(2.0), None),
            "ours CategoricalFocalLoss": (
                one_hot,
                keras_losses.CategoricalFocalLoss(alpha=0.25, from_logits=True),
                "keras CategoricalFocalCrossentropy",
            ),
            "ours SparseCategoricalFocalLoss": (
                sparse,
                keras_losses.SparseCategoricalFocalLoss(alpha=0.25, from_logits=True),
                "keras CategoricalFocalCrossentropy",
            ),
            "keras CategoricalFocalCrossentropy(gamma=0.5)": (one_hot, categorical_focal(0.5), None),
            "ours CategoricalFocalLoss(gamma=0.5)": (
                one_hot,
                keras_losses.CategoricalFocalLoss(gamma=0.5, alpha=0.25, from_logits=True),
                "keras CategoricalFocalCrossentropy(gamma=0.5)",
            ),
        },
    }

    harness.header(
        f"Loss value and gradient on {size} float32 logits (2**{size.bit_length() - 1}), "
        f"shape {shape}"
    )
    rows = []
    for group, losses in groups.items():
        plain = next(iter(losses))
        for mode, jit in (("tf.function", False), ("xla", True)):
            fns = {}
            for name, (y_true, loss, _) in losses.items():
                compiled = tf.function(harness.value_and_gradient(loss), jit_compile=jit)
                fns[name] = lambda f=compiled, y=y_true: f(y, logits)
            times = harness.compare(fns, args.repeats)
            for name, seconds in times.items():
                builtin = losses[name][2]
                rows.append(
                    {
                        "group": group,
                        "mode": mode,
                        "loss": name,
                        "ms": seconds * 1e3,
                        "/ plain CE": seconds / times[plain],
                        "/ keras focal": None if builtin is None else seconds / times[builtin],
                    }
                )
    harness.table(rows, ["group", "mode", "loss", "ms", "/ plain CE", "/ keras focal"])
    print(
        "goals: ours / keras focal (same gamma) <= 1 in each mode; binary ours / plain CE "
        "<= 2 under xla (floor: ~1.5x with a whole-number gamma, ~2x with a fractional one)"
    )


if __name__ == "__main__":
    main()
