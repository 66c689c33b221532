"""Properties every public loss keeps on extreme finite inputs (hypothesis, derandomized).

For each loss of the package (the table below must name every one), inputs are drawn
from pools of extreme finite values: probabilities of exactly 0 and 1, the smallest
normal floats, logits up to 1e38 (3e38 in the pinned examples), in float16, float32
and float64, and batches of 0 examples. Each draw is evaluated with the loss dtype
float32, float64 and float16, with `reduction=None`:

* finite: wherever the true loss is representable (the pools keep it so: a hinge of
  scores 3e38 apart is 6e38, which no float32 holds), in float32 and float64;
* finite with `dtype="float16"` wherever the float32 value fits in float16, also
  after the mean over the batch (the maths runs in float32, only the result is
  16-bit);
* non-negative (every loss here is), up to rounding at the inputs' magnitude;
* float64 and float32 agree on moderate inputs (logits within +-30, probabilities
  inside [0.01, 0.99]), where both are accurate.

`@example`s pin the inputs of bugs found before (issue 12: float64 0/1
probabilities, empty batches, a 16-bit loss dtype, a logit gap beyond the float
range), so the test fails if any of them comes back whatever the draws.
"""

import dataclasses
from typing import Callable

import hypothesis
import keras
import numpy as np
import pytest
from hypothesis import strategies as st

import keras_losses as kl
from keras_losses.testing import catalog

CLASSES = 3
MAX_BATCH = 3
TREE = kl.Tree.balanced(5)  # 4 nodes, paths of 2 or 3

# Extreme values a pool draws from (each keeps the true loss of its family finite).
TINY32 = float(np.finfo("float32").tiny)


def _pool(limit):
    values = [0.0, 1.0, -1.0, 0.5, TINY32, -TINY32, 1e-30, -1e-30, 1e-4, 30.0, -30.0, 1e4, -1e4]
    for power in (15, 20, 30, 37, 38):
        values += [10.0**power, -(10.0**power)]
    return [v for v in values if abs(v) <= limit]


PROBABILITIES = [0.0, 1.0, TINY32, 1e-30, 1e-7, 0.5, 0.25, 1 - 2**-24, 1 - 2**-12]
MODERATE_PROBABILITIES = [0.01, 0.2, 0.5, 0.7, 0.99]
MODERATE_LOGITS = [-30.0, -3.0, -0.5, 0.0, 0.7, 2.0, 30.0]
FLOAT16_MAX = float(np.finfo("float16").max)


@dataclasses.dataclass(frozen=True)
class Case:
    """A loss and how to draw its inputs.

    Attributes:
        name: test id.
        build: `build(dtype, reduction=None)` returns the loss.
        targets: `targets(draw, n, moderate)` returns `y_true` for a batch of `n`.
        predictions: `"logits"`, `"probabilities"` or `"rows"` (row-normalised
            probabilities), with `columns` per example.
        limit: the largest magnitude of a prediction (keeps the true loss finite).
        columns: predictions per example; `"batch"` for an (n, n) logit matrix.
        make: `make(draw, n, pool)` returns `(y_true, y_pred)` from the pool of
            prediction values, for losses whose `y_pred` is structured (packed
            embeddings, CRF potentials, logit statistics); `targets` is then unused.
    """

    name: str
    build: Callable
    targets: Callable
    predictions: str = "logits"
    limit: float = 1e38
    columns: object = CLASSES
    make: Callable = None


def binary_targets(draw, n, moderate):
    return np.array(draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=n * 2, max_size=n * 2)), "float32").reshape(n, 2)


def one_hot_targets(draw, n, moderate):
    labels = draw(st.lists(st.integers(0, CLASSES - 1), min_size=n, max_size=n))
    return np.eye(CLASSES, dtype="float32")[np.array(labels, int)].reshape(n, CLASSES)


def class_targets(classes):
    def targets(draw, n, moderate):
        return np.array(draw(st.lists(st.integers(0, classes - 1), min_size=n, max_size=n)), "int32")

    return targets


