"""Verification cases of keras_losses.losses.contrastive.

Pair ids start at 2**24, where float32 no longer holds every integer: a loss that
compared ids after Keras's float cast would merge 2**24 and 2**24 + 1 and fail
against the references, which compare them as integers.
"""

import keras
import numpy as np
from keras import ops

from keras_losses.losses import contrastive
from keras_losses.testing.reference import contrastive as reference
from keras_losses.verify.case import KERAS
from keras_losses.verify.case import NUMPY
from keras_losses.verify.case import Case
from keras_losses.verify.case import Reference

BATCH = 8
FIRST_ID = 2**24


def _pairs(repeated=False, columns=BATCH):
    """Pair ids (unique, or drawn from 3 values) and logits `(BATCH, columns)`."""

    def inputs(rng):
        if repeated:
            ids = FIRST_ID + rng.integers(0, 3, BATCH)
        else:
            ids = FIRST_ID + rng.permutation(BATCH)
        return {"y_true": ids.astype("int64"), "y_pred": rng.normal(0.0, 3.0, (BATCH, columns))}

    return inputs


class _TwoSparseCrossEntropies:
    """The CLIP loss from the built-in: (SCCE(arange(n), L) + SCCE(arange(n), L.T)) / 2.

    Per example, with `keras.losses.SparseCategoricalCrossentropy(from_logits=True)`;
    valid for unique ids (the targets are the diagonal whatever the ids are).
    """

    def __init__(self):
        self.cross_entropy = keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction=None
        )

    def __call__(self, y_true, y_pred):
        targets = ops.arange(ops.shape(y_pred)[0])
        rows = self.cross_entropy(targets, y_pred)
        columns = self.cross_entropy(targets, ops.transpose(y_pred))
        return 0.5 * (rows + columns)


class _RowBinaryCrossEntropy:
    """The SigLIP loss from the built-in: n * BinaryCrossentropy(from_logits=True) per
    row against the identity (the built-in averages over the row)."""

    def __init__(self):
        self.cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True, reduction=None)

    def __call__(self, y_true, y_pred):
        n = ops.shape(y_pred)[0]
        return ops.cast(n, "float32") * self.cross_entropy(ops.eye(n), y_pred)


def _on_ids(oracle):
    """A NumPy oracle of (ids, logits), called with the case's keyword inputs."""
    return lambda y_true, y_pred: oracle(y_true, y_pred)


