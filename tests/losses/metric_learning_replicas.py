"""Mining losses over the global batch: 2 replicas against one device.

    python tests/losses/metric_learning_replicas.py mirrored   # tf.distribute, across_replicas=True
    python tests/losses/metric_learning_replicas.py jax        # keras.distribution.DataParallel

Splits the CPU into two devices, trains the same embedding model a few SGD steps on
one device (the whole global batch) and data-parallel, for each mining loss, and
prints one JSON object: the losses and weights of both runs (and, under
MirroredStrategy, the losses with each replica mining only its own examples).
tests/losses/test_metric_learning.py launches it in its own process, because the
devices must be split before the backend starts and a process should create one
MirroredStrategy at most.
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

import keras_losses  # noqa: E402

GLOBAL_BATCH = 16
EXAMPLES = 32  # two steps per epoch
EPOCHS = 2
LOSSES = [
    ("TripletLoss", lambda r: keras_losses.TripletLoss(across_replicas=r)),
    ("TripletLoss-hard", lambda r: keras_losses.TripletLoss(mining="hard", across_replicas=r)),
    ("TripletLoss-all-cosine", lambda r: keras_losses.TripletLoss(mining="all", distance="cosine", across_replicas=r)),
    ("LiftedStructLoss", lambda r: keras_losses.LiftedStructLoss(across_replicas=r)),
    ("MultiSimilarityLoss", lambda r: keras_losses.MultiSimilarityLoss(across_replicas=r)),
    ("SupervisedContrastiveLoss", lambda r: keras_losses.SupervisedContrastiveLoss(temperature=0.5, across_replicas=r)),
]


def data():
    rng = np.random.default_rng(0)
    classes = rng.integers(0, 4, EXAMPLES)
    x = (rng.normal(size=(4, 6))[classes] + rng.normal(size=(EXAMPLES, 6))).astype("float32")
    return x, (2**30 + classes).astype("int64")  # ids beyond 2**24


def build(loss):
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, name="embedding")])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss, jit_compile=False)
    return model


def train(model, weights, x, y):
    model.set_weights(weights)
    history = model.fit(x, y, batch_size=GLOBAL_BATCH, epochs=EPOCHS, shuffle=False, verbose=0)
    return history.history["loss"], [w.tolist() for w in model.get_weights()]


def main():
    x, y = data()
    runs = []
    if ENGINE == "mirrored":
        import tensorflow as tf

        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        replicas = strategy.num_replicas_in_sync
    else:
        import jax

        replicas = len(jax.devices())
    singles = {}
    for name, make in LOSSES:
        keras.utils.set_random_seed(0)
        single = build(make(False))
        weights = single.get_weights()
        singles[name] = (weights,) + train(single, weights, x, y)
    if ENGINE == "jax":
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=jax.devices()))
    for name, make in LOSSES:
        weights, single_loss, single_weights = singles[name]
        run = {"loss": name, "single_loss": single_loss, "single_weights": single_weights,
               "initial_weights": [w.tolist() for w in weights]}
        if ENGINE == "mirrored":
            with strategy.scope():
                replicated = build(make(True))
            run["replicated_loss"], run["replicated_weights"] = train(replicated, weights, x, y)
            with strategy.scope():
                local = build(make(False))
            run["local_loss"], _ = train(local, weights, x, y)
        else:
            replicated = build(make(True))
            run["replicated_loss"], run["replicated_weights"] = train(replicated, weights, x, y)
        runs.append(run)
    print(json.dumps({"replicas": replicas, "runs": runs}))


if __name__ == "__main__":
    main()