def regression_targets(draw, n, moderate):
    pool = [0.0, 0.5, 3.0] if moderate else [0.0, TINY32, 1.0, 1e4, 1e30, 3e38, -1.0]
    return np.array(draw(st.lists(st.sampled_from(pool), min_size=n * 2, max_size=n * 2)), "float32").reshape(n, 2)


def pair_ids(draw, n, moderate):
    return np.array(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)), "int64")


def _with(cls, **kwargs):
    return lambda dtype, reduction=None: cls(reduction=reduction, dtype=dtype, **kwargs)


CASES = [
    Case("MeanSquaredLogarithmicError", _with(kl.MeanSquaredLogarithmicError), regression_targets, "regression", 3e38, 2),
    Case("Hinge", _with(kl.Hinge), binary_targets, "logits", 1e37, 2),
    Case("SquaredHinge", _with(kl.SquaredHinge, margin=2.0), binary_targets, "logits", 1e15, 2),
    Case("MulticlassHinge", _with(kl.MulticlassHinge), one_hot_targets, "logits", 1e37),
    Case("MulticlassHinge(crammer_singer, squared)", _with(kl.MulticlassHinge, variant="crammer_singer", squared=True), one_hot_targets, "logits", 1e15),
    Case("SparseMulticlassHinge(crammer_singer)", _with(kl.SparseMulticlassHinge, variant="crammer_singer"), class_targets(CLASSES), "logits", 1e37),
    Case("BinaryFocalLoss", _with(kl.BinaryFocalLoss), binary_targets, "probabilities", 1.0, 2),
    Case("BinaryFocalLoss(from_logits)", _with(kl.BinaryFocalLoss, from_logits=True, gamma=0.5), binary_targets, "logits", 1e38, 2),
    Case("CategoricalFocalLoss", _with(kl.CategoricalFocalLoss, alpha=[0.5, 1.0, 2.0]), one_hot_targets, "rows", 1.0),
    Case("CategoricalFocalLoss(from_logits)", _with(kl.CategoricalFocalLoss, from_logits=True), one_hot_targets, "logits", 1e38),
    Case("SparseCategoricalFocalLoss", _with(kl.SparseCategoricalFocalLoss, gamma=0.5), class_targets(CLASSES), "rows", 1.0),
    Case("SparseCategoricalFocalLoss(from_logits)", _with(kl.SparseCategoricalFocalLoss, from_logits=True, ignore_class=1), class_targets(CLASSES), "logits", 1e38),
    Case("CLIPLoss", _with(kl.CLIPLoss), pair_ids, "logits", 1e38, "batch"),
    Case("SigLIPLoss", _with(kl.SigLIPLoss), pair_ids, "logits", 1e37, "batch"),
    Case("HierarchicalSoftmaxLoss", _with(kl.HierarchicalSoftmaxLoss, tree=TREE), class_targets(TREE.num_classes), "logits", 1e37, TREE.num_nodes),
]


# -- the losses added in 0.2: structured inputs, drawn from the same pools ---------------


def pinball_targets(columns):
    def targets(draw, n, moderate):
        pool = [0.0, 0.5, 3.0] if moderate else [0.0, TINY32, -1.0, 1e4, -1e30, 1e37, -1e37]
        values = draw(st.lists(st.sampled_from(pool), min_size=n * columns, max_size=n * columns))
        return np.array(values, "float32").reshape((n, columns) if columns > 1 else (n,))

    return targets


def _values_from(draw, pool, count):
    return np.array(draw(st.lists(st.sampled_from(pool), min_size=count, max_size=count)), "float64")


def distances(draw, n, pool):
    """Pair distances (non-negative) and similar (1) / dissimilar (0) labels."""
    return binary_targets(draw, n, False), np.abs(_values_from(draw, pool, n * 2)).reshape(n, 2)


def embeddings(draw, n, pool):
    """Embeddings `(n, 2)` and class ids among 2 classes (positives and negatives)."""
    return class_targets(2)(draw, n, False), _values_from(draw, pool, n * 2).reshape(n, 2)


def _unit_rows(values):
    values = values.copy()
    values[np.all(values == 0, axis=1), 0] = 1.0
    return values / np.sqrt(np.sum(np.square(values / np.max(np.abs(values), 1, keepdims=True)), 1, keepdims=True)) / np.max(np.abs(values), 1, keepdims=True)


