"""The tiled CLIP and SigLIP losses under JAX `DataParallel` against the dense ones.

    python tests/losses/contrastive_tiled_jax.py

Splits the CPU into 2 JAX devices, trains the same two-tower model a few SGD steps
with the dense loss on one device and with the tiled loss under
`keras.distribution.DataParallel` over both, and prints one JSON object with the
losses and weights of both runs. Started by tests/losses/test_contrastive.py in a
process of its own (the device count is fixed when JAX starts).
"""

import json
import os
import sys

os.environ["KERAS_BACKEND"] = "jax"
# XLA aborts a CPU collective that waits 40 s for its peers: on a loaded 2-core machine
# one simulated device can lag that long behind the other.
os.environ["XLA_FLAGS"] = (
    "--xla_force_host_platform_device_count=2"
    " --xla_cpu_collective_call_terminate_timeout_seconds=900"
)

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_losses  # noqa: E402

GLOBAL_BATCH = 16
EXAMPLES = 32


def build(loss_class, bias, tiled):
    images, texts = keras.Input((6,)), keras.Input((5,))
    layer = keras_losses.ContrastiveLogits(logit_scale=5.0, logit_bias=bias, tiled=tiled)
    towers = [keras.layers.Dense(4, name="image_tower")(images), keras.layers.Dense(4, name="text_tower")(texts)]
    model = keras.Model([images, texts], layer(towers))
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss=loss_class(tiled=tiled, tile_size=5))
    return model


def train(model, weights, x, y):
    model.set_weights(weights)
    history = model.fit(x, y, batch_size=GLOBAL_BATCH, epochs=2, shuffle=False, verbose=0)
    return history.history["loss"], [np.asarray(w).tolist() for w in model.get_weights()]


def main():
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(EXAMPLES, 3))
    images = np.concatenate([latent, rng.normal(size=(EXAMPLES, 3))], 1).astype("float32")
    texts = np.concatenate([latent[:, ::-1], rng.normal(size=(EXAMPLES, 2))], 1).astype("float32")
    x, y = [images, texts], (2**30 + rng.permutation(EXAMPLES)).astype("int32")
    runs = []
    for loss_class, bias in ((keras_losses.CLIPLoss, None), (keras_losses.SigLIPLoss, -2.0)):
        keras.utils.set_random_seed(0)
        dense = build(loss_class, bias, tiled=False)
        weights = dense.get_weights()
        dense_loss, dense_weights = train(dense, weights, x, y)
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=jax.devices()))
        try:
            tiled_loss, tiled_weights = train(build(loss_class, bias, tiled=True), weights, x, y)
        finally:
            keras.distribution.set_distribution(None)
        runs.append(
            {
                "loss": loss_class.__name__,
                "devices": len(jax.devices()),
                "dense_loss": dense_loss,
                "tiled_loss": tiled_loss,
                "dense_weights": dense_weights,
                "tiled_weights": tiled_weights,
                "initial_weights": [np.asarray(w).tolist() for w in weights],
            }
        )
    print(json.dumps(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
