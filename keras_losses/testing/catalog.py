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
    # -- focal --------------------------------------------------------------------
    Entry(
        "BinaryFocalLoss",
        lambda: keras_losses.BinaryFocalLoss(gamma=1.5, alpha=0.4, from_logits=True, label_smoothing=0.05),
        loss_model(2),
        with_targets(binary),
    ),
    Entry(
        "CategoricalFocalLoss",
        lambda: keras_losses.CategoricalFocalLoss(
            gamma=0.5, alpha=[0.5, 1.0, 2.0, 1.0], from_logits=True, label_smoothing=0.1, name="cfl"
        ),
        loss_model(4),
        with_targets(one_hot(4)),
    ),
    Entry(
        "SparseCategoricalFocalLoss",
        lambda: keras_losses.SparseCategoricalFocalLoss(
            gamma=1.0, alpha=0.5, ignore_class=3, reduction="sum"
        ),
        loss_model(4, "softmax"),
        with_targets(class_ids(4)),
    ),
    Entry(
        "PriorProbability",
        lambda: keras_losses.PriorProbability(probability=0.05),
        lambda initializer: _prior_head(initializer),
        with_targets(binary),
    ),
]


def _prior_head(initializer):
    """A RetinaNet-style classification head: logits start at the prior."""
    model = keras.Sequential(
        [keras.Input((INPUT_DIM,)), keras.layers.Dense(2, bias_initializer=initializer)]
    )
    model.compile(optimizer="sgd", loss=keras_losses.BinaryFocalLoss(from_logits=True))
    return model


def by_name():
    return {entry.name: entry for entry in ENTRIES}
