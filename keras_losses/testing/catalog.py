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


def regression_targets(rng):
    return rng.normal(size=(BATCH, 2)).astype("float32")


def regularized_model(kernel_regularizer, loss="mse", weighted_metrics=None):
    """A one-layer model with `kernel_regularizer` on its Dense kernel."""
    model = keras.Sequential(
        [keras.Input((INPUT_DIM,)), keras.layers.Dense(2, kernel_regularizer=kernel_regularizer)]
    )
    model.compile(optimizer="sgd", loss=loss, weighted_metrics=weighted_metrics)
    return model


def applied_model(kernel_regularizer):
    """A functional model with a nested block, regularized after the fact by `apply`."""
    block = keras.Sequential(
        [keras.Input((INPUT_DIM,)), keras.layers.Dense(4, activation="tanh")], name="block"
    )
    inputs = keras.Input((INPUT_DIM,))
    outputs = keras.layers.Dense(2)(block(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mse")
    return keras_losses.regularizers.apply(
        model, kernel=kernel_regularizer, bias=keras_losses.L2(0.01)
    )


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
    # -- contrastive --------------------------------------------------------------
    Entry(
        "CLIPLoss",
        lambda: keras_losses.CLIPLoss(reduction="sum", name="clip"),
        lambda loss: two_tower_model(loss, keras_losses.ContrastiveLogits()),
        lambda rng: paired_views(rng),
    ),
    Entry(
        "SigLIPLoss",
        lambda: keras_losses.SigLIPLoss(across_replicas=True, dtype="float32"),
        lambda loss: two_tower_model(
            loss, keras_losses.ContrastiveLogits(logit_bias=-10.0, across_replicas=True)
        ),
        lambda rng: paired_views(rng),
    ),
    Entry(
        "ContrastiveLogits",
        lambda: keras_losses.ContrastiveLogits(
            logit_scale=10.0, max_logit_scale=50.0, logit_bias=-5.0, name="logits"
        ),
        lambda layer: two_tower_model(keras_losses.SigLIPLoss(), layer),
        lambda rng: paired_views(rng),
    ),
    Entry(
        "CLIPLoss-tiled",
        lambda: keras_losses.CLIPLoss(tiled=True, tile_size=3, name="tiled_clip"),
        lambda loss: two_tower_model(loss, keras_losses.ContrastiveLogits(tiled=True)),
        lambda rng: paired_views(rng),
    ),
    Entry(
        "SigLIPLoss-tiled",
        lambda: keras_losses.SigLIPLoss(tiled=True, tile_size=5, across_replicas=True),
        lambda loss: two_tower_model(
            loss, keras_losses.ContrastiveLogits(logit_bias=-10.0, tiled=True)
        ),
        lambda rng: paired_views(rng),
    ),
    # -- regularizers -------------------------------------------------------------
    Entry(
        "L1",
        lambda: keras_losses.L1(l1=0.05),
        lambda reg: regularized_model(reg),
        with_targets(regression_targets),
    ),
    Entry(
        "L2",
        lambda: keras_losses.L2(l2=0.05, half=True),
        lambda reg: regularized_model(reg),
        with_targets(regression_targets),
    ),
    Entry(
        "ElasticNet",
        lambda: keras_losses.ElasticNet(l1=0.02, l2=0.03),
        lambda reg: regularized_model(reg),
        with_targets(regression_targets),
    ),
    Entry(
        "MaxNormPenalty",
        lambda: keras_losses.MaxNormPenalty(max_value=0.5, strength=0.2, axis=[0]),
        lambda reg: regularized_model(reg),
        with_targets(regression_targets),
    ),
    # GroupLasso's model is a pretrained-style one (a nested Sequential block, biases
    # regularized too) made by regularizers.apply: the penalties must survive a .keras file.
    Entry(
        "GroupLasso",
        lambda: keras_losses.GroupLasso(strength=0.05, axis=1),
        lambda reg: applied_model(reg),
        with_targets(regression_targets),
    ),
    Entry(
        "DataLoss",
        lambda: keras_losses.DataLoss(keras_losses.Hinge(margin=0.5), name="hinge_data_loss"),
        lambda metric: regularized_model(keras_losses.L2(0.1), loss=keras_losses.Hinge(margin=0.5), weighted_metrics=[metric]),
        with_targets(binary),
    ),
    Entry(
        "LogRegularizationLoss",
        lambda: keras_losses.LogRegularizationLoss(data_loss="hinge_data_loss", name="penalty"),
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
    # -- optimizers -------------------------------------------------------------------
    Entry(
        "LazyAdam",
        lambda: keras_losses.LazyAdam(learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-6, clipnorm=1.0),
        lambda optimizer: lazy_adam_model(optimizer),
        labels_as_input(5),
    ),
    # -- metric learning ------------------------------------------------------------
    Entry(
        "TripletLoss",
        lambda: keras_losses.TripletLoss(margin=0.5, mining="hard", distance="cosine", soft=True, name="triplet"),
        loss_model(4),
        with_targets(class_ids(3)),
    ),
    Entry(
        "ContrastivePairLoss",
        lambda: keras_losses.ContrastivePairLoss(margin=2.0, reduction="sum"),
        loss_model(1, "softplus"),
        with_targets(lambda rng: rng.integers(0, 2, (BATCH, 1)).astype("float32")),
    ),
    Entry(
        "NPairsLoss",
        lambda: keras_losses.NPairsLoss(name="npairs", dtype="float32"),
        lambda loss: two_tower_model(loss, keras_losses.ContrastiveLogits()),
        lambda rng: paired_views(rng),
    ),
    Entry(
        "LiftedStructLoss",
        lambda: keras_losses.LiftedStructLoss(margin=0.5, across_replicas=True),
        loss_model(4),
        with_targets(class_ids(3)),
    ),
    Entry(
        "MultiSimilarityLoss",
        lambda: keras_losses.MultiSimilarityLoss(alpha=1.0, beta=10.0, base=0.4, epsilon=0.2),
        loss_model(4),
        with_targets(class_ids(3)),
    ),
    Entry(
        "SupervisedContrastiveLoss",
        lambda: keras_losses.SupervisedContrastiveLoss(temperature=0.5, reduction="sum"),
        loss_model(4),
        with_targets(class_ids(3)),
    ),
    Entry(
        "PinballLoss",
        lambda: keras_losses.PinballLoss(quantiles=[0.1, 0.5, 0.9], name="quantiles"),
        loss_model(3),
        with_targets(lambda rng: rng.normal(size=(BATCH,)).astype("float32")),
    ),
    Entry(
        "SparsemaxLoss",
        lambda: keras_losses.SparsemaxLoss(axis=-1, reduction="sum"),
        loss_model(4),
        with_targets(one_hot(4)),
    ),
    # -- linear cross-entropy (exact softmax over large vocabularies) -------------------
    Entry(
        "LinearCrossEntropyLoss",
        lambda: keras_losses.LinearCrossEntropyLoss(
            ignore_class=0, label_smoothing=0.1, z_loss=1e-3, reduction="sum", name="lce"
        ),
        lambda loss: linear_cross_entropy_model(keras_losses.LinearCrossEntropyHead(7, chunk_size=3), loss),
        labels_as_input(7),  # class 0 is ignored: a label outside [0, 7) would make the
        # training model's output (the statistics) NaN, which a prediction check cannot compare
    ),
    Entry(
        "LinearCrossEntropyHead",
        lambda: keras_losses.LinearCrossEntropyHead(
            7,
            use_bias=False,
            chunk_size=2,
            kernel_initializer="he_normal",
            bias_initializer="ones",
            kernel_regularizer=keras.regularizers.L2(1e-3),
        ),
        lambda head: linear_cross_entropy_model(head, keras_losses.LinearCrossEntropyLoss()),
        labels_as_input(7),
    ),
]


def linear_cross_entropy_model(head, loss):
    """A head trained through its statistics: labels are an input, as with the fast path."""
    features_in = keras.Input((INPUT_DIM,))
    labels_in = keras.Input((), dtype="int32")
    hidden = keras.layers.Dense(4, activation="tanh")(features_in)
    model = keras.Model([features_in, labels_in], head([hidden, labels_in]))
    model.compile(optimizer="sgd", loss=loss)
    return model


def two_tower_model(loss, logits_layer):
    """Two inputs, a Dense tower each, the logit matrix out; `y` is the pair ids."""
    images, texts = keras.Input((INPUT_DIM,)), keras.Input((INPUT_DIM + 1,))
    towers = [keras.layers.Dense(4)(images), keras.layers.Dense(4)(texts)]
    model = keras.Model([images, texts], logits_layer(towers))
    model.compile(optimizer="sgd", loss=loss)
    return model


def paired_views(rng):
    """Two views of the same latent vectors, and dataset indices beyond 2**24 as ids."""
    latent = rng.normal(size=(BATCH, INPUT_DIM)).astype("float32")
    texts = np.concatenate([latent[:, ::-1], rng.normal(size=(BATCH, 1))], 1).astype("float32")
    ids = (2**24 + rng.permutation(BATCH)).astype("int64")
    return [latent, texts], ids


def _prior_head(initializer):
    """A RetinaNet-style classification head: logits start at the prior."""
    model = keras.Sequential(
        [keras.Input((INPUT_DIM,)), keras.layers.Dense(2, bias_initializer=initializer)]
    )
    model.compile(optimizer="sgd", loss=keras_losses.BinaryFocalLoss(from_logits=True))
    return model


def lazy_adam_model(optimizer):
    """The fast path with row-sparse updates (`sparse_updates`), compiled with `optimizer`."""
    features_in = keras.Input((INPUT_DIM,))
    labels_in = keras.Input((), dtype="int32")
    hidden = keras.layers.Dense(4, activation="tanh")(features_in)
    layer = keras_losses.HierarchicalSoftmax(keras_losses.Tree.balanced(5))
    model = keras_losses.optimizers.sparse_updates(keras.Model([features_in, labels_in], layer([hidden, labels_in])))
    model.compile(optimizer=optimizer, loss=keras_losses.HierarchicalSoftmaxLoss(from_path_logits=True))
    return model


# -- CRF --------------------------------------------------------------------------------
CRF_VOCABULARY, CRF_STEPS, CRF_TAGS = 12, 5, 4


def crf_training_model(layer=None, loss=None):
    """Tokens (0 pads, masked by the Embedding) -> emissions -> CRF potentials."""
    layer = layer or keras_losses.layers.CRF(CRF_TAGS)
    tokens = keras.Input((None,), dtype="int32")
    hidden = keras.layers.Embedding(CRF_VOCABULARY, 4, mask_zero=True)(tokens)
    model = keras.Model(tokens, layer(keras.layers.Dense(CRF_TAGS)(hidden)))
    model.compile(optimizer="sgd", loss=loss or keras_losses.CRFLoss())
    return model


def crf_sequences(rng):
    """Token ids padded with 0 to variable lengths (one empty row), and their tags."""
    lengths = np.r_[0, 1, rng.integers(1, CRF_STEPS + 1, BATCH - 2)]
    real = np.arange(CRF_STEPS)[None, :] < lengths[:, None]
    tokens = np.where(real, rng.integers(1, CRF_VOCABULARY, (BATCH, CRF_STEPS)), 0).astype("int32")
    tags = np.where(real, rng.integers(0, CRF_TAGS, (BATCH, CRF_STEPS)), -1).astype("int32")
    return tokens, tags


ENTRIES += [
    Entry(
        "CRF",
        lambda: keras_losses.layers.CRF(
            CRF_TAGS,
            use_boundary_transitions=False,
            transitions_initializer="glorot_uniform",
            transitions_regularizer=keras.regularizers.L2(1e-3),
            name="crf",
        ),
        lambda layer: crf_training_model(layer=layer),
        crf_sequences,
    ),
    Entry(
        "CRFLoss",
        lambda: keras_losses.CRFLoss(reduction="sum", name="nll"),
        lambda loss: crf_training_model(loss=loss),
        crf_sequences,
    ),
    Entry(
        "StructuredHingeLoss",
        lambda: keras_losses.StructuredHingeLoss(cost=0.5, reduction="mean_with_sample_weight"),
        lambda loss: crf_training_model(loss=loss),
        crf_sequences,
    ),
]


def by_name():
    return {entry.name: entry for entry in ENTRIES}
