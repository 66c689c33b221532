"""Trains every loss of the catalog on one device and data-parallel, and compares.

    python tests/distribute/same_training.py mirrored   # tf.distribute.MirroredStrategy, 2 CPUs
    python tests/distribute/same_training.py jax        # keras.distribution.DataParallel, 2 CPUs

Run by tests/distribute/test_distributed.py in a process of its own: the CPU must be
split into two devices before TensorFlow or JAX starts, and a MirroredStrategy is
created once per process.

One model holds a head per (catalog loss, reduction): every head sees the same
inputs, and each head's loss (with a per-example `sample_weight`) trains only that
head's weights. The same model trains for a few SGD steps on one device and then
with two replicas; each head's weights and the total loss are printed as JSON lines.
Every catalog loss is trained here unless (and the skipped ones are printed, each
with its kind and reason):

- it mines the batch (`MINES_THE_BATCH`: it has `across_replicas`, as the contrastive
  and metric-learning losses do): its value per example depends on which examples
  share the batch, so replicas cannot match one device; those are checked with
  `across_replicas=True` in their own tests;
- its catalog model is not a head on the shared features (`NOT_A_HEAD`: one float
  `(INPUT_DIM,)` input, one output), e.g. a CRF tagger on token ids or a head that
  takes the labels as a second input.

A loss that does neither is measured: its per-example values (`reduction=None`) on
the whole batch and on each half must agree. One that does not is reported as
`BATCH_DEPENDENT` (the test fails on that kind: it would be a loss that depends on
the batch without offering `across_replicas`).
"""

import json
import os
import sys

ENGINE = sys.argv[1] if len(sys.argv) > 1 else "mirrored"
if ENGINE == "jax":
    os.environ["KERAS_BACKEND"] = "jax"
    # XLA aborts a CPU collective that waits 40 s for its peers: on a loaded 2-core machine
    # one simulated device can lag that long behind the other.
    os.environ["XLA_FLAGS"] = (
        "--xla_force_host_platform_device_count=2"
        " --xla_cpu_collective_call_terminate_timeout_seconds=900"
    )
else:
    os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

if ENGINE == "mirrored":
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    )

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_losses.testing import catalog  # noqa: E402

REDUCTIONS = ("sum_over_batch_size", "sum", "mean_with_sample_weight")
GLOBAL_BATCH = 8  # splits evenly over 2 replicas: see docs/distributed.md for uneven splits
STEPS = 3


MINES_THE_BATCH = "mines the batch"
NOT_A_HEAD = "not a head on the shared features"
BATCH_DEPENDENT = "batch-dependent without across_replicas"


def heads():
    """(name, entry, loss, targets) per head, and {loss name: {kind, reason}} skipped."""
    rng = np.random.default_rng(0)
    found, skipped = [], {}
    for entry in catalog.ENTRIES:
        obj = entry.build()
        if not isinstance(obj, keras.losses.Loss) or entry.model is None:
            continue  # layers, regularizers, optimizers, metrics: not a loss to train
        family = type(obj).__module__.rsplit(".", 1)[-1]
        if hasattr(obj, "across_replicas"):
            skipped[entry.name] = {
                "kind": MINES_THE_BATCH,
                "reason": f"{family}: compares each example with the others in its batch; "
                "checked with across_replicas=True in its own tests",
            }
            continue
        probe = entry.model(obj)
        x, targets = entry.data(rng)
        why = _not_a_head(probe, x)
        if why:
            skipped[entry.name] = {"kind": NOT_A_HEAD, "reason": f"{family}: {why}"}
            continue
        why = _depends_on_the_batch(obj, probe, x, targets)
        if why:
            skipped[entry.name] = {"kind": BATCH_DEPENDENT, "reason": f"{family}: {why}"}
            continue
        for reduction in REDUCTIONS:
            loss = type(obj).from_config({**obj.get_config(), "reduction": reduction})
            found.append((f"{entry.name}-{reduction}", entry, loss, targets))
    # The control: the same hinge through the bare keras.losses.Loss machinery, which
    # divides each replica's sum by that replica's own weights. It must differ, or
    # this check could not see the problem our base class fixes.
    entry = catalog.by_name()["SparseMulticlassHinge"]
    _, targets = entry.data(rng)
    found.append(("control-keras-mean_with_sample_weight", entry, BareHinge(reduction="mean_with_sample_weight"), targets))
    return found, skipped


