"""NumPy oracles of the hinge losses (`losses/hinges.py`), as CS231n writes them."""

import numpy as np


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
