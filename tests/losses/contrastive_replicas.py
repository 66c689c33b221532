"""CLIP and SigLIP with global-batch negatives: R replicas against one device.

    python tests/losses/contrastive_replicas.py --replicas 2

Splits the CPU into R logical devices, trains the same two-tower model a few SGD
steps on one device (plain `ContrastiveLogits` and loss on the whole batch) and
under `tf.distribute.MirroredStrategy` (each replica its share of the batch, with
`across_replicas=True`), and prints one JSON object: the losses and weights of
both runs, and the logits each replica holds. tests/losses/test_contrastive.py
launches it in its own process, because a process should create one
MirroredStrategy at most (several collide on collective instance keys).
"""

import argparse
import json
import os
import sys

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

GLOBAL_BATCH = 16
EXAMPLES = 32  # two steps per epoch
EPOCHS = 2


def data():
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(EXAMPLES, 3))
    images = np.concatenate([latent, rng.normal(size=(EXAMPLES, 3))], 1).astype("float32")
    texts = np.concatenate([latent[:, ::-1], rng.normal(size=(EXAMPLES, 2))], 1).astype("float32")
    # Dataset indices beyond 2**24, unique across the global batch.
    ids = (2**30 + rng.permutation(EXAMPLES)).astype("int64")
    return [images, texts], ids


def build(keras, loss_class, bias, across_replicas, jit_compile, tiled=False):
    from keras_losses.layers import ContrastiveLogits

    images, texts = keras.Input((6,)), keras.Input((5,))
    layer = ContrastiveLogits(
        logit_scale=5.0, logit_bias=bias, across_replicas=across_replicas, tiled=tiled
    )
    logits = layer(
        [keras.layers.Dense(4, name="image_tower")(images), keras.layers.Dense(4, name="text_tower")(texts)]
    )
    model = keras.Model([images, texts], logits)
    model.compile(
        optimizer=keras.optimizers.SGD(0.5),
        # A tile of 5 columns does not divide the 8 local or 16 global examples.
        loss=loss_class(across_replicas=across_replicas, tiled=tiled, tile_size=5),
        jit_compile=jit_compile,
    )
    return model


def train(model, weights, x, y):
    model.set_weights(weights)
    history = model.fit(x, y, batch_size=GLOBAL_BATCH, epochs=EPOCHS, shuffle=False, verbose=0)
    return history.history["loss"], [w.tolist() for w in model.get_weights()]


def logits_per_replica(strategy, model, x):
    """The shape of the logits each replica holds for one global batch."""
    dataset = tf.data.Dataset.from_tensor_slices(tuple(x)).batch(GLOBAL_BATCH)
    batch = next(iter(strategy.experimental_distribute_dataset(dataset)))

    @tf.function
    def step(images, texts):
        return strategy.run(lambda a, b: tf.shape(model([a, b])), args=(images, texts))

    shapes = strategy.experimental_local_results(step(*batch))
    return [s.numpy().tolist() for s in shapes]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--replicas", type=int, default=2)
    args = parser.parse_args()
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * args.replicas
    )
    import keras

    import keras_losses

    x, y = data()
    strategy = tf.distribute.MirroredStrategy([f"CPU:{i}" for i in range(args.replicas)])
    results = {"replicas": strategy.num_replicas_in_sync, "runs": []}
    for loss_class, bias in ((keras_losses.CLIPLoss, None), (keras_losses.SigLIPLoss, -2.0)):
        keras.utils.set_random_seed(0)
        # The reference: one device, the whole global batch, the plain form.
        single = build(keras, loss_class, bias, False, False)
        weights = single.get_weights()
        single_loss, single_weights = train(single, weights, x, y)
        with strategy.scope():
            # Keras turns XLA off under tf.distribute ("auto"); it cannot compile a
            # step whose variables live on several devices.
            replicated = build(keras, loss_class, bias, True, "auto")
        replicated_loss, replicated_weights = train(replicated, weights, x, y)
        with strategy.scope():
            # The tiled form: each replica streams the gathered embeddings tile by tile.
            tiled = build(keras, loss_class, bias, True, "auto", tiled=True)
        tiled_loss, tiled_weights = train(tiled, weights, x, y)
        # The tiled form on one device, compiled with XLA.
        single_tiled = build(keras, loss_class, bias, False, True, tiled=True)
        single_tiled_loss, single_tiled_weights = train(single_tiled, weights, x, y)
        run = {
            "tiled_replicated_loss": tiled_loss,
            "tiled_replicated_weights": tiled_weights,
            "tiled_single_loss": single_tiled_loss,
            "tiled_single_weights": single_tiled_weights,
            "loss": loss_class.__name__,
            "single_loss": single_loss,
            "replicated_loss": replicated_loss,
            "single_weights": single_weights,
            "replicated_weights": replicated_weights,
            "initial_weights": [w.tolist() for w in weights],
        }
        if loss_class is keras_losses.CLIPLoss:
            with strategy.scope():
                # Without across_replicas each replica sees only its own negatives.
                local = build(keras, loss_class, bias, False, "auto")
            run["local_negatives_loss"], _ = train(local, weights, x, y)
        results["runs"].append(run)
    results["logits_shapes"] = logits_per_replica(strategy, replicated, x)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
