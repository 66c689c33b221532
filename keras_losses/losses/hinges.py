"""Hinge losses: the binary SVM loss and the multiclass SVM of CS231n.

A hinge loss is zero once the score of the right answer clears the others by a
margin, and grows linearly (or quadratically, when squared) with the violation.
"""

import keras
from keras import ops

from keras_losses import _backend
from keras_losses import _inputs
from keras_losses import _validation
from keras_losses.losses.base import function_twin
from keras_losses.losses.base import Loss

WESTON_WATKINS = "weston_watkins"
CRAMMER_SINGER = "crammer_singer"
VARIANTS = (WESTON_WATKINS, CRAMMER_SINGER)


def _check_margin(margin):
    return _validation.non_negative_float("margin", margin)


def _signed_labels(y_true):
    # Labels in {0, 1} or {-1, 1}: 0 stands for the negative class.
    return ops.where(ops.equal(y_true, 0), ops.cast(-1, y_true.dtype), y_true)


@function_twin
def hinge(y_true, y_pred, *, margin=1.0):
    """Binary hinge loss: `mean(max(0, margin - y_true * y_pred), axis=-1)`.

    Args:
        y_true: labels in {0, 1} or {-1, 1} (0 is read as -1), `(batch, ...)`.
        y_pred: real-valued scores (not probabilities), the shape of `y_true`.
        margin: float >= 0, the score by which the right side must win.

    Returns:
        Float tensor `(batch, ...)`: the mean over the last axis.

    Example:

    >>> import numpy as np
    >>> loss = hinge(np.array([[1.0, 0.0]]), np.array([[0.3, -2.0]]))
    >>> print(f"{float(loss[0]):.2f}")  # (0.7 + 0) / 2
    0.35
    """
    margin = _check_margin(margin)
    y_true, y_pred = _inputs.dense_pair(y_true, y_pred)
    return ops.mean(ops.relu(margin - _signed_labels(y_true) * y_pred), axis=-1)


@function_twin
def squared_hinge(y_true, y_pred, *, margin=1.0):
    """Squared binary hinge loss: `mean(max(0, margin - y_true * y_pred)**2, axis=-1)`.

    Smooth where the plain hinge has a kink, and harder on large violations.
    Arguments and shapes as in `hinge`.

    Example:

    >>> import numpy as np
    >>> loss = squared_hinge(np.array([[1.0, 0.0]]), np.array([[0.3, -2.0]]))
    >>> print(f"{float(loss[0]):.3f}")  # (0.7**2 + 0) / 2
    0.245
    """
    margin = _check_margin(margin)
    y_true, y_pred = _inputs.dense_pair(y_true, y_pred)
    return ops.mean(ops.square(ops.relu(margin - _signed_labels(y_true) * y_pred)), axis=-1)


def _multiclass_hinge_from_one_hot(one_hot, scores, margin, squared, variant):
    is_target = ops.greater(one_hot, 0)
    target_score = ops.sum(ops.where(is_target, scores, 0), axis=-1, keepdims=True)
    if variant == WESTON_WATKINS:
        # sum over j != y of max(0, s_j - s_y + margin)
        violations = ops.where(is_target, 0, ops.relu(scores - target_score + margin))
        if squared:
            violations = ops.square(violations)
        return ops.sum(violations, axis=-1)
    # max(0, max over j != y of s_j - s_y + margin)
    rival = _backend.max_along(ops.where(is_target, float("-inf"), scores), -1)
    violation = ops.relu(rival - ops.squeeze(target_score, -1) + margin)
    return ops.square(violation) if squared else violation


def _check_multiclass(margin, squared, variant):
    return (
        _check_margin(margin),
        _validation.boolean("squared", squared),
        _validation.one_of("variant", variant, VARIANTS),
    )


@function_twin
def multiclass_hinge(y_true, y_pred, *, margin=1.0, squared=False, variant=WESTON_WATKINS):
    """Multiclass SVM loss on one-hot labels (CS231n's linear classifier loss).

    With `s = y_pred` the class scores of an example and `y` its class:

        weston_watkins:  sum over j != y of max(0, s_j - s_y + margin)
        crammer_singer:  max(0, max over j != y of s_j - s_y + margin)

    Weston-Watkins charges every class that comes within `margin` of the right one;
    Crammer-Singer charges only the strongest rival. With two classes they are the
    same. `squared=True` squares each hinge term (the L2-SVM).

    Args:
        y_true: one-hot labels `(batch, ..., num_classes)`.
        y_pred: class scores (logits, not probabilities), the shape of `y_true`.
        margin: float >= 0.
        squared: whether to square the hinge terms.
        variant: `"weston_watkins"` or `"crammer_singer"`.

    Returns:
        Float tensor `(batch, ...)`, one value per example.

    Example:

    >>> import numpy as np
    >>> scores = np.array([[3.2, 5.1, -1.7]])  # the CS231n example, true class 0
    >>> print(f"{float(multiclass_hinge(np.array([[1.0, 0.0, 0.0]]), scores)[0]):.1f}")
    2.9

    References:
        Weston and Watkins, 1999, "Support vector machines for multi-class pattern
        recognition". Crammer and Singer, 2001, "On the algorithmic implementation
        of multiclass kernel-based vector machines". CS231n, "Linear classification".
    """
    margin, squared, variant = _check_multiclass(margin, squared, variant)
    y_true, y_pred = _inputs.dense_pair(y_true, y_pred)
    return _multiclass_hinge_from_one_hot(y_true, y_pred, margin, squared, variant)


