"""NumPy oracles of the focal losses (`losses/focal.py`).

Written from Lin, Goyal, Girshick, He and Dollar, 2017, "Focal Loss for Dense Object
Detection",
eq. 5 (with its alpha-balanced form, eq. 3 times the modulating factor):

    FL(p_t) = -alpha_t * (1 - p_t)**gamma * log(p_t)

Probabilities from logits are evaluated stably in float64: log(p) by logaddexp,
and 1 - p as the probability of the other outcomes (never as 1 minus a number
that rounded to 1), so the oracles hold for logits of any size.
"""

import numpy as np


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
