"""One worker of the MultiWorkerMirroredStrategy check (tests/distribute/test_distributed.py).

    python tests/distribute/multi_worker.py PORTS INDEX OUT    # PORTS "p0,p1", or "-" for one process

Trains a small classifier with `SparseMulticlassHinge(reduction="mean_with_sample_weight")`
for a few SGD steps in a custom training loop (`strategy.run`), and saves the final
kernel and the losses to OUT (.npz). With PORTS, the workers form a cluster on
127.0.0.1 through TF_CONFIG and each holds one replica; with "-", one process trains
alone on the same global batches. Each worker first tries `model.fit` under the
strategy and records how Keras 3 fails there.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["KERAS_BACKEND"] = "tensorflow"
ports, index, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if ports != "-":
    workers = [f"127.0.0.1:{p}" for p in ports.split(",")]
    os.environ["TF_CONFIG"] = json.dumps(
        {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
    )

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_losses  # noqa: E402

GLOBAL_BATCH = 8


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 3)).astype("float32")
    y = rng.integers(0, 4, 32).astype("int32")
    w = rng.uniform(0.1, 2.0, 32).astype("float32")
    return tf.data.Dataset.from_tensor_slices((x, y, w)).batch(GLOBAL_BATCH)


def sharded(strategy, dataset):
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return strategy.experimental_distribute_dataset(dataset.with_options(options))


def try_fit(strategy):
    with strategy.scope():
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
        model.compile(optimizer="sgd", loss=keras_losses.SparseMulticlassHinge())
    try:
        model.fit(data(), epochs=1, verbose=0)
    except Exception as error:  # recorded: Keras 3 cannot fit under this strategy
        return f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
    return "trained"


def main():
    multi = ports != "-"
    strategy = tf.distribute.MultiWorkerMirroredStrategy() if multi else tf.distribute.get_strategy()
    fit_result = try_fit(strategy) if multi else None
    keras.utils.set_random_seed(0)
    loss_fn = keras_losses.SparseMulticlassHinge(reduction="mean_with_sample_weight")
    with strategy.scope():
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
        optimizer = keras.optimizers.SGD(0.5)
        optimizer.build(model.trainable_variables)

    @tf.function
    def step(x, y, w):
        def replica_step(x, y, w):
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True), sample_weight=w)
            optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
            return loss

        # each replica's loss is its share of the global weighted mean: their sum is it
        return strategy.reduce("SUM", strategy.run(replica_step, args=(x, y, w)), axis=None)

    dataset = sharded(strategy, data()) if multi else data()
    losses = [float(step(x, y, w)) for _ in range(2) for x, y, w in dataset]
    np.savez(out, kernel=model.get_weights()[0], losses=np.array(losses))
    print(json.dumps({"index": index, "replicas": strategy.num_replicas_in_sync, "fit": fit_result}))


if __name__ == "__main__":
    main()
