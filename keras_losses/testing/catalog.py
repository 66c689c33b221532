"""One example of every public object, with a small model that uses it.

The serialization tests walk this table: every `__init__` argument in the config,
`serialize_keras_object` round trips, and a `.keras` file of each model that loads
and evaluates identically in a fresh process after only `import keras_losses`. The
golden files under `tests/golden/<version>/` are saved from the same models, so a
later release is held to what this one saved.

An entry's example uses non-default arguments where it can, so that a config that
dropped one would show.
"""

import dataclasses
from typing import Callable

import keras
import numpy as np

import keras_losses

INPUT_DIM = 3
BATCH = 8


@dataclasses.dataclass(frozen=True)
class Entry:
    """An example of one public object.

    Attributes:
        name: unique, used as a file name.
        build: returns the object, configured with non-default arguments.
        model: `model(obj)` returns a compiled Keras model that uses it, or `None`
            for objects that live inside another's config (a `Tree`).
        data: `data(rng)` returns `(x, y)` for `model`.
    """

    name: str
    build: Callable
    model: Callable = None
    data: Callable = None


def loss_model(units, activation=None):
    """A one-layer model compiled with the loss under test."""

    def build(loss):
        model = keras.Sequential(
            [keras.Input((INPUT_DIM,)), keras.layers.Dense(units, activation=activation)]
        )
        model.compile(optimizer="sgd", loss=loss)
        return model

    return build


def features(rng):
    return rng.normal(size=(BATCH, INPUT_DIM)).astype("float32")


def with_targets(targets):
    """`data(rng)` giving random features and `targets(rng)`."""
    return lambda rng: (features(rng), targets(rng))


def one_hot(num_classes):
    return lambda rng: np.eye(num_classes, dtype="float32")[rng.integers(0, num_classes, BATCH)]


def class_ids(num_classes):
    return lambda rng: rng.integers(0, num_classes, BATCH).astype("int32")


def binary(rng):
    return rng.integers(0, 2, (BATCH, 2)).astype("float32")


# A user hierarchy of 5 classes (Tree.from_paths): it travels in the weights.
HIERARCHY_PATHS = [[0, 1, 2], [0, 1, 2], [0, 1], [0, 3], [0, 3]]
HIERARCHY_CODES = [[1, 1, 1], [1, 1, -1], [1, -1], [-1, 1], [-1, -1]]


def labels_as_input(num_classes):
    """`data(rng)` for a model that takes `[features, labels]` and is fit on `labels`."""

    def data(rng):
        labels = class_ids(num_classes)(rng)
        return [features(rng), labels], labels

    return data


def hierarchical_softmax_training_model(layer):
    """The fast path: labels are an input, the layer returns masked path logits."""
    features_in = keras.Input((INPUT_DIM,))
    labels_in = keras.Input((), dtype="int32")
    hidden = keras.layers.Dense(4, activation="tanh")(features_in)
    model = keras.Model([features_in, labels_in], layer([hidden, labels_in]))
    model.compile(optimizer="sgd", loss=keras_losses.HierarchicalSoftmaxLoss(from_path_logits=True))
    return model


ENTRIES = [
    # -- regression ---------------------------------------------------------------
    Entry(
        "MeanSquaredLogarithmicError",
        lambda: keras_losses.MeanSquaredLogarithmicError(reduction="sum", name="msle"),
        loss_model(2, "softplus"),
        with_targets(lambda rng: rng.uniform(0, 5, (BATCH, 2)).astype("float32")),
    ),
    # -- hinges -------------------------------------------------------------------
    Entry(
        "Hinge",
        lambda: keras_losses.Hinge(margin=0.5, dtype="float32"),
        loss_model(2),
        with_targets(binary),
    ),
    Entry(
        "SquaredHinge",
        lambda: keras_losses.SquaredHinge(margin=2.0, reduction="mean"),
        loss_model(2),
        with_targets(binary),
    ),
    Entry(
        "MulticlassHinge",
        lambda: keras_losses.MulticlassHinge(margin=0.5, squared=True, variant="crammer_singer"),
        loss_model(4),
        with_targets(one_hot(4)),
    ),
    Entry(
        "SparseMulticlassHinge",
        lambda: keras_losses.SparseMulticlassHinge(margin=2.0, variant="weston_watkins", name="svm"),
        loss_model(4),
        with_targets(class_ids(4)),
    ),
    # -- hierarchical softmax --------------------------------------------------------
    Entry("Tree", lambda: keras_losses.Tree.huffman([40, 10, 25, 5, 5, 15])),
    Entry(
        "HierarchicalSoftmaxLoss",
        lambda: keras_losses.HierarchicalSoftmaxLoss(
            tree=keras_losses.Tree.huffman([40, 10, 25, 5, 5, 15]), ignore_class=-1, name="hs"
        ),
        loss_model(5),  # one logit per internal node: the exact path
        with_targets(lambda rng: np.where(np.arange(BATCH) == 0, -1, class_ids(6)(rng))),
    ),
    Entry(
        "HierarchicalSoftmax",
        lambda: keras_losses.HierarchicalSoftmax(
            keras_losses.Tree.from_paths(HIERARCHY_PATHS, HIERARCHY_CODES),
            use_bias=False,
            kernel_initializer="glorot_uniform",
            kernel_regularizer=keras.regularizers.L2(1e-3),
        ),
        lambda layer: hierarchical_softmax_training_model(layer),
        labels_as_input(5),
    ),
]

def by_name():
    return {entry.name: entry for entry in ENTRIES}
