"""How the property test draws extreme inputs for a loss (tests/losses/test_properties.py).

A catalog entry of a loss lists one `Extremes` per configuration to check. The test
draws the predictions itself from pools of extreme finite values (`predictions`,
`limit`, `columns`); the functions below draw the rest: `targets` gives `y_true`,
and `make` gives both `y_true` and `y_pred` for losses whose `y_pred` is structured
(packed embeddings, CRF potentials, logit statistics).

They draw through `draw`, an object with `sample(pool, count)` (a list of `count`
values of `pool`), `integers(low, high, count)` (inclusive bounds) and `one(pool)`:
the test backs it with hypothesis, and nothing here imports hypothesis.
"""

import dataclasses
from typing import Callable

import numpy as np

import keras_losses

CLASSES = 3  # predictions per example, unless `columns` says otherwise
TREE = keras_losses.Tree.balanced(5)  # 4 nodes, paths of 2 or 3
TINY32 = float(np.finfo("float32").tiny)


@dataclasses.dataclass(frozen=True)
class Extremes:
    """One configuration of a loss and how to draw its inputs.

    Attributes:
        arguments: the loss's arguments besides `reduction` and `dtype`.
        targets: `targets(draw, n, moderate)` returns `y_true` for a batch of `n`.
        predictions: `"logits"`, `"probabilities"`, `"rows"` (row-normalised
            probabilities) or `"regression"`: the pool `y_pred` is drawn from.
        limit: the largest magnitude of a prediction (keeps the true loss finite).
        columns: predictions per example; `"batch"` for an (n, n) logit matrix.
        make: `make(draw, n, pool)` returns `(y_true, y_pred)` from the pool of
            prediction values; `targets` is then unused.
    """

    arguments: dict
    targets: Callable = None
    predictions: str = "logits"
    limit: float = 1e38
    columns: object = CLASSES
    make: Callable = None


def binary(draw, n, moderate):
    return np.array(draw.sample([0.0, 1.0], n * 2), "float32").reshape(n, 2)


def one_hot(draw, n, moderate):
    return np.eye(CLASSES, dtype="float32")[np.array(draw.integers(0, CLASSES - 1, n), int)].reshape(n, CLASSES)


def classes(count):
    def targets(draw, n, moderate):
        return np.array(draw.integers(0, count - 1, n), "int32")

    return targets


def regression(draw, n, moderate):
    pool = [0.0, 0.5, 3.0] if moderate else [0.0, TINY32, 1.0, 1e4, 1e30, 3e38, -1.0]
    return np.array(draw.sample(pool, n * 2), "float32").reshape(n, 2)


def pair_ids(draw, n, moderate):
    return np.array(draw.integers(0, 2, n), "int64")


def quantile_targets(columns):
    def targets(draw, n, moderate):
        pool = [0.0, 0.5, 3.0] if moderate else [0.0, TINY32, -1.0, 1e4, -1e30, 1e37, -1e37]
        return np.array(draw.sample(pool, n * columns), "float32").reshape((n, columns) if columns > 1 else (n,))

    return targets


def _values(draw, pool, count):
    return np.array(draw.sample(pool, count), "float64")


def distances(draw, n, pool):
    """Pair distances (non-negative) and similar (1) / dissimilar (0) labels."""
    return binary(draw, n, False), np.abs(_values(draw, pool, n * 2)).reshape(n, 2)


def embeddings(draw, n, pool):
    """Embeddings `(n, 2)` and class ids among 2 classes (positives and negatives)."""
    return classes(2)(draw, n, False), _values(draw, pool, n * 2).reshape(n, 2)


def _unit_rows(values):
    values = values.copy()
    values[np.all(values == 0, axis=1), 0] = 1.0
    largest = np.max(np.abs(values), 1, keepdims=True)  # scaled first: squares stay finite
    return values / np.sqrt(np.sum(np.square(values / largest), 1, keepdims=True)) / largest


def packed_embeddings(draw, n, pool):
    """`ContrastiveLogits(tiled=True)`'s `[a, b, scale, bias]`: unit rows, extreme scale and bias."""
    rows = _unit_rows(_values(draw, pool, n * 4).reshape(n * 2, 2))
    scale = draw.one([v for v in pool if v > 0])
    bias = draw.one(pool)
    packed = np.concatenate([rows[:n], rows[n:], np.full((n, 1), scale), np.full((n, 1), bias)], 1)
    return pair_ids(draw, n, False), packed


CRF_STEPS, CRF_TAGS = 2, 2


def crf_potentials(draw, n, pool):
    """Gold tags and the CRF layer's packed potentials (layout of `keras_losses.crf.pack`,
    written out here): emissions and the real-step flag, then transitions, start, end."""
    k = CRF_TAGS
    emissions = _values(draw, pool, n * CRF_STEPS * k).reshape(n, CRF_STEPS, k)
    table = _values(draw, pool, (k + 2) * k).reshape(k + 2, k)
    lengths = np.array(draw.integers(0, CRF_STEPS, n), int)
    real = (np.arange(CRF_STEPS)[None, :] < lengths.reshape(n, 1)).astype("float64")
    steps = np.concatenate([emissions, real[..., None]], -1)
    table = np.broadcast_to(np.pad(table, [(0, 0), (0, 1)]), (n, k + 2, k + 1))
    tags = np.array(draw.integers(0, k - 1, n * CRF_STEPS), "int32")
    return tags.reshape(n, CRF_STEPS), np.concatenate([steps, table], 1)


def logit_statistics(draw, n, pool):
    """Labels and `LinearCrossEntropyHead`'s `[logsumexp, label logit, mean logit]`,
    computed here in float64 from logits drawn from the pool."""
    logits = _values(draw, pool, n * CLASSES).reshape(n, CLASSES)
    labels = classes(CLASSES)(draw, n, False)
    top = np.max(logits, 1, initial=0.0) if n else np.zeros(0)
    logsumexp = top + np.log(np.sum(np.exp(logits - top.reshape(n, 1)), 1))
    label_logit = logits[np.arange(n), labels]
    return labels, np.stack([logsumexp, label_logit, np.mean(logits, 1) if n else np.zeros(0)], 1).reshape(n, 3)