def _not_a_head(probe, x):
    """Why `probe` cannot be one head applied to the shared float features, or None."""
    if len(probe.inputs) != 1 or len(probe.outputs) != 1:
        return f"its model has {len(probe.inputs)} inputs and {len(probe.outputs)} outputs"
    spec = probe.inputs[0]
    if tuple(spec.shape) != (None, catalog.INPUT_DIM) or "float" not in str(spec.dtype):
        return (
            f"its model's input is {spec.dtype} {tuple(spec.shape)}, "
            f"not the shared float (None, {catalog.INPUT_DIM}) features"
        )
    if np.shape(x) != (catalog.BATCH, catalog.INPUT_DIM):
        return f"its data's x has shape {np.shape(x)}, not ({catalog.BATCH}, {catalog.INPUT_DIM})"
    return None


def _depends_on_the_batch(obj, probe, x, targets):
    """Why the loss's per-example values change with the batch, or None (measured)."""
    per_example = type(obj).from_config({**obj.get_config(), "reduction": None})
    predictions = np.asarray(probe(x))
    whole = np.asarray(per_example(targets, predictions))
    half = len(x) // 2
    parts = np.concatenate(
        [np.asarray(per_example(targets[:half], predictions[:half])),
         np.asarray(per_example(targets[half:], predictions[half:]))]
    )
    if whole.shape != parts.shape or not np.allclose(whole, parts, rtol=1e-5, atol=1e-6):
        return "its per-example values on a half batch differ from those on the whole batch"
    return None


class BareHinge(keras.losses.Loss):
    def call(self, y_true, y_pred):
        from keras_losses import sparse_multiclass_hinge

        return sparse_multiclass_hinge(y_true, y_pred)


def build(found):
    inputs = keras.Input((catalog.INPUT_DIM,))
    outputs = []
    for name, entry, loss, _ in found:
        head = entry.model(loss)
        head.name = name.replace(">", "_")
        outputs.append(head(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=[loss for _, _, loss, _ in found],
        jit_compile=False,
    )
    return model


def train(found, x, ys, weights):
    keras.utils.set_random_seed(0)
    model = build(found)
    history = model.fit(
        x, ys, sample_weight=weights, batch_size=GLOBAL_BATCH, epochs=STEPS, shuffle=False, verbose=0
    )
    per_head = {
        name: [np.asarray(w) for w in model.get_layer(name.replace(">", "_")).get_weights()]
        for name, _, _, _ in found
    }
    return per_head, history.history["loss"]


def main():
    found, skipped = heads()
    for name, why in skipped.items():  # to stderr as well: the test shows it on failure
        print(f"skipped {name} ({why['kind']}): {why['reason']}", file=sys.stderr)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(GLOBAL_BATCH, catalog.INPUT_DIM)).astype("float32")
    ys = [targets for _, _, _, targets in found]
    weights = rng.uniform(0.1, 2.0, GLOBAL_BATCH).astype("float32")

    single, single_loss = train(found, x, ys, weights)
    if ENGINE == "mirrored":
        import tensorflow as tf

        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        with strategy.scope():
            replicated, replicated_loss = train(found, x, ys, weights)
        replicas = strategy.num_replicas_in_sync
    else:
        import jax

        distribution = keras.distribution.DataParallel(devices=jax.devices())
        keras.distribution.set_distribution(distribution)
        replicated, replicated_loss = train(found, x, ys, weights)
        replicas = len(jax.devices())
    for name in single:
        difference = max(
            float(np.max(np.abs(a - b))) for a, b in zip(single[name], replicated[name])
        )
        print(json.dumps({"head": name, "replicas": replicas, "max_weight_difference": difference}))
    print(json.dumps({"skipped": skipped, "replicas": replicas}))
    if ENGINE == "mirrored":
        print(json.dumps({"uneven_batch": uneven_batch(strategy)}))


def uneven_batch(strategy):
    """What Keras does with a global batch that does not split evenly: it fails."""
    loss = catalog.by_name()["SparseMulticlassHinge"].build()
    with strategy.scope():
        model = keras.Sequential([keras.Input((catalog.INPUT_DIM,)), keras.layers.Dense(4)])
        model.compile(optimizer="sgd", loss=loss)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(5, catalog.INPUT_DIM)).astype("float32")
    try:
        model.fit(x, rng.integers(0, 4, 5), batch_size=5, verbose=0)  # 3 + 2 examples
    except Exception as error:  # the exact failure is what the test records
        return f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"
    return "trained"


if __name__ == "__main__":
    main()