@function_twin
def sparse_multiclass_hinge(
    y_true, y_pred, *, margin=1.0, squared=False, variant=WESTON_WATKINS
):
    """`multiclass_hinge` with integer class labels.

    Args:
        y_true: integer labels `(batch, ...)` in `[0, num_classes)`.
        y_pred: class scores `(batch, ..., num_classes)`.

    A label outside `[0, num_classes)` raises `ValueError` in eager mode; in a
    compiled function (where nothing can raise) that example's loss is NaN.

    Example:

    >>> import numpy as np
    >>> scores = np.array([[3.2, 5.1, -1.7]])
    >>> print(f"{float(sparse_multiclass_hinge(np.array([0]), scores)[0]):.1f}")
    2.9
    """
    margin, squared, variant = _check_multiclass(margin, squared, variant)
    y_pred = _inputs.floats(y_pred)
    if len(y_pred.shape) < 2:
        raise ValueError(
            f"`y_pred` must be class scores (batch, ..., num_classes); received shape "
            f"{tuple(y_pred.shape)}."
        )
    labels = _inputs.class_labels(y_true, y_pred)
    num_classes = _inputs.class_count(y_pred)  # a tensor when unknown until run time
    valid = _inputs.labels_in_range(labels, num_classes)
    one_hot = ops.one_hot(ops.where(valid, labels, 0), num_classes, dtype=y_pred.dtype)
    losses = _multiclass_hinge_from_one_hot(one_hot, y_pred, margin, squared, variant)
    return ops.where(valid, losses, float("nan"))


@keras.saving.register_keras_serializable(package="keras_losses")
class Hinge(Loss):
    """Binary hinge loss `max(0, margin - y * s)`, averaged over the last axis.

    See `hinge`. At `margin=1` equals `keras.losses.Hinge`.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.layers.Dense(1)])  # a linear SVM
    >>> model.compile(optimizer="sgd", loss=Hinge())
    """

    function = staticmethod(hinge)

    def __init__(self, margin=1.0, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.margin = _check_margin(margin)


@keras.saving.register_keras_serializable(package="keras_losses")
class SquaredHinge(Loss):
    """Squared binary hinge loss `max(0, margin - y * s)**2`, averaged over the last axis.

    See `squared_hinge`. At `margin=1` equals `keras.losses.SquaredHinge`.
    """

    function = staticmethod(squared_hinge)

    def __init__(
        self, margin=1.0, reduction="sum_over_batch_size", name="squared_hinge", dtype=None
    ):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.margin = _check_margin(margin)


@keras.saving.register_keras_serializable(package="keras_losses")
class MulticlassHinge(Loss):
    """Multiclass SVM loss on one-hot labels, Weston-Watkins or Crammer-Singer.

    See `multiclass_hinge` for the formulas. Weston-Watkins equals the CS231n
    formula and `num_classes * torch.nn.MultiMarginLoss`; Crammer-Singer equals
    `keras.losses.CategoricalHinge` wherever some non-target score is >= 0 (the
    built-in takes the rival score as at least 0).

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.layers.Dense(10)])  # scores, no softmax
    >>> model.compile(optimizer="sgd", loss=MulticlassHinge(margin=1.0))
    """

    function = staticmethod(multiclass_hinge)

    def __init__(
        self,
        margin=1.0,
        squared=False,
        variant=WESTON_WATKINS,
        reduction="sum_over_batch_size",
        name="multiclass_hinge",
        dtype=None,
    ):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.margin, self.squared, self.variant = _check_multiclass(margin, squared, variant)


@keras.saving.register_keras_serializable(package="keras_losses")
class SparseMulticlassHinge(Loss):
    """`MulticlassHinge` with integer class labels `(batch, ...)`.

    See `sparse_multiclass_hinge`, including what an out-of-range label does.
    """

    function = staticmethod(sparse_multiclass_hinge)
    sparse_labels = True

    def __init__(
        self,
        margin=1.0,
        squared=False,
        variant=WESTON_WATKINS,
        reduction="sum_over_batch_size",
        name="sparse_multiclass_hinge",
        dtype=None,
    ):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.margin, self.squared, self.variant = _check_multiclass(margin, squared, variant)
