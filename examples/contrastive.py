"""Train a two-tower model with CLIPLoss, then use each tower for inference.

    python examples/contrastive.py

Two "modalities" are two views of the same hidden variables (a linear map and a
saturating one, plus noise); each example has a dataset index as its pair id. The
training model outputs the batch's logit matrix, which depends on the batch: it is
for training only. For inference the example

1. retrieves, for each held-out image, its text among all held-out texts, from the
   two towers' embeddings;
2. classifies new images zero-shot: each class is described by one text (the text
   view of its centre), embedded by the text tower, and `ContrastiveLogits` scores
   the images against those class embeddings with the scale it learned;
3. shows what `model.predict` on the training model gives when the last batch has
   another size.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_losses  # noqa: E402

LATENT, IMAGE_DIM, TEXT_DIM, EMBEDDING = 4, 12, 10, 8
# How each modality sees the hidden variables (fixed for the whole example).
IMAGE_MAP = np.random.default_rng(42).normal(size=(LATENT, IMAGE_DIM))
TEXT_MAP = np.random.default_rng(43).normal(size=(LATENT, TEXT_DIM))


def views(latent, rng, noise=0.05):
    """An image and a text view of each row of `latent`."""
    images = latent @ IMAGE_MAP + noise * rng.normal(size=(len(latent), IMAGE_DIM))
    texts = np.tanh(latent @ TEXT_MAP) + noise * rng.normal(size=(len(latent), TEXT_DIM))
    return images.astype("float32"), texts.astype("float32")


def tower(input_dim, name):
    inputs = keras.Input((input_dim,))
    hidden = keras.layers.Dense(32, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(EMBEDDING)(hidden), name=name)


def normalized(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    images, texts = views(rng.normal(size=(1024 + 128, LATENT)), rng)
    train, test = slice(0, 1024), slice(1024, None)

    # -- training: the towers feed ContrastiveLogits; y is the pair ids -------------
    image_tower, text_tower = tower(IMAGE_DIM, "image_tower"), tower(TEXT_DIM, "text_tower")
    image_in, text_in = keras.Input((IMAGE_DIM,)), keras.Input((TEXT_DIM,))
    logits = keras_losses.ContrastiveLogits(name="logits")
    model = keras.Model([image_in, text_in], logits([image_tower(image_in), text_tower(text_in)]))
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=keras_losses.CLIPLoss())
    ids = np.arange(len(images), dtype="int64") + 10**9  # dataset indices
    history = model.fit([images[train], texts[train]], ids[train], batch_size=128, epochs=6, verbose=0)
    scale = float(keras.ops.convert_to_numpy(logits.scale))
    print(f"trained: CLIP loss {history.history['loss'][0]:.3f} -> {history.history['loss'][-1]:.3f}, learned scale {scale:.1f}")

    # -- 1. retrieval: embed each side once, compare by cosine ----------------------
    image_embeddings = normalized(image_tower.predict(images[test], verbose=0))
    text_embeddings = normalized(text_tower.predict(texts[test], verbose=0))
    best = np.argmax(image_embeddings @ text_embeddings.T, axis=1)
    retrieval = np.mean(best == np.arange(len(best)))
    print(f"image -> text retrieval among {len(best)} held-out pairs: top-1 {retrieval:.2f} (chance {1 / len(best):.3f})")

    # -- 2. zero-shot classification: one text per class, scored with the learned scale
    # New images near 4 class centres; each class is described by one text (its
    # centre's text view), never seen in training.
    centres = 1.5 * rng.normal(size=(4, LATENT))
    classes = rng.integers(0, 4, 200)
    class_images, _ = views(centres[classes] + 0.3 * rng.normal(size=(200, LATENT)), rng)
    _, class_texts = views(centres, rng, noise=0.0)
    class_embeddings = text_tower.predict(class_texts, verbose=0)
    class_logits = logits([image_tower.predict(class_images, verbose=0), class_embeddings])  # (200, 4)
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(class_logits, axis=-1))
    zero_shot = np.mean(np.argmax(probabilities, axis=1) == classes)
    print(f"zero-shot classification into 4 classes described by one text each: accuracy {zero_shot:.2f} (chance 0.25)")

    # -- 3. predict on the training model: the batch's own matrix, not a global one --
    inputs = [images[test][:100], texts[test][:100]]
    try:
        out = model.predict(inputs, batch_size=32, verbose=0)  # batches of 32, 32, 32, 4
        print(f"predict with a last batch of 4: {type(out).__name__} of shape {out.shape}: each row has "
              "as many columns as its own batch (TensorFlow returns a ragged result)")
    except ValueError as error:  # JAX and PyTorch: the batches cannot be stacked
        print(f"predict with a last batch of 4 fails: {str(error).splitlines()[0][:100]}")
    out = model.predict(inputs, batch_size=25, verbose=0)
    print(f"predict with batches of 25: shape {tuple(out.shape)}; row i holds example i against "
          "the 25 texts of its own batch only")

    if not (retrieval > 0.3 and zero_shot > 0.6):
        print("the demo model did not learn", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
