"""One example of every public object: the one place a new object is registered.

An entry builds its object with non-default arguments (written out in `arguments`,
so that a config that dropped or changed one would show), and gives a small model
that uses it. For a loss it also names the function twin and says how the property
test draws its extreme inputs. The tests that walk this table:

* tests/test_serialization.py: the config gives every argument back and round trips
  (`from_config`, `serialize_keras_object`), and a `.keras` file of each model loads
  and evaluates identically in a fresh process after only `import keras_losses`;
* tests/losses/test_function_twins.py: a model compiled with each twin reloads;
* tests/losses/test_properties.py: finite, non-negative values on extreme inputs;
* tests/verify/test_cli.py: every loss and regularizer has a verification case;
* tests/distribute/: every loss trains the same on one device and data-parallel.

The golden files under `tests/golden/<version>/` are saved from the same models, so
a later release is held to what this one saved.
"""

import dataclasses
from typing import Callable

import keras
import numpy as np

import keras_losses as kl
from keras_losses.testing import extremes
from keras_losses.testing.extremes import Extremes

INPUT_DIM = 3
BATCH = 8


@dataclasses.dataclass(frozen=True)
class Twin:
    """The function twin of a loss, and the model it is compiled into (default: the
    entry's `model` and `data`, where the function's default arguments suit them)."""

    function: Callable
    model: Callable = None
    data: Callable = None