def _siglip_first_block(y_true, y_pred):
    return reference.siglip(y_true, y_pred[:, : y_pred.shape[1] // 2])


CASES = [
    Case(
        name="CLIPLoss, unique ids",
        family="contrastive",
        build=lambda: contrastive.CLIPLoss(reduction=None),
        inputs=_pairs(),
        references=(
            Reference("NumPy soft targets", NUMPY, _on_ids(reference.clip_soft_targets)),
            Reference("(SCCE(arange, L) + SCCE(arange, L.T)) / 2", KERAS, _TwoSparseCrossEntropies),
        ),
        quick=True,
    ),
    Case(
        name="CLIPLoss, repeated ids",
        family="contrastive",
        build=lambda: contrastive.CLIPLoss(reduction=None),
        inputs=_pairs(repeated=True),
        references=(Reference("NumPy soft targets", NUMPY, _on_ids(reference.clip_soft_targets)),),
        quick=True,
    ),
    Case(
        name="CLIPLoss(across_replicas=True), one replica",
        family="contrastive",
        build=lambda: contrastive.CLIPLoss(across_replicas=True, reduction=None),
        inputs=_pairs(repeated=True, columns=2 * BATCH),
        references=(Reference("NumPy soft targets", NUMPY, _on_ids(reference.clip_across_replicas)),),
    ),
    Case(
        name="SigLIPLoss, unique ids",
        family="contrastive",
        build=lambda: contrastive.SigLIPLoss(reduction=None),
        inputs=_pairs(),
        references=(
            Reference("NumPy pairwise sigmoid", NUMPY, _on_ids(reference.siglip)),
            Reference("n * BinaryCrossentropy(eye(n), L)", KERAS, _RowBinaryCrossEntropy),
        ),
        quick=True,
    ),
    Case(
        name="SigLIPLoss, repeated ids",
        family="contrastive",
        build=lambda: contrastive.SigLIPLoss(reduction=None),
        inputs=_pairs(repeated=True),
        references=(Reference("NumPy pairwise sigmoid", NUMPY, _on_ids(reference.siglip)),),
    ),
    Case(
        name="SigLIPLoss(across_replicas=True), one replica",
        family="contrastive",
        build=lambda: contrastive.SigLIPLoss(across_replicas=True, reduction=None),
        inputs=_pairs(repeated=True, columns=2 * BATCH),
        references=(Reference("NumPy pairwise sigmoid", NUMPY, _siglip_first_block),),
    ),
]


# -- the tiled forms: packed embeddings in, no (n, n) matrix ----------------------

EMBEDDING = 5


def _packed(repeated=False, batch=BATCH):
    """Pair ids and the packed `(batch, 2 * d + 2)` input of the tiled losses:
    embeddings of either modality (any norm: the loss takes them as given), then a
    scale and a bias repeated on every row, as `ContrastiveLogits(tiled=True)` gives."""

    def inputs(rng):
        ids = FIRST_ID + (rng.integers(0, 3, batch) if repeated else rng.permutation(batch))
        a = rng.normal(0.0, 1.0, (batch, EMBEDDING))
        b = rng.normal(0.0, 1.0, (batch, EMBEDDING))
        scale = np.full((batch, 1), 2.5)
        bias = np.full((batch, 1), -1.5)
        return {"y_true": ids.astype("int64"), "y_pred": np.concatenate([a, b, scale, bias], 1)}

    return inputs


def _logits_of_packed(y_pred):
    """The logit matrix the packed input stands for, in NumPy."""
    d = (y_pred.shape[1] - 2) // 2
    a, b = y_pred[:, :d], y_pred[:, d : 2 * d]
    return np.mean(y_pred[:, 2 * d]) * a @ b.T + np.mean(y_pred[:, 2 * d + 1])


class _DenseOfPacked:
    """The dense loss of this package on the materialised logits: the tiled form must
    equal it in value and (autodiff) gradient."""

    def __init__(self, loss):
        self.loss = loss

    def __call__(self, y_true, y_pred):
        y_pred = ops.cast(y_pred, "float32")
        d = (y_pred.shape[1] - 2) // 2
        a, b = y_pred[:, :d], y_pred[:, d : 2 * d]
        logits = ops.mean(y_pred[:, 2 * d]) * ops.matmul(a, ops.transpose(b))
        return self.loss(y_true, logits + ops.mean(y_pred[:, 2 * d + 1]))


def _tiled_case(loss_class, oracle, name, repeated, tile_size, batch=BATCH, quick=False):
    dense = loss_class.__name__ + "(reduction=None) on the logits"
    return Case(
        name=f"{loss_class.__name__}(tiled=True, tile_size={tile_size}), {name}",
        family="contrastive",
        build=lambda: loss_class(tiled=True, tile_size=tile_size, reduction=None),
        inputs=_packed(repeated=repeated, batch=batch),
        references=(
            Reference(oracle.__doc__.splitlines()[0], NUMPY, oracle),
            Reference(dense, KERAS, lambda: _DenseOfPacked(loss_class(reduction=None))),
        ),
        quick=quick,
    )


def _clip_of_packed(y_true, y_pred):
    """NumPy soft targets on scale * a @ b.T + bias"""
    return reference.clip_soft_targets(y_true, _logits_of_packed(y_pred))


def _siglip_of_packed(y_true, y_pred):
    """NumPy pairwise sigmoid on scale * a @ b.T + bias"""
    return reference.siglip(y_true, _logits_of_packed(y_pred))


CASES += [
    _tiled_case(contrastive.CLIPLoss, _clip_of_packed, "unique ids", False, 4, quick=True),
    _tiled_case(contrastive.CLIPLoss, _clip_of_packed, "repeated ids", True, 3),
    _tiled_case(contrastive.CLIPLoss, _clip_of_packed, "one pair", False, 2, batch=1),
    _tiled_case(contrastive.SigLIPLoss, _siglip_of_packed, "unique ids", False, 3, quick=True),
    _tiled_case(contrastive.SigLIPLoss, _siglip_of_packed, "repeated ids", True, 8),
]
