"""Verification cases of keras_losses.losses.focal.

References: the NumPy oracles of Lin et al. (2017), eq. 5, in float64 (for every
case, large logits included); Keras's `BinaryFocalCrossentropy` on TensorFlow
(its JAX and PyTorch paths clip probabilities); `CategoricalFocalCrossentropy`
where it does not saturate; and the plain cross-entropies at `gamma=0`.
"""

import functools

import keras
import numpy as np

from keras_losses.losses import focal
from keras_losses.testing.reference import focal as reference
from keras_losses.verify.case import KERAS
from keras_losses.verify.case import NUMPY
from keras_losses.verify.case import Case
from keras_losses.verify.case import Reference

BATCH, CLASSES = 8, 5
SPATIAL = (2, 3, 3)
CLASS_WEIGHTS = [0.5, 1.0, 2.0, 0.25, 1.5]
IGNORED = 255


# -- inputs ------------------------------------------------------------------------


def _binary_labels(rng, shape):
    return (rng.random(shape) < 0.4).astype(np.float64)


def _binary_logits(rng):
    shape = (BATCH, 3)
    return {"y_true": _binary_labels(rng, shape), "y_pred": rng.normal(0.0, 2.0, shape)}


def _binary_probabilities(rng):
    shape = (BATCH, 3)
    return {"y_true": _binary_labels(rng, shape), "y_pred": rng.uniform(0.02, 0.98, shape)}


def _large(rng, shape):
    """Logits of either sign with magnitudes from 10 to 1e4 (also exact in float16)."""
    return rng.choice([-1.0, 1.0], shape) * 10.0 ** rng.uniform(1.0, 4.0, shape)


def _binary_large_logits(rng):
    shape = (BATCH, 3)
    return {"y_true": _binary_labels(rng, shape), "y_pred": _large(rng, shape)}


def _one_hot_logits(rng):
    labels = rng.integers(0, CLASSES, BATCH)
    return {"y_true": np.eye(CLASSES)[labels], "y_pred": rng.normal(0.0, 2.0, (BATCH, CLASSES))}


def _one_hot_probabilities(rng):
    labels = rng.integers(0, CLASSES, BATCH)
    logits = rng.normal(0.0, 1.0, (BATCH, CLASSES))
    probabilities = np.exp(logits) / np.sum(np.exp(logits), axis=-1, keepdims=True)
    return {"y_true": np.eye(CLASSES)[labels], "y_pred": probabilities}


def _saturating(rng):
    """Half the rows: a wrong class ahead of the true one by 20 to 1e4 logits, where
    Keras's CategoricalFocalCrossentropy is frozen with a zero gradient; the other
    half: the true class ahead by as much (p_t rounds to 1)."""
    labels = rng.integers(0, CLASSES, BATCH)
    logits = rng.normal(0.0, 1.0, (BATCH, CLASSES))
    for i, label in enumerate(labels):
        other = (label + 1 + rng.integers(0, CLASSES - 1)) % CLASSES
        leader = other if i % 2 == 0 else label
        logits[i, leader] += 10.0 ** rng.uniform(np.log10(20.0), 4.0)
    return {"y_true": np.eye(CLASSES)[labels], "y_pred": logits}


def _segmentation(from_logits, ignored):
    """(2, 3, 3) label maps with about a quarter of the pixels `ignored`."""

    def inputs(rng):
        labels = rng.integers(0, CLASSES, SPATIAL)
        labels = np.where(rng.random(SPATIAL) < 0.25, ignored, labels)
        labels.flat[0] = ignored
        logits = rng.normal(0.0, 2.0, SPATIAL + (CLASSES,))
        if from_logits:
            return {"y_true": labels, "y_pred": logits}
        probabilities = np.exp(logits) / np.sum(np.exp(logits), axis=-1, keepdims=True)
        return {"y_true": labels, "y_pred": 0.9 * probabilities + 0.1 / CLASSES}

    return inputs


def _sparse_large_logits(rng):
    return {
        "y_true": rng.integers(0, CLASSES, BATCH),
        "y_pred": _large(rng, (BATCH, CLASSES)),
    }


# -- references --------------------------------------------------------------------


def _numpy(oracle, **kwargs):
    return Reference("NumPy Lin et al. eq. 5", NUMPY, functools.partial(oracle, **kwargs))


def _keras_binary_focal(alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0):
    """API.md's mapping of `alpha` onto Keras's built-in, on TensorFlow only."""
    return Reference(
        "keras.losses.BinaryFocalCrossentropy",
        KERAS,
        lambda: keras.losses.BinaryFocalCrossentropy(
            apply_class_balancing=alpha is not None,
            alpha=0.25 if alpha is None else alpha,
            gamma=gamma,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            reduction=None,
        ),
        backends=("tensorflow",),
    )


def _keras_categorical_focal(alpha=None, gamma=2.0, from_logits=False, label_smoothing=0.0):
    return Reference(
        "keras.losses.CategoricalFocalCrossentropy",
        KERAS,
        lambda: keras.losses.CategoricalFocalCrossentropy(
            alpha=1.0 if alpha is None else alpha,
            gamma=gamma,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            reduction=None,
        ),
    )


