"""Train a 2,000-class classifier with a hierarchical softmax, then predict with it.

    python examples/hierarchical_softmax.py

The pattern a hierarchical softmax needs is two models that share layers:

* a training model that takes the labels as a second input, so that the output
  layer computes only the nodes on each label's path (the fast path: about
  `d * log2(V)` work per example instead of `d * V`);
* an inference model without labels, from which the same output layer gives the
  log-probabilities of every class or the top k.

Classes follow a Zipf law, so the tree is word2vec's Huffman tree over the class
counts: frequent classes get short paths. The optimizer is plain SGD, whose sparse
update touches only the kernel rows on the paths (on TensorFlow); see
docs/hierarchical.md for what Adam or a kernel regularizer would cost.
"""

import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_losses  # noqa: E402

NUM_CLASSES, FEATURES, EXAMPLES = 2000, 32, 20000


def zipf_data(seed=0):
    """Features near a per-class centre; class frequencies follow a Zipf law."""
    rng = np.random.default_rng(seed)
    frequencies = 1.0 / np.arange(1, NUM_CLASSES + 1)
    labels = rng.choice(NUM_CLASSES, EXAMPLES, p=frequencies / frequencies.sum())
    centres = rng.normal(size=(NUM_CLASSES, FEATURES)).astype("float32")
    features = centres[labels] + 0.3 * rng.normal(size=(EXAMPLES, FEATURES)).astype("float32")
    return features, labels.astype("int32")


def main():
    keras.utils.set_random_seed(0)
    features, labels = zipf_data()
    counts = np.bincount(labels, minlength=NUM_CLASSES) + 1  # +1: every class needs a leaf
    tree = keras_losses.Tree.huffman(counts)
    print(f"{tree}: mean path {np.average(tree.path_lengths, weights=counts):.1f} nodes per example")

    # Shared layers.
    encoder_layer = keras.layers.Dense(64, activation="relu", name="encoder")
    output_layer = keras_losses.HierarchicalSoftmax(tree, name="hierarchical_softmax")

    # Training model: labels are an input; the output is the (masked) path logits.
    x = keras.Input((FEATURES,), name="features")
    y = keras.Input((), dtype="int32", name="labels")
    training = keras.Model([x, y], output_layer([encoder_layer(x), y]))
    training.compile(
        optimizer=keras.optimizers.SGD(0.5),
        loss=keras_losses.HierarchicalSoftmaxLoss(from_path_logits=True),
    )
    history = training.fit([features, labels], labels, epochs=5, batch_size=128, verbose=0)
    losses = history.history["loss"]
    print(f"trained: loss {losses[0]:.3f} -> {losses[-1]:.3f} (uniform guess: {np.log(NUM_CLASSES):.3f})")

    # Inference model: same layers, no labels.
    inference = keras.Model(x, encoder_layer(x))
    hidden = inference.predict(features[:1000], verbose=0)
    log_probs = keras.ops.convert_to_numpy(output_layer.log_probs(hidden))
    total = np.exp(log_probs).sum(axis=1)
    _, top5 = output_layer.top_k(hidden, k=5, beam_width=20)  # never scores all 2,000 classes
    top5 = keras.ops.convert_to_numpy(top5)
    accuracy = np.mean(np.argmax(log_probs, axis=1) == labels[:1000])
    in_top5 = np.mean(np.any(top5 == labels[:1000, None], axis=1))
    print(
        f"inference: probabilities sum to {total.min():.6f}..{total.max():.6f}; "
        f"accuracy {accuracy:.3f}, top-5 (beam search) {in_top5:.3f}"
    )

    # The training model saves like any other; the tree travels with it.
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "training.keras")
        training.save(path)
        restored = keras.saving.load_model(path)
        same_tree = restored.get_layer("hierarchical_softmax").tree == tree
        print(f"saved and loaded: same tree {same_tree}")

    learned = losses[-1] < 0.5 * np.log(NUM_CLASSES) and accuracy > 0.5 and in_top5 > accuracy
    ok = learned and np.allclose(total, 1.0, atol=1e-4) and same_tree
    if not ok:
        print("the example did not reach its targets", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
