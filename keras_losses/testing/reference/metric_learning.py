"""NumPy oracles of the metric-learning, quantile and sparsemax losses.

Written from the papers by brute force (loops over anchors, pairs and triplets), in
float64, independent of the package's code. The mining losses return one value per
anchor scaled so that the mean over the batch is the paper's loss, over the anchors
that have a positive and a negative (the package's contract); `batch_loss` gives
that mean.
"""

import numpy as np


def distance_matrix(x, distance="euclidean"):
    """Every pairwise distance, each from its own difference vector."""
    x = np.asarray(x, np.float64)
    n = len(x)
    d = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            if distance == "cosine":
                a = x[i] / max(np.linalg.norm(x[i]), 1e-6)
                b = x[j] / max(np.linalg.norm(x[j]), 1e-6)
                d[i, j] = max(1.0 - a @ b, 0.0)
            else:
                squared = float(np.sum((x[i] - x[j]) ** 2))
                d[i, j] = squared if distance == "squared_euclidean" else np.sqrt(squared)
    return d


def _roles(ids):
    """For each anchor: its positives (same id, not itself) and negatives."""
    ids = np.asarray(ids).reshape(-1)
    n = len(ids)
    positives = [[j for j in range(n) if j != i and ids[j] == ids[i]] for i in range(n)]
    negatives = [[k for k in range(n) if ids[k] != ids[i]] for i in range(n)]
    return positives, negatives


def _scaled(sums, count):
    """Per-anchor values whose mean is sum(sums) / count (0 when count is 0)."""
    sums = np.asarray(sums, np.float64)
    return sums * len(sums) / count if count else np.zeros_like(sums)


def _softplus(x):
    return np.logaddexp(0.0, x)


def triplet_semi_hard(ids, x, margin=1.0, distance="euclidean", soft=False):
    """FaceNet semi-hard triplets with TFA's choice: for each (a, p) the smallest
    d_an > d_ap, else the largest d_an; mean over (a, p) pairs."""
    d = distance_matrix(x, distance)
    positives, negatives = _roles(ids)
    sums, count = np.zeros(len(d)), 0
    for a in range(len(d)):
        if not negatives[a]:
            continue
        for p in positives[a]:
            farther = [d[a, k] for k in negatives[a] if d[a, k] > d[a, p]]
            d_an = min(farther) if farther else max(d[a, k] for k in negatives[a])
            x_ = d[a, p] - d_an
            sums[a] += _softplus(x_) if soft else max(0.0, margin + x_)
            count += 1
    return _scaled(sums, count)


def triplet_hard(ids, x, margin=1.0, distance="euclidean", soft=False):
    """Batch-hard triplets (Hermans et al.): mean over anchors with both roles."""
    d = distance_matrix(x, distance)
    positives, negatives = _roles(ids)
    sums, count = np.zeros(len(d)), 0
    for a in range(len(d)):
        if not positives[a] or not negatives[a]:
            continue
        x_ = max(d[a, p] for p in positives[a]) - min(d[a, k] for k in negatives[a])
        sums[a] = _softplus(x_) if soft else max(0.0, margin + x_)
        count += 1
    return _scaled(sums, count)


def triplet_all(ids, x, margin=1.0, distance="euclidean"):
    """Every (a, p, n) triplet; mean over those with a positive loss."""
    d = distance_matrix(x, distance)
    positives, negatives = _roles(ids)
    sums, count = np.zeros(len(d)), 0
    for a in range(len(d)):
        for p in positives[a]:
            for k in negatives[a]:
                loss = margin + d[a, p] - d[a, k]
                if loss > 0:
                    sums[a] += loss
                    count += 1
    return _scaled(sums, count)


def contrastive_pair(y_true, y_pred, margin=1.0):
    """Hadsell et al.: y d^2 + (1 - y) max(0, m - d)^2, mean over the last axis."""
    y, d = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    if d.ndim == 1:
        y, d = y[:, None], d[:, None]
    return np.mean(y * d**2 + (1 - y) * np.maximum(margin - d, 0.0) ** 2, axis=-1)


def npairs(ids, similarity):
    """Sohn's N-pair loss per row: softmax cross-entropy against the row's class
    columns, the target spread evenly over them."""
    ids = np.asarray(ids).reshape(-1)
    s = np.asarray(similarity, np.float64)
    out = np.zeros(len(s))
    for i in range(len(s)):
        row = s[i]
        log_z = np.max(row) + np.log(np.sum(np.exp(row - np.max(row))))
        matches = [j for j in range(s.shape[1]) if ids[j] == ids[i]]
        out[i] = log_z - np.mean([row[j] for j in matches])
    return out


