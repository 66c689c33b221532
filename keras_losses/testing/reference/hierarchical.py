"""NumPy oracles of the hierarchical softmax and of its trees (`losses/hierarchical.py`,
`trees.py`): one example, one node at a time, and word2vec's tree built step by step."""

import numpy as np


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