def packed_embeddings(draw, n, pool):
    """`ContrastiveLogits(tiled=True)`'s `[a, b, scale, bias]`: unit rows, extreme scale and bias."""
    rows = _unit_rows(_values_from(draw, pool, n * 4).reshape(n * 2, 2))
    scale = draw(st.sampled_from([v for v in pool if v > 0]))
    bias = draw(st.sampled_from(pool))
    packed = np.concatenate([rows[:n], rows[n:], np.full((n, 1), scale), np.full((n, 1), bias)], 1)
    return pair_ids(draw, n, False), packed


CRF_STEPS, CRF_TAGS = 2, 2


def crf_potentials(draw, n, pool):
    """Gold tags and the CRF layer's packed potentials (layout of `keras_losses.crf.pack`,
    written out here): emissions and the real-step flag, then transitions, start, end."""
    k = CRF_TAGS
    emissions = _values_from(draw, pool, n * CRF_STEPS * k).reshape(n, CRF_STEPS, k)
    table = _values_from(draw, pool, (k + 2) * k).reshape(k + 2, k)
    lengths = np.array(draw(st.lists(st.integers(0, CRF_STEPS), min_size=n, max_size=n)), int)
    real = (np.arange(CRF_STEPS)[None, :] < lengths.reshape(n, 1)).astype("float64")
    steps = np.concatenate([emissions, real[..., None]], -1)
    table = np.broadcast_to(np.pad(table, [(0, 0), (0, 1)]), (n, k + 2, k + 1))
    tags = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n * CRF_STEPS, max_size=n * CRF_STEPS)), "int32")
    return tags.reshape(n, CRF_STEPS), np.concatenate([steps, table], 1)


def logit_statistics(draw, n, pool):
    """Labels and `LinearCrossEntropyHead`'s `[logsumexp, label logit, mean logit]`,
    computed here in float64 from logits drawn from the pool."""
    logits = _values_from(draw, pool, n * CLASSES).reshape(n, CLASSES)
    labels = class_targets(CLASSES)(draw, n, False)
    top = np.max(logits, 1, initial=0.0) if n else np.zeros(0)
    logsumexp = top + np.log(np.sum(np.exp(logits - top.reshape(n, 1)), 1))
    label_logit = logits[np.arange(n), labels]
    return labels, np.stack([logsumexp, label_logit, np.mean(logits, 1) if n else np.zeros(0)], 1).reshape(n, 3)


CASES += [
    Case("CLIPLoss-tiled", _with(kl.CLIPLoss, tiled=True, tile_size=2), None, limit=1e38, make=packed_embeddings),
    Case("SigLIPLoss-tiled", _with(kl.SigLIPLoss, tiled=True, tile_size=2), None, limit=1e37, make=packed_embeddings),
    Case("CRFLoss", _with(kl.CRFLoss), None, limit=1e37, make=crf_potentials),
    Case("StructuredHingeLoss", _with(kl.StructuredHingeLoss, cost=0.5), None, limit=1e37, make=crf_potentials),
    Case("LinearCrossEntropyLoss", _with(kl.LinearCrossEntropyLoss), None, limit=1e38, make=logit_statistics),
    Case("LinearCrossEntropyLoss(label_smoothing)", _with(kl.LinearCrossEntropyLoss, label_smoothing=0.1), None, limit=1e37, make=logit_statistics),
    Case("TripletLoss", _with(kl.TripletLoss), None, limit=1e18, make=embeddings),
    Case("TripletLoss(hard, cosine, soft)", _with(kl.TripletLoss, mining="hard", distance="cosine", soft=True), None, limit=1e18, make=embeddings),
    Case("ContrastivePairLoss", _with(kl.ContrastivePairLoss, margin=2.0), None, limit=1e18, make=distances),
    Case("NPairsLoss", _with(kl.NPairsLoss), pair_ids, "logits", 1e37, "batch"),
    Case("LiftedStructLoss", _with(kl.LiftedStructLoss), None, limit=1e18, make=embeddings),
    Case("MultiSimilarityLoss", _with(kl.MultiSimilarityLoss), None, limit=1e18, make=embeddings),
    Case("SupervisedContrastiveLoss", _with(kl.SupervisedContrastiveLoss), None, limit=1e18, make=embeddings),
    Case("PinballLoss", _with(kl.PinballLoss, quantiles=0.3), pinball_targets(2), "regression", 1e37, 2),
    Case("PinballLoss(quantiles)", _with(kl.PinballLoss, quantiles=[0.1, 0.5, 0.9]), pinball_targets(1), "regression", 1e37, 3),
    Case("SparsemaxLoss", _with(kl.SparsemaxLoss), one_hot_targets, "logits", 1e38),
]
BY_NAME = {case.name: case for case in CASES}