def lifted_struct(ids, x, margin=1.0):
    """Oh Song et al.: J_ij = log(sum_{N(i)} e^(m - D_ik) + sum_{N(j)} e^(m - D_jl)) + D_ij,
    1/(2|P|) sum over unordered positive pairs of max(0, J_ij)^2."""
    d = distance_matrix(x, "euclidean")
    positives, negatives = _roles(ids)
    sums, count = np.zeros(len(d)), 0
    for i in range(len(d)):
        for j in positives[i]:
            if not negatives[i] or not negatives[j]:
                continue
            terms = [margin - d[i, k] for k in negatives[i]] + [margin - d[j, k] for k in negatives[j]]
            top = max(terms)
            J = top + np.log(np.sum(np.exp(np.array(terms) - top))) + d[i, j]
            # each unordered pair is met twice (i, j) and (j, i): half of each
            sums[i] += 0.5 * max(J, 0.0) ** 2
            count += 1
    return _scaled(sums, count)


def _cosine_similarity(x):
    x = np.asarray(x, np.float64)
    z = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-6)
    return z @ z.T


def multi_similarity(ids, x, alpha=2.0, beta=50.0, base=0.5, epsilon=0.1):
    """Wang et al. 2019, with their mining (eqs. 8-9 of the paper), per anchor."""
    s = _cosine_similarity(x)
    positives, negatives = _roles(ids)
    sums, count = np.zeros(len(s)), 0
    for i in range(len(s)):
        if not positives[i] or not negatives[i]:
            continue
        count += 1
        hardest_positive = min(s[i, j] for j in positives[i])
        hardest_negative = max(s[i, k] for k in negatives[i])
        kept_negatives = [k for k in negatives[i] if s[i, k] + epsilon > hardest_positive]
        kept_positives = [j for j in positives[i] if s[i, j] - epsilon < hardest_negative]
        positive_sum = sum(np.exp(-alpha * (s[i, j] - base)) for j in kept_positives)
        negative_sum = sum(np.exp(beta * (s[i, k] - base)) for k in kept_negatives)
        sums[i] = np.log1p(positive_sum) / alpha + np.log1p(negative_sum) / beta
    return _scaled(sums, count)


def supervised_contrastive(ids, x, temperature=0.1):
    """Khosla et al. 2020, L_out: -1/|P(i)| sum_p log(exp(s_ip) / sum_{a != i} exp(s_ia))."""
    s = _cosine_similarity(x) / temperature
    positives, negatives = _roles(ids)
    sums, count = np.zeros(len(s)), 0
    for i in range(len(s)):
        if not positives[i] or not negatives[i]:
            continue
        count += 1
        others = np.array([s[i, a] for a in range(len(s)) if a != i])
        log_z = np.max(others) + np.log(np.sum(np.exp(others - np.max(others))))
        sums[i] = -np.mean([s[i, p] - log_z for p in positives[i]])
    return _scaled(sums, count)


def pinball(y_true, y_pred, quantiles=0.5):
    """max(q u, (q - 1) u) with u = y - prediction, mean over the last axis (over the
    quantiles when there are several, one per output)."""
    y, f = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    q = np.asarray(quantiles, np.float64)
    if q.ndim == 0:
        if f.ndim == 1:
            y, f = y[:, None], f[:, None]
    elif y.ndim == f.ndim - 1:
        y = y[..., None]
    u = y - f
    return np.mean(np.maximum(q * u, (q - 1) * u), axis=-1)


def sparsemax(z):
    """Martins & Astudillo's projection onto the simplex, row by row (Algorithm 1)."""
    z = np.asarray(z, np.float64)
    out = np.zeros_like(z)
    for r, row in enumerate(z.reshape(-1, z.shape[-1])):
        ordered = np.sort(row)[::-1]
        k = max(i for i in range(1, len(row) + 1) if 1 + i * ordered[i - 1] > np.sum(ordered[:i]))
        tau = (np.sum(ordered[:k]) - 1) / k
        out.reshape(-1, z.shape[-1])[r] = np.maximum(row - tau, 0.0)
    return out


def sparsemax_loss(y_true, y_pred):
    """-y.z + 1/2 sum_{j in S(z)} (z_j^2 - tau^2) + 1/2 |y|^2 (eq. 18 of the paper)."""
    y, z = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    p = sparsemax(z)
    tau = np.max(z - p, axis=-1, keepdims=True)  # z_j - p_j = tau on the support
    # On the support z_j > tau; off it z_j <= tau, and p_j = 0 there.
    spread = np.where(p > 0, z**2 - tau**2, 0.0)
    return -np.sum(y * z, -1) + 0.5 * np.sum(spread, -1) + 0.5 * np.sum(y**2, -1)


def batch_loss(values):
    """The batch loss from per-anchor values: their mean."""
    return float(np.mean(values))
