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


# -- contrastive ---------------------------------------------------------------------


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
# -- regularizers --------------------------------------------------------------------


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


# -- hierarchical softmax ----------------------------------------------------------


def hierarchical_softmax_nll(labels, node_logits, paths, codes, ignore_class=None):
    """-log p(class) in a binary tree, one example and one node at a time.

    `paths[c]` and `codes[c]` are the node ids and the +1/-1 branches on the path of
    class c (lists, no padding); p(branch) = sigmoid(code * z), so
    -log p(class) = sum over the path of log(1 + exp(-code * z)).
    """
    node_logits = np.asarray(node_logits, np.float64)
    out = np.zeros(len(labels))
    for i, label in enumerate(np.asarray(labels).reshape(-1)):
        if ignore_class is not None and label == ignore_class:
            continue
        for node, code in zip(paths[int(label)], codes[int(label)]):
            out[i] += np.logaddexp(0.0, -code * node_logits[i, node])
    return out


def class_probabilities(node_logits, paths, codes):
    """p(class) for every class, as the product of the branch probabilities."""
    node_logits = np.asarray(node_logits, np.float64)
    probs = np.ones((node_logits.shape[0], len(paths)))
    for c, (path, code) in enumerate(zip(paths, codes)):
        for node, sign in zip(path, code):
            probs[:, c] *= 1.0 / (1.0 + np.exp(-sign * node_logits[:, node]))
    return probs


def word2vec_binary_tree(counts):
    """word2vec's CreateBinaryTree, one step at a time, written from its description.

    The vocabulary is sorted by count, largest first (ties kept in index order).
    `count` holds the leaves in that order, then room for the internal nodes. Two
    cursors walk it: `leaf` from the rarest leaf towards the most frequent, `node`
    over the internal nodes in the order they are made. Each new node takes the
    smaller of the two items under the cursors, twice; a leaf is taken only when
    its count is strictly smaller (equal counts take the internal node). The first
    item taken gets binary digit 0, the second 1. Internal node `a` (the a-th made)
    is the node id `a`; the root is the last one made.

    Returns:
        `(paths, codes)`: per class, the node ids from the root down and the codes,
        +1 for binary digit 0 (the branch word2vec trains towards sigmoid = 1) and
        -1 for digit 1.
    """
    counts = list(counts)
    size = len(counts)
    order = sorted(range(size), key=lambda c: -counts[c])  # Python's sort is stable
    count = [counts[c] for c in order] + [None] * (size - 1)
    parent = [None] * (2 * size - 1)
    digit = [0] * (2 * size - 1)
    leaf, node = size - 1, size
    for a in range(size - 1):
        picked = []
        for _ in range(2):
            node_ready = node < size + a  # internal nodes made so far
            if leaf >= 0 and (not node_ready or count[leaf] < count[node]):
                picked.append(leaf)
                leaf -= 1
            else:
                picked.append(node)
                node += 1
        count[size + a] = count[picked[0]] + count[picked[1]]
        parent[picked[0]] = parent[picked[1]] = size + a
        digit[picked[1]] = 1
    root = 2 * size - 2
    paths, codes = [None] * size, [None] * size
    for position, c in enumerate(order):
        path, code, item = [], [], position
        while item != root:
            path.append(parent[item] - size)
            code.append(1 if digit[item] == 0 else -1)
            item = parent[item]
        paths[c], codes[c] = path[::-1], code[::-1]
    return paths, codes


def huffman_expected_length(counts):
    """The optimal expected code length (in bits, weighted by the counts), by a heap.

    Any Huffman tree attains it: the sum of the weights of the internal nodes.
    """
    import heapq

    heap = [float(c) for c in counts]
    heapq.heapify(heap)
    total = 0.0
    while len(heap) > 1:
        merged = heapq.heappop(heap) + heapq.heappop(heap)
        total += merged
        heapq.heappush(heap, merged)
    return total / float(sum(counts))
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
