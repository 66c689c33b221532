"""Verification cases of keras_losses.losses.hinges."""

import functools

import keras
import numpy as np

from keras_losses.losses import hinges
from keras_losses.testing.reference import hinges as reference
from keras_losses.verify.case import KERAS
from keras_losses.verify.case import NUMPY
from keras_losses.verify.case import TORCH
from keras_losses.verify.case import Case
from keras_losses.verify.case import Reference
from keras_losses.verify.case import draw

BATCH, CLASSES = 8, 5


def _binary(labels_low, margin):
    """Labels in {labels_low, 1} and scores with every margin clearly met or missed."""

    def sample(rng):
        y_true = np.where(rng.random((BATCH, 3)) < 0.5, labels_low, 1.0)
        return {"y_true": y_true, "y_pred": rng.normal(0.0, 1.5, (BATCH, 3))}

    def accept(x):
        signed = np.where(x["y_true"] == 0, -1.0, x["y_true"])
        return np.min(np.abs(margin - signed * x["y_pred"])) > 0.05

    return lambda rng: draw(rng, sample, accept)


def _multiclass(sparse, margin, rival_at_least_zero=False, spatial=False):
    """Scores with no hinge term or rival tie near a kink; one-hot or integer labels."""
    shape = (2, 3, 3) if spatial else (BATCH,)

    def sample(rng):
        labels = rng.integers(0, CLASSES, shape)
        scores = rng.normal(0.0, 1.5, shape + (CLASSES,))
        if rival_at_least_zero:  # where keras.losses.CategoricalHinge is the same loss
            scores = scores - np.min(scores, axis=-1, keepdims=True) + 0.1
        return {"labels": labels, "scores": scores}

    def accept(x):
        s, y = x["scores"], x["labels"][..., None]
        target = np.take_along_axis(s, y, -1)
        others = np.where(np.arange(CLASSES) == y, np.nan, s)
        ordered = np.sort(others, -1)[..., :-1]  # nan sorts last
        gaps = np.diff(ordered, axis=-1)
        return np.nanmin(np.abs(others - target + margin)) > 0.05 and np.min(gaps) > 0.05

    def inputs(rng):
        x = draw(rng, sample, accept)
        y_true = x["labels"] if sparse else np.eye(CLASSES)[x["labels"]]
        return {"y_true": y_true, "y_pred": x["scores"]}

    return inputs


def _on_labels(oracle, **kwargs):
    """A NumPy oracle on (labels, scores), called with one-hot or integer y_true."""

    def fn(y_true, y_pred):
        labels = np.argmax(y_true, -1) if y_true.shape == y_pred.shape else y_true.astype(int)
        return oracle(labels, y_pred, **kwargs)

    return fn


def _torch_multi_margin(squared, margin=1.0):
    """num_classes * torch.nn.MultiMarginLoss, which averages over the classes."""

    def fn(y_true, y_pred):
        import torch

        labels = y_true.argmax(-1) if y_true.shape == y_pred.shape else y_true.long()
        loss = torch.nn.MultiMarginLoss(p=2 if squared else 1, margin=margin, reduction="none")
        scores = y_pred.reshape(-1, y_pred.shape[-1])
        values = loss(scores, labels.reshape(-1)) * y_pred.shape[-1]
        return values.reshape(y_pred.shape[:-1])

    return fn


def _multiclass_cases(sparse):
    cls = hinges.SparseMulticlassHinge if sparse else hinges.MulticlassHinge
    prefix = cls.__name__
    ww = functools.partial(_multiclass, sparse)
    cases = []
    for squared in (False, True):
        label = f"{prefix}(squared={squared})"
        cases.append(
            Case(
                name=label,
                family="hinge",
                build=lambda squared=squared: cls(squared=squared, reduction=None),
                inputs=ww(1.0),
                references=(
                    Reference(
                        "NumPy CS231n", NUMPY, _on_labels(reference.multiclass_svm, squared=squared)
                    ),
                    Reference("C * torch.nn.MultiMarginLoss", TORCH, _torch_multi_margin(squared)),
                ),
                quick=not squared,
            )
        )
    cases.append(
        Case(
            name=f"{prefix}(variant='crammer_singer')",
            family="hinge",
            build=lambda: cls(variant="crammer_singer", reduction=None),
            inputs=ww(1.0, rival_at_least_zero=True),
            references=(
                Reference(
                    "NumPy Crammer-Singer", NUMPY, _on_labels(reference.crammer_singer)
                ),
            )
            + (
                ()
                if sparse
                else (
                    Reference(
                        "keras.losses.CategoricalHinge",
                        KERAS,
                        lambda: keras.losses.CategoricalHinge(reduction=None),
                    ),
                )
            ),
        )
    )
    cases.append(
        Case(
            name=f"{prefix}(margin=0.5, squared=True, variant='crammer_singer')",
            family="hinge",
            build=lambda: cls(margin=0.5, squared=True, variant="crammer_singer", reduction=None),
            inputs=ww(0.5),
            references=(
                Reference(
                    "NumPy Crammer-Singer",
                    NUMPY,
                    _on_labels(reference.crammer_singer, margin=0.5, squared=True),
                ),
            ),
        )
    )
    if sparse:
        cases.append(
            Case(
                name=f"{prefix}(spatial labels (2, 3, 3))",
                family="hinge",
                build=lambda: cls(reduction=None),
                inputs=_multiclass(True, 1.0, spatial=True),
                references=(
                    Reference("NumPy CS231n", NUMPY, _on_labels(reference.multiclass_svm)),
                    Reference("C * torch.nn.MultiMarginLoss", TORCH, _torch_multi_margin(False)),
                ),
            )
        )
    return cases


CASES = [
    Case(
        name="Hinge",
        family="hinge",
        build=lambda: hinges.Hinge(reduction=None),
        inputs=_binary(0.0, 1.0),
        references=(
            Reference("NumPy formula", NUMPY, reference.hinge),
            Reference("keras.losses.Hinge", KERAS, lambda: keras.losses.Hinge(reduction=None)),
        ),
        quick=True,
    ),
    Case(
        name="Hinge(margin=0.5), labels {-1, 1}",
        family="hinge",
        build=lambda: hinges.Hinge(margin=0.5, reduction=None),
        inputs=_binary(-1.0, 0.5),
        references=(
            Reference(
                "NumPy formula", NUMPY, functools.partial(reference.hinge, margin=0.5)
            ),
        ),
    ),
    Case(
        name="SquaredHinge",
        family="hinge",
        build=lambda: hinges.SquaredHinge(reduction=None),
        inputs=_binary(0.0, 1.0),
        references=(
            Reference("NumPy formula", NUMPY, reference.squared_hinge),
            Reference(
                "keras.losses.SquaredHinge", KERAS, lambda: keras.losses.SquaredHinge(reduction=None)
            ),
        ),
        quick=True,
    ),
    Case(
        name="SquaredHinge(margin=2.0), labels {-1, 1}",
        family="hinge",
        build=lambda: hinges.SquaredHinge(margin=2.0, reduction=None),
        inputs=_binary(-1.0, 2.0),
        references=(
            Reference("NumPy formula", NUMPY, functools.partial(reference.squared_hinge, margin=2.0)),
        ),
    ),
    *_multiclass_cases(sparse=False),
    *_multiclass_cases(sparse=True),
]