def test_every_public_loss_has_a_case():
    losses = {
        entry.name for entry in catalog.ENTRIES if isinstance(entry.build(), keras.losses.Loss)
    }
    covered = {case.name.split("(")[0] for case in CASES}
    assert sorted(losses - covered) == [], "add the new loss to CASES in this file"


def _row(draw, pool, columns):
    return draw(st.lists(st.sampled_from(pool), min_size=columns, max_size=columns))


@st.composite
def inputs(draw, case):
    """`(y_true, y_pred, moderate)` for `case`."""
    moderate = draw(st.booleans())
    # few distinct shapes: eager JAX compiles every operation once per shape
    n = draw(st.sampled_from([1, MAX_BATCH] if case.columns == "batch" else [0, MAX_BATCH]))
    columns = n if case.columns == "batch" else case.columns
    dtype = draw(st.sampled_from(["float16", "float32", "float64"]))
    limit = min(case.limit, FLOAT16_MAX / 4) if dtype == "float16" else case.limit
    if case.predictions in ("probabilities", "rows"):
        pool = MODERATE_PROBABILITIES if moderate else PROBABILITIES
        if dtype == "float16":
            pool = [p for p in pool if p == 0 or np.float16(p) != 0]
    elif case.predictions == "regression":
        pool = [0.0, 0.3, 2.0, 5.0] if moderate else _pool(limit)
    else:
        pool = MODERATE_LOGITS if moderate else _pool(limit)
    if case.make is not None:
        y_true, y_pred = case.make(draw, n, pool)
        return y_true, np.asarray(y_pred, "float64").astype(dtype), moderate
    rows = [_row(draw, pool, columns) for _ in range(n)]
    y_pred = np.array(rows, "float64").reshape(n, columns)
    if case.predictions == "rows":
        y_pred[np.all(y_pred == 0, axis=1), 0] = 1.0  # a distribution has some mass
    y_true = case.targets(draw, n, moderate)
    return y_true, y_pred.astype(dtype), moderate


def _values(loss, y_true, y_pred):
    return np.asarray(keras.ops.convert_to_numpy(loss(y_true, y_pred)), "float64")


def check(case, y_true, y_pred, moderate):
    scale = 1.0 + float(np.max(np.abs(y_pred.astype("float64")), initial=0.0)) * len(y_pred)
    results = {}
    for dtype in ("float32", "float64"):
        values = _values(case.build(dtype), y_true, y_pred)
        assert values.shape == (len(y_pred),) or values.shape[:1] == (len(y_pred),), (dtype, values.shape)
        assert np.all(np.isfinite(values)), (dtype, values)
        # non-negative, up to rounding at the inputs' magnitude
        assert np.all(values >= -1e-6 * scale), (dtype, values)
        results[dtype] = values
    # a 16-bit loss dtype: float32 maths, so finite wherever the value fits float16
    half = _values(case.build("float16"), y_true, y_pred)
    fits = np.abs(results["float32"]) < FLOAT16_MAX / 2
    assert np.all(np.isfinite(half[fits])), (half, results["float32"])
    # ... and so is its reduction (the sum of a batch of them ran in float16)
    if len(y_pred) and np.all(fits):
        mean = _values(case.build("float16", "sum_over_batch_size"), y_true, y_pred)
        assert np.isfinite(mean), (mean, results["float32"])
    if moderate:
        np.testing.assert_allclose(results["float64"], results["float32"], rtol=1e-3, atol=1e-3)


