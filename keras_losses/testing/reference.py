"""Plain NumPy oracles, written from the formulas in the papers and course notes.

Each takes float64 NumPy arrays and returns the per-example values in float64. They
are slow and obvious on purpose: loops where the formula has a sum over classes,
no shared code with the package. The verification command and the tests compare
the package against these, and against the built-ins of Keras, TensorFlow and
PyTorch where one exists.
"""

import numpy as np


# -- regression ------------------------------------------------------------------


def mean_squared_logarithmic_error(y_true, y_pred):
    """mean((log(1 + y_pred) - log(1 + y_true))**2) over the last axis, for y >= 0."""
    return np.mean((np.log(1.0 + y_pred) - np.log(1.0 + y_true)) ** 2, axis=-1)


# -- hinge -------------------------------------------------------------------------


def _signed(y_true):
    return np.where(y_true == 0, -1.0, y_true)


def hinge(y_true, y_pred, margin=1.0):
    """mean(max(0, margin - y * s)) over the last axis; labels {0, 1} or {-1, 1}."""
    return np.mean(np.maximum(0.0, margin - _signed(y_true) * y_pred), axis=-1)


def squared_hinge(y_true, y_pred, margin=1.0):
    return np.mean(np.maximum(0.0, margin - _signed(y_true) * y_pred) ** 2, axis=-1)


def multiclass_svm(labels, scores, margin=1.0, squared=False):
    """CS231n's multiclass SVM (Weston-Watkins), written as the course writes it.

    For each example: L_i = sum_{j != y_i} max(0, s_j - s_{y_i} + margin).
    """
    scores = np.asarray(scores, dtype=np.float64)
    flat_scores = scores.reshape(-1, scores.shape[-1])
    flat_labels = np.asarray(labels).reshape(-1)
    out = np.zeros(len(flat_labels))
    for i, (s, y) in enumerate(zip(flat_scores, flat_labels)):
        total = 0.0
        for j in range(len(s)):
            if j == y:
                continue
            term = max(0.0, s[j] - s[y] + margin)
            total += term**2 if squared else term
        out[i] = total
    return out.reshape(scores.shape[:-1])


def crammer_singer(labels, scores, margin=1.0, squared=False):
    """max(0, max_{j != y} s_j - s_y + margin) for each example."""
    scores = np.asarray(scores, dtype=np.float64)
    flat_scores = scores.reshape(-1, scores.shape[-1])
    flat_labels = np.asarray(labels).reshape(-1)
    out = np.zeros(len(flat_labels))
    for i, (s, y) in enumerate(zip(flat_scores, flat_labels)):
        rival = max(s[j] for j in range(len(s)) if j != y)
        term = max(0.0, rival - s[y] + margin)
        out[i] = term**2 if squared else term
    return out.reshape(scores.shape[:-1])


def finite_difference_vjp(fn, inputs, wrt, cotangent, step=1e-6):
    """d sum(fn(**inputs) * cotangent) / d inputs[wrt] by central differences.

    In float64 with a step relative to each entry, accurate to about 1e-8 where `fn`
    is smooth near the input (test inputs keep away from kinks).
    """
    inputs = {k: np.asarray(v) for k, v in inputs.items()}
    x = inputs[wrt].astype(np.float64)
    grad = np.zeros_like(x)
    flat = grad.reshape(-1)
    for index in range(x.size):
        h = step * max(1.0, abs(x.flat[index]))
        plus, minus = x.copy(), x.copy()
        plus.flat[index] += h
        minus.flat[index] -= h
        f_plus = np.sum(fn(**{**inputs, wrt: plus}) * cotangent)
        f_minus = np.sum(fn(**{**inputs, wrt: minus}) * cotangent)
        flat[index] = (f_plus - f_minus) / (2 * h)
    return grad


# -- focal ---------------------------------------------------------------------------
#
# Lin, Goyal, Girshick, He and Dollar, 2017, "Focal Loss for Dense Object Detection",
# eq. 5 (with its alpha-balanced form, eq. 3 times the modulating factor):
#
#     FL(p_t) = -alpha_t * (1 - p_t)**gamma * log(p_t)
#
# Probabilities from logits are evaluated stably in float64: log(p) by logaddexp,
# and 1 - p as the probability of the other outcomes (never as 1 minus a number
# that rounded to 1), so the oracles hold for logits of any size.


