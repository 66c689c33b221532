"""NumPy oracles of CLIP and SigLIP (`losses/contrastive.py`), one pair at a time."""

import numpy as np


def _log_softmax(row):
    shifted = row - np.max(row)
    return shifted - np.log(np.sum(np.exp(shifted)))


def clip_soft_targets(ids, logits):
    """CLIP's symmetric loss with soft targets, one value per example.

    Pairs (i, j) with equal ids match; row i's target puts 1 / (number of matches
    of i) on each of its matches, and so does column i's. For each example:
    (cross-entropy of row i + cross-entropy of column i) / 2.
    """
    ids = np.asarray(ids).reshape(-1)
    logits = np.asarray(logits, dtype=np.float64)
    n = len(ids)
    out = np.zeros(n)
    for i in range(n):
        matches = [j for j in range(n) if ids[j] == ids[i]]
        row = _log_softmax(logits[i, :])
        column = _log_softmax(logits[:, i])
        row_term = -sum(row[j] for j in matches) / len(matches)
        column_term = -sum(column[j] for j in matches) / len(matches)
        out[i] = (row_term + column_term) / 2
    return out


def clip_across_replicas(ids, logits):
    """`clip_soft_targets` of one replica's block `[image_to_text | text_to_image]`.

    With one replica the block is `(n, 2n)`: row i of the first half is row i of the
    logit matrix, row i of the second half is its column i.
    """
    logits = np.asarray(logits, dtype=np.float64)
    n = logits.shape[1] // 2
    return _clip_block(ids, logits[:, :n], logits[:, n:])


def _clip_block(ids, image_to_text, text_to_image):
    ids = np.asarray(ids).reshape(-1)
    out = np.zeros(len(ids))
    for i in range(len(ids)):
        matches = [j for j in range(len(ids)) if ids[j] == ids[i]]
        row = _log_softmax(image_to_text[i])
        column = _log_softmax(text_to_image[i])
        out[i] = (-sum(row[j] for j in matches) - sum(column[j] for j in matches)) / (2 * len(matches))
    return out


def siglip(ids, logits):
    """SigLIP's pairwise sigmoid loss summed over each row.

    For row i: sum_j log(1 + exp(-z_ij * L_ij)), z_ij = +1 where ids match, else -1.
    """
    ids = np.asarray(ids).reshape(-1)
    logits = np.asarray(logits, dtype=np.float64)
    out = np.zeros(len(ids))
    for i in range(len(ids)):
        for j in range(logits.shape[1]):
            z = 1.0 if ids[i] == ids[j] else -1.0
            out[i] += np.logaddexp(0.0, -z * logits[i, j])
    return out