def _pinned(case_name, y_true, y_pred, moderate=False):
    return pytest.param(case_name, y_true, y_pred, moderate, id=f"{case_name}-pinned")


# Inputs of bugs found before; each runs through the same checks as the draws.
PINNED = [
    # float64 probabilities of exactly 0 and 1 (the clamp ran in float32: NaN, inf)
    _pinned("BinaryFocalLoss", np.array([[0.0, 1.0]], "float32"), np.array([[0.0, 0.0]], "float64")),
    _pinned("BinaryFocalLoss", np.array([[1.0, 0.0]], "float32"), np.array([[1.0, 1.0]], "float64")),
    # empty batches (Keras's max refused an empty tensor)
    _pinned("CategoricalFocalLoss(from_logits)", np.zeros((0, 3), "float32"), np.zeros((0, 3), "float32")),
    _pinned("CategoricalFocalLoss", np.zeros((0, 3), "float32"), np.zeros((0, 3), "float32")),
    _pinned("SparseCategoricalFocalLoss(from_logits)", np.zeros((0,), "int32"), np.zeros((0, 3), "float32")),
    _pinned("SparseMulticlassHinge(crammer_singer)", np.zeros((0,), "int32"), np.zeros((0, 3), "float32")),
    _pinned("MulticlassHinge(crammer_singer, squared)", np.zeros((0, 3), "float32"), np.zeros((0, 3), "float32")),
    # a 16-bit loss dtype on values beyond float16 (inputs were cast to float16 first)
    _pinned("SigLIPLoss", np.arange(3), -3e4 * np.eye(3, dtype="float32")),
    _pinned("BinaryFocalLoss(from_logits)", np.array([[1.0, 1.0]], "float32"), np.array([[1e5, 1e5]], "float32")),
    # a logit gap beyond the float range: 0 * inf was NaN
    _pinned("CategoricalFocalLoss(from_logits)", np.array([[1.0, 0.0, 0.0]], "float32"), np.array([[3e38, -3e38, 0.0]], "float32")),
    _pinned("SparseCategoricalFocalLoss(from_logits)", np.array([0], "int32"), np.array([[3e38, -3e38, 0.0]], "float32")),
    _pinned("CLIPLoss", np.array([0, 1]), np.array([[-1e38, 1e38], [1e38, -1e38]], "float32")),
    # tiled CLIP, every logit below -1e30 (the running max started there): -inf
    _pinned("CLIPLoss-tiled", np.arange(3), np.array([[1.0, 0.0, 1.0, 0.0, 1.0, -1e31]] * 3, "float32")),
    # sparsemax: tau = z_max - 1 rounded to z_max, an empty support, tau = inf: -inf
    _pinned("SparsemaxLoss", np.array([[1.0, 0.0, 0.0]], "float32"), np.array([[0.0, 0.0, 1e15]], "float32")),
    # empty batches: row 0 of the CRF table, max/min/gather over 0 anchors
    _pinned("CRFLoss", np.zeros((0, 2), "int32"), np.zeros((0, 6, 3), "float32")),
    _pinned("StructuredHingeLoss", np.zeros((0, 2), "int32"), np.zeros((0, 6, 3), "float32")),
    _pinned("TripletLoss", np.zeros((0,), "int32"), np.zeros((0, 2), "float32")),
    _pinned("TripletLoss(hard, cosine, soft)", np.zeros((0,), "int32"), np.zeros((0, 2), "float32")),
    _pinned("MultiSimilarityLoss", np.zeros((0,), "int32"), np.zeros((0, 2), "float32")),
]


@pytest.mark.parametrize("case_name,y_true,y_pred,moderate", PINNED)
def test_pinned_inputs(case_name, y_true, y_pred, moderate):
    check(BY_NAME[case_name], y_true, y_pred, moderate)


@pytest.mark.parametrize("case_name", sorted(BY_NAME))
def test_finite_non_negative_and_float64_agrees(case_name):
    case = BY_NAME[case_name]

    @hypothesis.given(inputs(case))
    def run(drawn):
        check(case, *drawn)

    run()
