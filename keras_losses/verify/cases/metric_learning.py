"""Verification cases of the metric-learning, pinball and sparsemax losses.

The mining losses are checked against brute-force NumPy enumerations of pairs and
triplets (`testing/reference/metric_learning.py`). Class ids start at 2**24, where
float32 no longer holds every integer, and one class has a single example (an
anchor without a positive). Embeddings are drawn until no two compared quantities
are close (no tie between distances, no hinge near its kink), so that the mined
triplets are the same in float32 and float64 and finite differences are taken
away from every kink.
"""

import numpy as np

from keras_losses.losses import metric_learning
from keras_losses.losses import quantile
from keras_losses.losses import sparsemax
from keras_losses.testing.reference import metric_learning as oracle
from keras_losses.verify.case import NUMPY
from keras_losses.verify.case import Case
from keras_losses.verify.case import Reference
from keras_losses.verify.case import draw

FAMILY = "metric_learning"
FIRST_ID = 2**24
# Three classes of 3, 2 and 2 examples and one of a single example, shuffled.
CLASS_PATTERN = np.array([0, 0, 0, 1, 1, 2, 2, 3])
DIM = 3
GAP = 0.03


def _gaps_clear(values, gap=GAP):
    ordered = np.sort(np.asarray(values, np.float64))
    return ordered.size < 2 or np.min(np.diff(ordered)) > gap


def _triplet_inputs(margin=1.0, distance="euclidean", fallback=False, one_class=False):
    """Ids and embeddings with every distance, and every margin + d_ap, apart."""

    def sample(rng):
        ids = np.zeros(len(CLASS_PATTERN), int) if one_class else rng.permutation(CLASS_PATTERN)
        x = rng.normal(0.0, 1.0, (len(ids), DIM))
        return {"y_true": (FIRST_ID + ids).astype("int64"), "y_pred": x}

    def accept(inputs):
        ids, x = inputs["y_true"], inputs["y_pred"]
        if one_class:  # no triplet at all: the loss is 0 everywhere, no kink to avoid
            return True
        d = oracle.distance_matrix(x, distance)
        needs_fallback = False
        for a in range(len(ids)):
            others = [d[a, j] for j in range(len(ids)) if j != a]
            positives = [d[a, j] for j in range(len(ids)) if j != a and ids[j] == ids[a]]
            negatives = [d[a, k] for k in range(len(ids)) if ids[k] != ids[a]]
            if not _gaps_clear(others + [margin + p for p in positives]):
                return False
            if negatives and any(p > max(negatives) for p in positives):
                needs_fallback = True
        return needs_fallback or not fallback

    return lambda rng: draw(rng, sample, accept, tries=500)


def _similarity_inputs(epsilon=0.1):
    """Ids and embeddings whose cosine similarities are apart, also by epsilon."""

    def sample(rng):
        ids = rng.permutation(CLASS_PATTERN)
        x = rng.normal(0.0, 1.0, (len(ids), DIM))
        return {"y_true": (FIRST_ID + ids).astype("int64"), "y_pred": x}

    def accept(inputs):
        # Mining compares S_ik + epsilon (negative k) with S_ij (positive j) only.
        ids, x = inputs["y_true"], inputs["y_pred"]
        s = x @ x.T / np.outer(np.linalg.norm(x, axis=1), np.linalg.norm(x, axis=1))
        for a in range(len(x)):
            for j in range(len(x)):
                for k in range(len(x)):
                    if j != a and ids[j] == ids[a] and ids[k] != ids[a]:
                        if abs(s[a, k] + epsilon - s[a, j]) < 0.01:
                            return False
        return True

    return lambda rng: draw(rng, sample, accept, tries=500)


def _plain_inputs(repeated_per_class=2):
    def inputs(rng):
        ids = rng.permutation(CLASS_PATTERN)
        return {"y_true": (FIRST_ID + ids).astype("int64"), "y_pred": rng.normal(0.0, 1.0, (len(ids), DIM))}

    return inputs


def _similarity_matrix(repeated=False):
    def inputs(rng):
        ids = rng.permutation(CLASS_PATTERN) if repeated else rng.permutation(len(CLASS_PATTERN))
        n = len(ids)
        return {"y_true": (FIRST_ID + ids).astype("int64"), "y_pred": rng.normal(0.0, 2.0, (n, n))}

    return inputs


def _on(fn, **kwargs):
    return lambda y_true, y_pred: fn(y_true, y_pred, **kwargs)


def _triplet_case(name, oracle_fn, quick=False, inputs=None, **kwargs):
    oracle_kwargs = {k: v for k, v in kwargs.items() if k not in ("mining", "across_replicas")}
    return Case(
        name=name,
        family=FAMILY,
        build=lambda: metric_learning.TripletLoss(reduction=None, **kwargs),
        inputs=inputs
        or _triplet_inputs(kwargs.get("margin", 1.0), kwargs.get("distance", "euclidean")),
        references=(Reference("NumPy brute-force triplets", NUMPY, _on(oracle_fn, **oracle_kwargs)),),
        quick=quick,
    )


def _pinball_inputs(quantiles):
    def sample(rng):
        if isinstance(quantiles, list):
            y_true = rng.normal(0.0, 1.0, (8,))
            y_pred = rng.normal(0.0, 1.0, (8, len(quantiles)))
            return {"y_true": y_true, "y_pred": y_pred}
        return {"y_true": rng.normal(0.0, 1.0, (8, 2)), "y_pred": rng.normal(0.0, 1.0, (8, 2))}

    def accept(inputs):
        y_true = inputs["y_true"]
        if y_true.ndim < inputs["y_pred"].ndim:
            y_true = y_true[:, None]
        return np.min(np.abs(y_true - inputs["y_pred"])) > 0.05

    return lambda rng: draw(rng, sample, accept)