def _log_sigmoid(x):
    """log(1 / (1 + exp(-x))) = -log(exp(0) + exp(-x)), stable for any x."""
    return -np.logaddexp(0.0, -x)


def binary_focal(y_true, y_pred, gamma=2.0, alpha=0.25, from_logits=False, label_smoothing=0.0):
    """Binary focal loss, the mean over the last axis.

    For a label y in {0, 1}: p_t = p if y = 1 else 1 - p, alpha_t = alpha if y = 1
    else 1 - alpha, and FL = -alpha_t (1 - p_t)**gamma log(p_t). A soft label
    (label smoothing) mixes the two outcomes linearly, as Keras's
    BinaryFocalCrossentropy does: p_t = y p + (1 - y)(1 - p), alpha_t likewise, and
    -log(p_t) becomes the cross-entropy -(y log p + (1 - y) log(1 - p)).
    """
    y = np.asarray(y_true, np.float64) * (1.0 - label_smoothing) + 0.5 * label_smoothing
    x = np.asarray(y_pred, np.float64)
    if from_logits:
        log_p, log_not_p = _log_sigmoid(x), _log_sigmoid(-x)
    else:
        log_p, log_not_p = np.log(x), np.log1p(-x)
    p, not_p = np.exp(log_p), np.exp(log_not_p)
    one_minus_p_t = y * not_p + (1.0 - y) * p
    cross_entropy = -(y * log_p + (1.0 - y) * log_not_p)
    alpha_t = 1.0 if alpha is None else y * alpha + (1.0 - y) * (1.0 - alpha)
    return np.mean(alpha_t * one_minus_p_t**gamma * cross_entropy, axis=-1)


def _class_probabilities(scores, from_logits):
    """(log p_c, 1 - p_c) of one example's class scores, by loops over the classes."""
    scores = np.asarray(scores, np.float64)
    if from_logits:
        top = np.max(scores)
        log_total = top + np.log(np.sum(np.exp(scores - top)))
        log_p = scores - log_total
    else:
        log_p = np.log(scores / np.sum(scores))
    p = np.exp(log_p)
    one_minus = np.array([sum(p[j] for j in range(len(p)) if j != c) for c in range(len(p))])
    return log_p, one_minus


def categorical_focal(
    y_true, y_pred, gamma=2.0, alpha=None, from_logits=False, label_smoothing=0.0
):
    """Focal loss on one-hot (or smoothed) labels: for each example,

        sum over classes c of alpha_c * y_c * (1 - p_c)**gamma * -log(p_c)

    which for a one-hot y is FL(p_t). `alpha`: None, a float or one per class.
    """
    y_true = np.asarray(y_true, np.float64)
    num_classes = y_true.shape[-1]
    y = y_true * (1.0 - label_smoothing) + label_smoothing / num_classes
    weights = np.ones(num_classes) if alpha is None else np.broadcast_to(alpha, (num_classes,))
    flat_y = y.reshape(-1, num_classes)
    flat_scores = np.asarray(y_pred, np.float64).reshape(-1, num_classes)
    out = np.zeros(len(flat_y))
    for i, (labels, scores) in enumerate(zip(flat_y, flat_scores)):
        log_p, one_minus = _class_probabilities(scores, from_logits)
        out[i] = sum(
            weights[c] * labels[c] * one_minus[c] ** gamma * -log_p[c] for c in range(num_classes)
        )
    return out.reshape(y.shape[:-1])


def sparse_categorical_focal(
    y_true, y_pred, gamma=2.0, alpha=None, from_logits=False, ignore_class=None
):
    """FL(p_t) = -alpha_t (1 - p_t)**gamma log(p_t) at every position, with integer
    labels; 0 where the label is `ignore_class`."""
    scores = np.asarray(y_pred, np.float64)
    num_classes = scores.shape[-1]
    weights = np.ones(num_classes) if alpha is None else np.broadcast_to(alpha, (num_classes,))
    flat_labels = np.asarray(y_true).reshape(-1).astype(int)
    flat_scores = scores.reshape(-1, num_classes)
    out = np.zeros(len(flat_labels))
    for i, (label, row) in enumerate(zip(flat_labels, flat_scores)):
        if ignore_class is not None and label == ignore_class:
            continue
        log_p, one_minus = _class_probabilities(row, from_logits)
        out[i] = -weights[label] * one_minus[label] ** gamma * log_p[label]
    return out.reshape(scores.shape[:-1])