@dataclasses.dataclass(frozen=True)
class Entry:
    """An example of one public object.

    Attributes:
        cls: the class, or a constructor of it (`Tree.huffman`).
        arguments: the keyword arguments it is built with, non-default where the
            argument has a default: `get_config()` must give each of them back.
        model: `model(obj)` returns a compiled Keras model that uses it, or `None`
            for objects that live inside another's config (a `Tree`) or a callback.
        data: `data(rng)` returns `(x, y)` for `model`.
        name: unique, used as a file name; default the class's name.
        twin: for a loss, its function twin (`Twin`).
        extremes: for a loss, the configurations the property test checks.
        in_weights: arguments that a `.keras` file keeps in the weights rather than
            in the config (a user hierarchy's tree): the fresh-process load checks them.
    """

    cls: Callable
    arguments: dict
    model: Callable = None
    data: Callable = None
    name: str = None
    twin: Twin = None
    extremes: tuple = ()
    in_weights: tuple = ()

    def __post_init__(self):
        if self.name is None:
            object.__setattr__(self, "name", self.cls.__name__)

    def build(self):
        return self.cls(**self.arguments)


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
    return kl.regularizers.apply(
        model, kernel=kernel_regularizer, bias=kl.L2(0.01)
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


def _features_and_labels():
    """The inputs of a head trained with its labels as an input: features, integer
    labels, and a hidden layer over the features."""
    features_in = keras.Input((INPUT_DIM,))
    labels_in = keras.Input((), dtype="int32")
    return features_in, labels_in, keras.layers.Dense(4, activation="tanh")(features_in)


def hierarchical_softmax_training_model(layer):
    """The fast path: labels are an input, the layer returns masked path logits."""
    features_in, labels_in, hidden = _features_and_labels()
    model = keras.Model([features_in, labels_in], layer([hidden, labels_in]))
    model.compile(optimizer="sgd", loss=kl.HierarchicalSoftmaxLoss(from_path_logits=True))
    return model


def linear_cross_entropy_model(head, loss):
    """A head trained through its statistics: labels are an input, as with the fast path."""
    features_in, labels_in, hidden = _features_and_labels()
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
    model.compile(optimizer="sgd", loss=kl.BinaryFocalLoss(from_logits=True))
    return model


def lazy_adam_model(optimizer):
    """The fast path with row-sparse updates (`sparse_updates`), compiled with `optimizer`."""
    features_in, labels_in, hidden = _features_and_labels()
    layer = kl.HierarchicalSoftmax(kl.Tree.balanced(5))
    model = kl.optimizers.sparse_updates(keras.Model([features_in, labels_in], layer([hidden, labels_in])))
    model.compile(optimizer=optimizer, loss=kl.HierarchicalSoftmaxLoss(from_path_logits=True))
    return model


CRF_VOCABULARY, CRF_STEPS, CRF_TAGS = 12, 5, 4


def crf_training_model(layer=None, loss=None):
    """Tokens (0 pads, masked by the Embedding) -> emissions -> CRF potentials."""
    layer = layer or kl.layers.CRF(CRF_TAGS)
    tokens = keras.Input((None,), dtype="int32")
    hidden = keras.layers.Embedding(CRF_VOCABULARY, 4, mask_zero=True)(tokens)
    model = keras.Model(tokens, layer(keras.layers.Dense(CRF_TAGS)(hidden)))
    model.compile(optimizer="sgd", loss=loss or kl.CRFLoss())
    return model


def crf_sequences(rng):
    """Token ids padded with 0 to variable lengths (one empty row), and their tags."""
    lengths = np.r_[0, 1, rng.integers(1, CRF_STEPS + 1, BATCH - 2)]
    real = np.arange(CRF_STEPS)[None, :] < lengths[:, None]
    tokens = np.where(real, rng.integers(1, CRF_VOCABULARY, (BATCH, CRF_STEPS)), 0).astype("int32")
    tags = np.where(real, rng.integers(0, CRF_TAGS, (BATCH, CRF_STEPS)), -1).astype("int32")
    return tokens, tags


ENTRIES = [
    # -- regression ---------------------------------------------------------------
    Entry(
        kl.MeanSquaredLogarithmicError,
        dict(reduction="sum", name="msle"),
        loss_model(2, "softplus"),
        with_targets(lambda rng: rng.uniform(0, 5, (BATCH, 2)).astype("float32")),
        twin=Twin(kl.mean_squared_logarithmic_error),
        extremes=[Extremes({}, extremes.regression, "regression", 3e38, 2)],
    ),
    # -- hinges -------------------------------------------------------------------
    Entry(
        kl.Hinge,
        dict(margin=0.5, dtype="float32"),
        loss_model(2),
        with_targets(binary),
        twin=Twin(kl.hinge),
        extremes=[Extremes({}, extremes.binary, "logits", 1e37, 2)],
    ),
    Entry(
        kl.SquaredHinge,
        dict(margin=2.0, reduction="mean"),
        loss_model(2),
        with_targets(binary),
        twin=Twin(kl.squared_hinge),
        extremes=[Extremes(dict(margin=2.0), extremes.binary, "logits", 1e15, 2)],
    ),
    Entry(
        kl.MulticlassHinge,
        dict(margin=0.5, squared=True, variant="crammer_singer"),
        loss_model(4),
        with_targets(one_hot(4)),
        twin=Twin(kl.multiclass_hinge),
        extremes=[
            Extremes({}, extremes.one_hot, "logits", 1e37),
            Extremes(dict(variant="crammer_singer", squared=True), extremes.one_hot, "logits", 1e15),
        ],
    ),
    Entry(
        kl.SparseMulticlassHinge,
        dict(margin=2.0, variant="weston_watkins", name="svm"),
        loss_model(4),
        with_targets(class_ids(4)),
        twin=Twin(kl.sparse_multiclass_hinge),
        extremes=[Extremes(dict(variant="crammer_singer"), extremes.classes(3), "logits", 1e37)],
    ),
    # -- contrastive --------------------------------------------------------------
    Entry(
        kl.CLIPLoss,
        dict(reduction="sum", name="clip"),
        lambda loss: two_tower_model(loss, kl.ContrastiveLogits()),
        lambda rng: paired_views(rng),
        twin=Twin(kl.clip_loss),
        extremes=[Extremes({}, extremes.pair_ids, "logits", 1e38, "batch")],
    ),
    Entry(
        kl.SigLIPLoss,
        dict(across_replicas=True, dtype="float32"),
        lambda loss: two_tower_model(loss, kl.ContrastiveLogits(logit_bias=-10.0, across_replicas=True)),
        lambda rng: paired_views(rng),
        twin=Twin(kl.siglip_loss, lambda loss: two_tower_model(loss, kl.ContrastiveLogits())),
        extremes=[Extremes({}, extremes.pair_ids, "logits", 1e37, "batch")],
    ),
    Entry(
        kl.ContrastiveLogits,
        dict(logit_scale=10.0, max_logit_scale=50.0, logit_bias=-5.0, name="logits"),
        lambda layer: two_tower_model(kl.SigLIPLoss(), layer),
        lambda rng: paired_views(rng),
    ),
    Entry(
        kl.CLIPLoss,
        dict(tiled=True, tile_size=3, name="tiled_clip"),
        lambda loss: two_tower_model(loss, kl.ContrastiveLogits(tiled=True)),
        lambda rng: paired_views(rng),
        name="CLIPLoss-tiled",
        extremes=[Extremes(dict(tiled=True, tile_size=2), limit=1e38, make=extremes.packed_embeddings)],
    ),
    Entry(
        kl.SigLIPLoss,
        dict(tiled=True, tile_size=5, across_replicas=True),
        lambda loss: two_tower_model(loss, kl.ContrastiveLogits(logit_bias=-10.0, tiled=True)),
        lambda rng: paired_views(rng),
        name="SigLIPLoss-tiled",
        extremes=[Extremes(dict(tiled=True, tile_size=2), limit=1e37, make=extremes.packed_embeddings)],
    ),
    # -- regularizers -------------------------------------------------------------
    Entry(kl.L1, dict(l1=0.05), regularized_model, with_targets(regression_targets)),
    Entry(kl.L2, dict(l2=0.05, half=True), regularized_model, with_targets(regression_targets)),
    Entry(kl.ElasticNet, dict(l1=0.02, l2=0.03), regularized_model, with_targets(regression_targets)),
    Entry(
        kl.MaxNormPenalty,
        dict(max_value=0.5, strength=0.2, axis=[0]),
        regularized_model,
        with_targets(regression_targets),
    ),
    # GroupLasso's model is a pretrained-style one (a nested Sequential block, biases
    # regularized too) made by regularizers.apply: the penalties must survive a .keras file.
    Entry(kl.GroupLasso, dict(strength=0.05, axis=1), applied_model, with_targets(regression_targets)),
    Entry(
        kl.DataLoss,
        dict(loss=kl.Hinge(margin=0.5), name="hinge_data_loss"),
        lambda metric: regularized_model(kl.L2(0.1), loss=kl.Hinge(margin=0.5), weighted_metrics=[metric]),
        with_targets(binary),
    ),
    Entry(kl.LogRegularizationLoss, dict(data_loss="hinge_data_loss", name="penalty")),
    # -- hierarchical softmax --------------------------------------------------------
    Entry(kl.Tree.huffman, dict(class_counts=[40, 10, 25, 5, 5, 15]), name="Tree"),
    Entry(
        kl.HierarchicalSoftmaxLoss,
        dict(tree=kl.Tree.huffman([40, 10, 25, 5, 5, 15]), ignore_class=-1, name="hs"),
        loss_model(5),  # one logit per internal node: the exact path
        with_targets(lambda rng: np.where(np.arange(BATCH) == 0, -1, class_ids(6)(rng))),
        # hierarchical_softmax_loss needs the tree: the twin test has no model for it
        extremes=[
            Extremes(dict(tree=extremes.TREE), extremes.classes(extremes.TREE.num_classes), "logits", 1e37,
                     extremes.TREE.num_nodes),
        ],
    ),
    Entry(
        kl.HierarchicalSoftmax,
        dict(
            tree=kl.Tree.from_paths(HIERARCHY_PATHS, HIERARCHY_CODES),
            use_bias=False,
            kernel_initializer="glorot_uniform",
            kernel_regularizer=keras.regularizers.L2(1e-3),
        ),
        hierarchical_softmax_training_model,
        labels_as_input(5),
        in_weights=("tree",),
    ),
    # -- focal --------------------------------------------------------------------
    Entry(
        kl.BinaryFocalLoss,
        dict(gamma=1.5, alpha=0.4, from_logits=True, label_smoothing=0.05),
        loss_model(2),
        with_targets(binary),
        twin=Twin(kl.binary_focal_loss, loss_model(2, "sigmoid")),
        extremes=[
            Extremes({}, extremes.binary, "probabilities", 1.0, 2),
            Extremes(dict(from_logits=True, gamma=0.5), extremes.binary, "logits", 1e38, 2),
        ],
    ),
    Entry(
        kl.CategoricalFocalLoss,
        dict(gamma=0.5, alpha=[0.5, 1.0, 2.0, 1.0], from_logits=True, label_smoothing=0.1, name="cfl"),
        loss_model(4),
        with_targets(one_hot(4)),
        twin=Twin(kl.categorical_focal_loss, loss_model(4, "softmax")),
        extremes=[
            Extremes(dict(alpha=[0.5, 1.0, 2.0]), extremes.one_hot, "rows", 1.0),
            Extremes(dict(from_logits=True), extremes.one_hot, "logits", 1e38),
        ],
    ),
    Entry(
        kl.SparseCategoricalFocalLoss,
        dict(gamma=1.0, alpha=0.5, ignore_class=3, reduction="sum"),
        loss_model(4, "softmax"),
        with_targets(class_ids(4)),
        twin=Twin(kl.sparse_categorical_focal_loss),
        extremes=[
            Extremes(dict(gamma=0.5), extremes.classes(3), "rows", 1.0),
            Extremes(dict(from_logits=True, ignore_class=1), extremes.classes(3), "logits", 1e38),
        ],
    ),
    Entry(kl.PriorProbability, dict(probability=0.05), _prior_head, with_targets(binary)),
    # -- optimizers -------------------------------------------------------------------
    Entry(
        kl.LazyAdam,
        dict(learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-6, clipnorm=1.0),
        lazy_adam_model,
        labels_as_input(5),
    ),
    # -- metric learning ------------------------------------------------------------
    Entry(
        kl.TripletLoss,
        dict(margin=0.5, mining="hard", distance="cosine", soft=True, name="triplet"),
        loss_model(4),
        with_targets(class_ids(3)),
        twin=Twin(kl.triplet_loss),
        extremes=[
            Extremes({}, limit=1e18, make=extremes.embeddings),
            Extremes(dict(mining="hard", distance="cosine", soft=True), limit=1e18, make=extremes.embeddings),
        ],
    ),
    Entry(
        kl.ContrastivePairLoss,
        dict(margin=2.0, reduction="sum"),
        loss_model(1, "softplus"),
        with_targets(lambda rng: rng.integers(0, 2, (BATCH, 1)).astype("float32")),
        twin=Twin(kl.contrastive_pair_loss),
        extremes=[Extremes(dict(margin=2.0), limit=1e18, make=extremes.distances)],
    ),
    Entry(
        kl.NPairsLoss,
        dict(name="npairs", dtype="float32"),
        lambda loss: two_tower_model(loss, kl.ContrastiveLogits()),
        lambda rng: paired_views(rng),
        # Keras casts the function's ids to float: exact while below 2**24
        twin=Twin(kl.npairs_loss, data=lambda rng: (paired_views(rng)[0], rng.permutation(BATCH))),
        extremes=[Extremes({}, extremes.pair_ids, "logits", 1e37, "batch")],
    ),
    Entry(
        kl.LiftedStructLoss,
        dict(margin=0.5, across_replicas=True),
        loss_model(4),
        with_targets(class_ids(3)),
        twin=Twin(kl.lifted_struct_loss),
        extremes=[Extremes({}, limit=1e18, make=extremes.embeddings)],
    ),
    Entry(
        kl.MultiSimilarityLoss,
        dict(alpha=1.0, beta=10.0, base=0.4, epsilon=0.2),
        loss_model(4),
        with_targets(class_ids(3)),
        twin=Twin(kl.multi_similarity_loss),
        extremes=[Extremes({}, limit=1e18, make=extremes.embeddings)],
    ),
    Entry(
        kl.SupervisedContrastiveLoss,
        dict(temperature=0.5, reduction="sum"),
        loss_model(4),
        with_targets(class_ids(3)),
        twin=Twin(kl.supervised_contrastive_loss),
        extremes=[Extremes({}, limit=1e18, make=extremes.embeddings)],
    ),
    Entry(
        kl.PinballLoss,
        dict(quantiles=[0.1, 0.5, 0.9], name="quantiles"),
        loss_model(3),
        with_targets(lambda rng: rng.normal(size=(BATCH,)).astype("float32")),
        twin=Twin(kl.pinball_loss, loss_model(1), with_targets(lambda rng: rng.normal(size=(BATCH, 1)).astype("float32"))),
        extremes=[
            Extremes(dict(quantiles=0.3), extremes.quantile_targets(2), "regression", 1e37, 2),
            Extremes(dict(quantiles=[0.1, 0.5, 0.9]), extremes.quantile_targets(1), "regression", 1e37, 3),
        ],
    ),
    Entry(
        kl.SparsemaxLoss,
        dict(axis=-1, reduction="sum"),
        loss_model(4),
        with_targets(one_hot(4)),
        twin=Twin(kl.sparsemax_loss),
        extremes=[Extremes({}, extremes.one_hot, "logits", 1e38)],
    ),
    # -- linear cross-entropy (exact softmax over large vocabularies) -------------------
    Entry(
        kl.LinearCrossEntropyLoss,
        dict(ignore_class=0, label_smoothing=0.1, z_loss=1e-3, reduction="sum", name="lce"),
        lambda loss: linear_cross_entropy_model(kl.LinearCrossEntropyHead(7, chunk_size=3), loss),
        labels_as_input(7),  # class 0 is ignored: a label outside [0, 7) would make the
        # training model's output (the statistics) NaN, which a prediction check cannot compare.
        # linear_cross_entropy(hidden, kernel, labels) takes the head's weights: no twin model.
        extremes=[
            Extremes({}, limit=1e38, make=extremes.logit_statistics),
            Extremes(dict(label_smoothing=0.1), limit=1e37, make=extremes.logit_statistics),
        ],
    ),
    Entry(
        kl.LinearCrossEntropyHead,
        dict(
            units=7,
            use_bias=False,
            chunk_size=2,
            kernel_initializer="he_normal",
            bias_initializer="ones",
            kernel_regularizer=keras.regularizers.L2(1e-3),
        ),
        lambda head: linear_cross_entropy_model(head, kl.LinearCrossEntropyLoss()),
        labels_as_input(7),
    ),
    # -- CRF ------------------------------------------------------------------------------
    Entry(
        kl.CRF,
        dict(
            num_tags=CRF_TAGS,
            use_boundary_transitions=False,
            transitions_initializer="glorot_uniform",
            transitions_regularizer=keras.regularizers.L2(1e-3),
            name="crf",
        ),
        lambda layer: crf_training_model(layer=layer),
        crf_sequences,
    ),
    Entry(
        kl.CRFLoss,
        dict(reduction="sum", name="nll"),
        lambda loss: crf_training_model(loss=loss),
        crf_sequences,
        twin=Twin(kl.crf_loss),
        extremes=[Extremes({}, limit=1e37, make=extremes.crf_potentials)],
    ),
    Entry(
        kl.StructuredHingeLoss,
        dict(cost=0.5, reduction="mean_with_sample_weight"),
        lambda loss: crf_training_model(loss=loss),
        crf_sequences,
        twin=Twin(kl.structured_hinge_loss),
        extremes=[Extremes(dict(cost=0.5), limit=1e37, make=extremes.crf_potentials)],
    ),
]


def by_name():
    return {entry.name: entry for entry in ENTRIES}
