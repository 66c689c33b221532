"""NumPy oracles of the penalties (`regularizers/penalties.py`), one group at a time."""

import numpy as np


def l1_penalty(x, l1=0.01):
    """l1 * sum(|w|)."""
    return l1 * np.sum(np.abs(x))


def l2_penalty(x, l2=0.01, half=False):
    """l2 * sum(w**2); with half=True, l2 * sum(w**2) / 2 (CS231n, tf.nn.l2_loss)."""
    total = np.sum(np.square(x))
    return l2 * (total / 2 if half else total)


def elastic_net_penalty(x, l1=0.01, l2=0.01):
    return l1 * np.sum(np.abs(x)) + l2 * np.sum(np.square(x))


def _group_norms(x, axis):
    """The Euclidean norm of each group: the slices of `x` along the axes in `axis`."""
    axes = (axis,) if np.isscalar(axis) else tuple(axis)
    axes = tuple(a % x.ndim for a in axes)
    kept = [a for a in range(x.ndim) if a not in axes]
    groups = np.transpose(x, kept + list(axes)).reshape(
        [x.shape[a] for a in kept] + [-1]
    )
    flat = groups.reshape(-1, groups.shape[-1])
    norms = np.array([np.sqrt(sum(v * v for v in group)) for group in flat])
    return norms


def max_norm_penalty(x, max_value=3.0, strength=0.01, axis=0):
    """strength * sum over groups of max(0, ||w_group|| - max_value)**2."""
    excess = np.maximum(0.0, _group_norms(x, axis) - max_value)
    return strength * np.sum(excess**2)


def group_lasso_penalty(x, strength=0.01, axis=1):
    """strength * sum over groups of ||w_group|| (Yuan and Lin, 2006)."""
    return strength * np.sum(_group_norms(x, axis))