def _sparsemax_inputs(rng):
    def sample(rng):
        return {
            "y_true": np.eye(5)[rng.integers(0, 5, 8)],
            "y_pred": rng.normal(0.0, 1.5, (8, 5)),
        }

    def accept(inputs):
        # No logit at the support's edge (sparsemax(z)_j = 0 while z_j ~ tau).
        z = inputs["y_pred"]
        tau = np.max(z - oracle.sparsemax(z), axis=-1, keepdims=True)
        return np.min(np.abs(z - tau)) > 0.05

    return draw(rng, sample, accept)


CASES = [
    _triplet_case(
        "TripletLoss(semi_hard, euclidean)", oracle.triplet_semi_hard, quick=True,
        inputs=_triplet_inputs(fallback=True),
    ),
    _triplet_case(
        "TripletLoss(semi_hard, squared_euclidean, margin=0.5)", oracle.triplet_semi_hard,
        margin=0.5, distance="squared_euclidean",
    ),
    _triplet_case("TripletLoss(semi_hard, cosine)", oracle.triplet_semi_hard, distance="cosine"),
    _triplet_case(
        "TripletLoss(hard, euclidean)", oracle.triplet_hard, quick=True, mining="hard",
    ),
    _triplet_case(
        "TripletLoss(hard, cosine, soft)", oracle.triplet_hard, mining="hard", distance="cosine",
        soft=True,
    ),
    _triplet_case("TripletLoss(all, euclidean)", oracle.triplet_all, quick=True, mining="all"),
    _triplet_case(
        "TripletLoss(across_replicas=True), one replica", oracle.triplet_semi_hard,
        across_replicas=True,
    ),
    _triplet_case(
        "TripletLoss, one class: no valid triplet", oracle.triplet_semi_hard,
        inputs=_triplet_inputs(one_class=True),
    ),
    Case(
        name="ContrastivePairLoss(margin=2.0)",
        family=FAMILY,
        build=lambda: metric_learning.ContrastivePairLoss(margin=2.0, reduction=None),
        inputs=lambda rng: draw(
            rng,
            lambda r: {"y_true": r.integers(0, 2, (8,)).astype("float64"), "y_pred": r.uniform(0.0, 3.0, (8,))},
            lambda x: np.min(np.abs(x["y_pred"] - 2.0)) > 0.05,
        ),
        references=(Reference("NumPy Hadsell et al.", NUMPY, _on(oracle.contrastive_pair, margin=2.0)),),
        quick=True,
    ),
    Case(
        name="NPairsLoss, one pair per class",
        family=FAMILY,
        build=lambda: metric_learning.NPairsLoss(reduction=None),
        inputs=_similarity_matrix(),
        references=(Reference("NumPy N-pair", NUMPY, _on(oracle.npairs)),),
        quick=True,
    ),
    Case(
        name="NPairsLoss, repeated classes",
        family=FAMILY,
        build=lambda: metric_learning.NPairsLoss(reduction=None),
        inputs=_similarity_matrix(repeated=True),
        references=(Reference("NumPy N-pair", NUMPY, _on(oracle.npairs)),),
    ),
    Case(
        name="LiftedStructLoss",
        family=FAMILY,
        build=lambda: metric_learning.LiftedStructLoss(reduction=None),
        inputs=_plain_inputs(),
        references=(Reference("NumPy Oh Song et al.", NUMPY, _on(oracle.lifted_struct)),),
        quick=True,
    ),
    Case(
        name="MultiSimilarityLoss",
        family=FAMILY,
        build=lambda: metric_learning.MultiSimilarityLoss(reduction=None),
        inputs=_similarity_inputs(),
        references=(Reference("NumPy Wang et al.", NUMPY, _on(oracle.multi_similarity)),),
        quick=True,
    ),
    Case(
        name="SupervisedContrastiveLoss",
        family=FAMILY,
        build=lambda: metric_learning.SupervisedContrastiveLoss(reduction=None),
        inputs=_plain_inputs(),
        references=(Reference("NumPy Khosla et al.", NUMPY, _on(oracle.supervised_contrastive)),),
        quick=True,
    ),
    Case(
        name="SupervisedContrastiveLoss(temperature=0.5, across_replicas=True), one replica",
        family=FAMILY,
        build=lambda: metric_learning.SupervisedContrastiveLoss(
            temperature=0.5, across_replicas=True, reduction=None
        ),
        inputs=_plain_inputs(),
        references=(
            Reference("NumPy Khosla et al.", NUMPY, _on(oracle.supervised_contrastive, temperature=0.5)),
        ),
    ),
    Case(
        name="PinballLoss(quantiles=0.1)",
        family=FAMILY,
        build=lambda: quantile.PinballLoss(quantiles=0.1, reduction=None),
        inputs=_pinball_inputs(0.1),
        references=(Reference("NumPy pinball", NUMPY, _on(oracle.pinball, quantiles=0.1)),),
        quick=True,
    ),
    Case(
        name="PinballLoss(quantiles=[0.1, 0.5, 0.9])",
        family=FAMILY,
        build=lambda: quantile.PinballLoss(quantiles=[0.1, 0.5, 0.9], reduction=None),
        inputs=_pinball_inputs([0.1, 0.5, 0.9]),
        references=(
            Reference("NumPy pinball", NUMPY, _on(oracle.pinball, quantiles=[0.1, 0.5, 0.9])),
        ),
    ),
    Case(
        name="SparsemaxLoss",
        family=FAMILY,
        build=lambda: sparsemax.SparsemaxLoss(reduction=None),
        inputs=_sparsemax_inputs,
        references=(Reference("NumPy Martins & Astudillo", NUMPY, _on(oracle.sparsemax_loss)),),
        quick=True,
    ),
]