def _binary_case(name, inputs, keras_reference=True, quick=False, **kwargs):
    references = (_numpy(reference.binary_focal, **kwargs),)
    if keras_reference:
        references += (_keras_binary_focal(**kwargs),)
    return Case(
        name=name,
        family="focal",
        build=lambda: focal.BinaryFocalLoss(**kwargs, reduction=None),
        inputs=inputs,
        references=references,
        quick=quick,
    )


def _categorical_case(name, inputs, keras_reference=True, quick=False, **kwargs):
    references = (_numpy(reference.categorical_focal, **kwargs),)
    if keras_reference:
        references += (_keras_categorical_focal(**kwargs),)
    return Case(
        name=name,
        family="focal",
        build=lambda: focal.CategoricalFocalLoss(**kwargs, reduction=None),
        inputs=inputs,
        references=references,
        quick=quick,
    )


def _sparse_case(name, inputs, extra=(), quick=False, **kwargs):
    return Case(
        name=name,
        family="focal",
        build=lambda: focal.SparseCategoricalFocalLoss(**kwargs, reduction=None),
        inputs=inputs,
        references=(_numpy(reference.sparse_categorical_focal, **kwargs), *extra),
        quick=quick,
    )


CASES = [
    # -- binary ----------------------------------------------------------------------
    _binary_case(
        "BinaryFocalLoss(from_logits=True)", _binary_logits, quick=True, from_logits=True
    ),
    _binary_case("BinaryFocalLoss(), probabilities", _binary_probabilities),
    _binary_case(
        "BinaryFocalLoss(gamma=0.5, alpha=None, from_logits=True, label_smoothing=0.1)",
        _binary_logits,
        gamma=0.5,
        alpha=None,
        from_logits=True,
        label_smoothing=0.1,
    ),
    Case(
        name="BinaryFocalLoss(gamma=0, alpha=None, from_logits=True)",
        family="focal",
        build=lambda: focal.BinaryFocalLoss(gamma=0.0, alpha=None, from_logits=True, reduction=None),
        inputs=_binary_logits,
        references=(
            _numpy(reference.binary_focal, gamma=0.0, alpha=None, from_logits=True),
            Reference(
                "keras.losses.BinaryCrossentropy",
                KERAS,
                lambda: keras.losses.BinaryCrossentropy(from_logits=True, reduction=None),
            ),
        ),
    ),
    _binary_case(
        "BinaryFocalLoss(gamma=0.5, from_logits=True), logits up to 1e4",
        _binary_large_logits,
        keras_reference=False,
        gamma=0.5,
        from_logits=True,
    ),
    # -- categorical -------------------------------------------------------------------
    _categorical_case(
        "CategoricalFocalLoss(from_logits=True)", _one_hot_logits, quick=True, from_logits=True
    ),
    _categorical_case(
        "CategoricalFocalLoss(alpha=0.25, label_smoothing=0.1), probabilities",
        _one_hot_probabilities,
        alpha=0.25,
        label_smoothing=0.1,
    ),
    _categorical_case(
        "CategoricalFocalLoss(gamma=0.5, alpha=[per class], from_logits=True, label_smoothing=0.2)",
        _one_hot_logits,
        gamma=0.5,
        alpha=CLASS_WEIGHTS,
        from_logits=True,
        label_smoothing=0.2,
    ),
    Case(
        name="CategoricalFocalLoss(gamma=0, from_logits=True)",
        family="focal",
        build=lambda: focal.CategoricalFocalLoss(gamma=0.0, from_logits=True, reduction=None),
        inputs=_one_hot_logits,
        references=(
            _numpy(reference.categorical_focal, gamma=0.0, from_logits=True),
            Reference(
                "keras.losses.CategoricalCrossentropy",
                KERAS,
                lambda: keras.losses.CategoricalCrossentropy(from_logits=True, reduction=None),
            ),
        ),
    ),
    _categorical_case(
        "CategoricalFocalLoss(alpha=0.25, from_logits=True), a class ahead by 20 to 1e4",
        _saturating,
        keras_reference=False,
        quick=True,
        alpha=0.25,
        from_logits=True,
    ),
    # -- sparse ------------------------------------------------------------------------
    _sparse_case(
        f"SparseCategoricalFocalLoss(gamma=0, from_logits=True, ignore_class={IGNORED}), (2, 3, 3) maps",
        _segmentation(True, IGNORED),
        extra=(
            Reference(
                "keras.losses.SparseCategoricalCrossentropy",
                KERAS,
                lambda: keras.losses.SparseCategoricalCrossentropy(
                    from_logits=True, ignore_class=IGNORED, reduction=None
                ),
            ),
        ),
        quick=True,
        gamma=0.0,
        from_logits=True,
        ignore_class=IGNORED,
    ),
    _sparse_case(
        "SparseCategoricalFocalLoss(gamma=1.5, alpha=[per class], ignore_class=0), probabilities (2, 3, 3)",
        _segmentation(False, 0),
        gamma=1.5,
        alpha=CLASS_WEIGHTS,
        ignore_class=0,
    ),
    _sparse_case(
        "SparseCategoricalFocalLoss(alpha=[per class], from_logits=True), logits up to 1e4",
        _sparse_large_logits,
        alpha=CLASS_WEIGHTS,
        from_logits=True,
    ),
]
