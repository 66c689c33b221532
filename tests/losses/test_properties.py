"""Properties every public loss keeps on extreme finite inputs (hypothesis, derandomized).

For each loss of the package (every loss of `keras_losses/testing/catalog.py`, in the
`extremes` of its entry: `keras_losses/testing/extremes.py`), inputs are drawn
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

from keras_losses.testing import catalog

MAX_BATCH = 3

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
    """One configuration of a loss: a catalog entry's `Extremes`, with its loss."""

    name: str
    cls: Callable
    extremes: object

    def build(self, dtype, reduction=None):
        return self.cls(reduction=reduction, dtype=dtype, **self.extremes.arguments)


def _case_name(entry, extremes):
    arguments = ", ".join(f"{key}={value}" for key, value in extremes.arguments.items() if key != "tree")
    return f"{entry.name}({arguments})" if arguments else entry.name


CASES = [Case(_case_name(entry, e), entry.cls, e) for entry in catalog.ENTRIES for e in entry.extremes]
BY_NAME = {case.name: case for case in CASES}


class Draws:
    """What `keras_losses.testing.extremes` draws through, backed by hypothesis."""

    def __init__(self, draw):
        self._draw = draw

    def sample(self, pool, count):
        return self._draw(st.lists(st.sampled_from(pool), min_size=count, max_size=count))

    def integers(self, low, high, count):
        return self._draw(st.lists(st.integers(low, high), min_size=count, max_size=count))

    def one(self, pool):
        return self._draw(st.sampled_from(pool))


def test_every_catalog_loss_has_a_case():
    losses = {entry.name for entry in catalog.ENTRIES if isinstance(entry.build(), keras.losses.Loss)}
    covered = {entry.name for entry in catalog.ENTRIES if entry.extremes}
    assert sorted(losses - covered) == [], "give the loss's catalog entry `extremes=[Extremes(...)]`"
    assert len(BY_NAME) == len(CASES), "two configurations of one loss have the same arguments"


def _row(draw, pool, columns):
    return draw(st.lists(st.sampled_from(pool), min_size=columns, max_size=columns))


@st.composite
def inputs(draw, case):
    """`(y_true, y_pred, moderate)` for `case`."""
    spec = case.extremes
    moderate = draw(st.booleans())
    # few distinct shapes: eager JAX compiles every operation once per shape
    n = draw(st.sampled_from([1, MAX_BATCH] if spec.columns == "batch" else [0, MAX_BATCH]))
    columns = n if spec.columns == "batch" else spec.columns
    dtype = draw(st.sampled_from(["float16", "float32", "float64"]))
    limit = min(spec.limit, FLOAT16_MAX / 4) if dtype == "float16" else spec.limit
    if spec.predictions in ("probabilities", "rows"):
        pool = MODERATE_PROBABILITIES if moderate else PROBABILITIES
        if dtype == "float16":
            pool = [p for p in pool if p == 0 or np.float16(p) != 0]
    elif spec.predictions == "regression":
        pool = [0.0, 0.3, 2.0, 5.0] if moderate else _pool(limit)
    else:
        pool = MODERATE_LOGITS if moderate else _pool(limit)
    if spec.make is not None:
        y_true, y_pred = spec.make(Draws(draw), n, pool)
        return y_true, np.asarray(y_pred, "float64").astype(dtype), moderate
    rows = [_row(draw, pool, columns) for _ in range(n)]
    y_pred = np.array(rows, "float64").reshape(n, columns)
    if spec.predictions == "rows":
        y_pred[np.all(y_pred == 0, axis=1), 0] = 1.0  # a distribution has some mass
    y_true = spec.targets(Draws(draw), n, moderate)
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
    _pinned("CategoricalFocalLoss(from_logits=True)", np.zeros((0, 3), "float32"), np.zeros((0, 3), "float32")),
    _pinned("CategoricalFocalLoss(alpha=[0.5, 1.0, 2.0])", np.zeros((0, 3), "float32"), np.zeros((0, 3), "float32")),
    _pinned("SparseCategoricalFocalLoss(from_logits=True, ignore_class=1)", np.zeros((0,), "int32"), np.zeros((0, 3), "float32")),
    _pinned("SparseMulticlassHinge(variant=crammer_singer)", np.zeros((0,), "int32"), np.zeros((0, 3), "float32")),
    _pinned("MulticlassHinge(variant=crammer_singer, squared=True)", np.zeros((0, 3), "float32"), np.zeros((0, 3), "float32")),
    # a 16-bit loss dtype on values beyond float16 (inputs were cast to float16 first)
    _pinned("SigLIPLoss", np.arange(3), -3e4 * np.eye(3, dtype="float32")),
    _pinned("BinaryFocalLoss(from_logits=True, gamma=0.5)", np.array([[1.0, 1.0]], "float32"), np.array([[1e5, 1e5]], "float32")),
    # a logit gap beyond the float range: 0 * inf was NaN
    _pinned("CategoricalFocalLoss(from_logits=True)", np.array([[1.0, 0.0, 0.0]], "float32"), np.array([[3e38, -3e38, 0.0]], "float32")),
    _pinned("SparseCategoricalFocalLoss(from_logits=True, ignore_class=1)", np.array([0], "int32"), np.array([[3e38, -3e38, 0.0]], "float32")),
    _pinned("CLIPLoss", np.array([0, 1]), np.array([[-1e38, 1e38], [1e38, -1e38]], "float32")),
    # tiled CLIP, every logit below -1e30 (the running max started there): -inf
    _pinned("CLIPLoss-tiled(tiled=True, tile_size=2)", np.arange(3), np.array([[1.0, 0.0, 1.0, 0.0, 1.0, -1e31]] * 3, "float32")),
    # sparsemax: tau = z_max - 1 rounded to z_max, an empty support, tau = inf: -inf
    _pinned("SparsemaxLoss", np.array([[1.0, 0.0, 0.0]], "float32"), np.array([[0.0, 0.0, 1e15]], "float32")),
    # empty batches: row 0 of the CRF table, max/min/gather over 0 anchors
    _pinned("CRFLoss", np.zeros((0, 2), "int32"), np.zeros((0, 6, 3), "float32")),
    _pinned("StructuredHingeLoss(cost=0.5)", np.zeros((0, 2), "int32"), np.zeros((0, 6, 3), "float32")),
    _pinned("TripletLoss", np.zeros((0,), "int32"), np.zeros((0, 2), "float32")),
    _pinned("TripletLoss(mining=hard, distance=cosine, soft=True)", np.zeros((0,), "int32"), np.zeros((0, 2), "float32")),
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
