"""Binary class trees for the hierarchical softmax (plain NumPy), and their decoder.

A `Tree` puts `num_classes` classes at the leaves of a binary tree with
`num_nodes = num_classes - 1` internal nodes. Each internal node holds one logit
`z`; the probability of a class is the product, over the nodes on its path from the
root, of `sigmoid(code * z)`, where `code` is +1 on one branch and -1 on the other.
The two branches of a node sum to one, so the class probabilities do too, and the
loss of one example touches only the nodes on its path: about `log2(num_classes)`
of them for a balanced tree, fewer for the frequent classes of a Huffman tree.

A `Tree` is plain NumPy:

    paths[c, k]    the k-th node on the path of class c (root first), -1 past its end
    codes[c, k]    +1 or -1 for the branch taken at that node, 0 past its end

Code +1 is the branch whose probability is `sigmoid(z)`. On the device the layer and
the loss read one int32 table instead, `Tree.signed_table`; `gather_paths` is the one
place that decodes it, with `keras.ops`.
"""

import functools
import hashlib

import numpy as np
from keras import ops

from keras_losses import _backend
from keras_losses import _config
from keras_losses import _inputs
from keras_losses import _validation

BALANCED = "balanced"
HUFFMAN = "huffman"
PATHS = "paths"


class Tree(_config.Configurable):
    """A binary tree over `num_classes` classes: each class's path and code.

    Build one with `Tree.balanced`, `Tree.huffman` or `Tree.from_paths`;
    `Tree(**config)` (`Tree.from_config`) rebuilds one from `get_config()`.

    Attributes:
        num_classes: int >= 2, the number of leaves.
        num_nodes: `num_classes - 1`, the number of internal nodes (node ids are
            `0 .. num_nodes - 1`).
        depth: the length of the longest path.
        paths: int32 array `(num_classes, depth)`: node ids from the root, -1 padded.
        codes: int8 array `(num_classes, depth)`: +1 / -1 per node, 0 padded.
        path_lengths: int32 array `(num_classes,)`.
        root: the id of the root node.
        kind: `"balanced"`, `"huffman"` or `"paths"`: how the tree was made.

    Example:

    >>> tree = Tree.balanced(4)
    >>> tree.num_nodes, tree.depth
    (3, 2)
    >>> tree.paths[2].tolist(), tree.codes[2].tolist()
    ([0, 2], [1, -1])
    """

    def __init__(self, kind, num_classes=None, class_counts=None, paths=None, codes=None):
        # The class methods are the way in; this builds any tree from its config.
        kind = _validation.one_of("kind", kind, (BALANCED, HUFFMAN, PATHS))
        used = {BALANCED: (), HUFFMAN: ("class_counts",), PATHS: ("paths", "codes")}[kind]
        for name, value in (("class_counts", class_counts), ("paths", paths), ("codes", codes)):
            if name not in used and value is not None:
                raise _validation.invalid(name, f"None for a tree of kind {kind!r}", _short(value))
        if kind == BALANCED:
            paths, codes = _balanced_arrays(num_classes)
        elif kind == HUFFMAN:
            class_counts = _check_counts(class_counts)
            paths, codes = _huffman_arrays(class_counts)
        else:
            paths, codes = _padded(paths, codes)
            _check_tree(paths, codes)
        if num_classes is not None and num_classes != len(paths):
            raise _validation.invalid("num_classes", f"{len(paths)}, the number of leaves", num_classes)
        self.kind = kind
        self.paths = np.asarray(paths, dtype=np.int32)
        self.codes = np.asarray(codes, dtype=np.int8)
        self.path_lengths = np.sum(self.codes != 0, axis=1).astype(np.int32)
        self._class_counts = class_counts
        for array in (self.paths, self.codes, self.path_lengths):
            array.setflags(write=False)

    # -- construction ---------------------------------------------------------------

    @classmethod
    def balanced(cls, num_classes):
        """A complete binary tree: every path has `ceil(log2(num_classes))` or one fewer nodes.

        Nodes are numbered in heap order (the root is 0, the children of node `n`
        are `2n + 1` on the -1 branch and `2n + 2` on the +1 branch) and the classes
        are the leaves from left to right. With two classes, class 1 is the +1
        branch: `p(class 1) = sigmoid(z)`, as in binary cross-entropy.

        Args:
            num_classes: int >= 2.
        """
        return cls(BALANCED, num_classes=num_classes)

    @classmethod
    def huffman(cls, class_counts):
        """The Huffman tree of word2vec's `CreateBinaryTree`, node for node.

        Classes are ordered by count, largest first (equal counts by class index).
        Two queues, the leaves from the smallest count up and the internal nodes in
        the order they are made, are merged: each new node joins the two smallest
        items, and on equal counts the internal node is taken first. The first item
        taken is the node's +1 branch (word2vec's code 0), the second its -1 branch.
        Node ids are the order in which nodes are made, so the root is
        `num_classes - 2`: the same as word2vec's `point` arrays.

        The same counts always give the same tree; frequent classes get short paths
        (the expected path length is within one bit of the entropy of the counts),
        and with counts sorted from largest to smallest the path lengths never
        decrease. A million classes take a second or two.

        Args:
            class_counts: 1-D array of positive counts (ints or floats), one per
                class, at least two.

        Example:

        >>> tree = Tree.huffman([5, 1, 1, 3])
        >>> tree.path_lengths.tolist()
        [1, 3, 3, 2]

        References:
            Mikolov et al., 2013, "Distributed Representations of Words and Phrases
            and their Compositionality", https://arxiv.org/abs/1310.4546 (the
            word2vec code); Huffman, 1952, "A Method for the Construction of
            Minimum-Redundancy Codes".
        """
        return cls(HUFFMAN, class_counts=class_counts)

    @classmethod
    def from_paths(cls, paths, codes):
        """A tree from the paths and codes of a hierarchy the user already has.

        Args:
            paths: per class, the node ids on its path from the root: a list of
                lists, or a 2-D int array padded with -1 (as `Tree.paths` is).
                Node ids are `0 .. num_classes - 2`, each used.
            codes: per class, +1 or -1 for the branch taken at each node of its
                path: a list of lists, or a 2-D array padded with 0.

        The paths must form one binary tree: one root, every node reached by one
        branch of one parent, both branches of every node used, and no class the
        prefix of another. Anything else raises `ValueError` naming the problem.

        Example:

        >>> tree = Tree.from_paths([[0, 1], [0, 1], [0]], [[1, 1], [1, -1], [-1]])
        >>> tree.num_classes, tree.depth, tree.path_lengths.tolist()
        (3, 2, [2, 2, 1])
        """
        return cls(PATHS, paths=paths, codes=codes)

    # -- properties -----------------------------------------------------------------

    @property
    def num_classes(self):
        return int(self.paths.shape[0])

    @property
    def num_nodes(self):
        return self.num_classes - 1

    @property
    def depth(self):
        return int(self.paths.shape[1])

    @property
    def root(self):
        return int(self.paths[0, 0])

    @property
    def class_counts(self):
        """The counts of a Huffman tree (a copy), or `None`."""
        return None if self._class_counts is None else self._class_counts.copy()

    @functools.cached_property
    def children(self):
        """int64 array `(num_nodes, 2)`: the child on the +1 branch, then on the -1 branch.

        A child is an internal node id, or `num_nodes + c` for the leaf of class `c`.
        """
        children = np.full((self.num_nodes, 2), -1, np.int64)
        rows = np.arange(self.num_classes)
        for k in range(self.depth):
            on_path = self.codes[:, k] != 0
            last = self.path_lengths - 1 == k
            child = np.where(last, self.num_nodes + rows, self.paths[:, min(k + 1, self.depth - 1)])
            column = np.where(self.codes[:, k] > 0, 0, 1)
            children[self.paths[on_path, k], column[on_path]] = child[on_path]
        return _frozen(children)

    # -- the device encoding --------------------------------------------------------

    @functools.cached_property
    def signed_table(self):
        """The tree as one int32 array `(num_classes, depth)`: `code * (node + 1)`, 0 padded.

        One gather of a row gives the nodes of a path, their codes and where it ends
        (`gather_paths`); the layer keeps it as a weight, the loss as a constant.
        `Tree.from_signed_table` reads it back.

        Example:

        >>> Tree.balanced(3).signed_table.tolist()
        [[-1, -2], [-1, 2], [1, 0]]
        """
        return _frozen(self.codes.astype(np.int32) * (self.paths + 1))

    @classmethod
    def from_signed_table(cls, table):
        """The tree of a `signed_table` (for example a layer's `path_table` weight).

        Raises `ValueError` naming the problem unless the table is one binary tree.
        """
        table = np.asarray(table)
        return cls.from_paths(np.abs(table) - 1, np.sign(table))

    @functools.cached_property
    def digest(self):
        """A content hash of the tree (hex SHA-256 of its signed table and shape).

        Two trees have the same digest exactly when they have the same paths and
        codes; a layer's config names a user hierarchy by it instead of listing its
        paths.
        """
        table = np.ascontiguousarray(self.signed_table, dtype="<i4")
        header = f"keras_losses.Tree {table.shape[0]}x{table.shape[1]};".encode()
        return hashlib.sha256(header + table.tobytes()).hexdigest()

    @functools.cached_property
    def level_tables(self):
        """Index arrays to compute every class's log-probability one tree level at a time.

        Level `k` holds the nodes at depth `k` (the root is level 0), in node order.
        Branch rows number the `2 * num_nodes` branches: `n` for the +1 branch of
        node `n`, `num_nodes + n` for its -1 branch.

        Returns:
            `(levels, leaf_parents, leaf_branches)`. `levels[k - 1]` is a pair of
            int32 arrays over the nodes of level `k`: the position of each node's
            parent in level `k - 1`, and the branch row leading to the node.
            `leaf_parents[c]` is the position of the last node on the path of class
            `c` among all nodes in level order, `leaf_branches[c]` the branch row
            from it to the class.
        """
        num_nodes, depth = self.num_nodes, self.depth
        on_path = self.codes != 0
        level = np.zeros(num_nodes, np.int64)
        level[self.paths[on_path]] = np.nonzero(on_path)[1]
        branch_rows = np.where(self.codes < 0, self.paths + num_nodes, self.paths)
        into = np.zeros(num_nodes, np.int64)  # the branch row leading to each node (0 for the root)
        followed = on_path[:, 1:]
        into[self.paths[:, 1:][followed]] = branch_rows[:, :-1][followed]
        order = np.argsort(level, kind="stable")
        starts = np.concatenate([[0], np.cumsum(np.bincount(level, minlength=depth))])
        position = np.empty(num_nodes, np.int64)
        position[order] = np.arange(num_nodes) - starts[level[order]]
        levels = []
        for k in range(1, depth):
            nodes = order[starts[k] : starts[k + 1]]
            parents = into[nodes] % num_nodes
            levels.append((_frozen(position[parents], np.int32), _frozen(into[nodes], np.int32)))
        classes = np.arange(self.num_classes)
        last = self.path_lengths - 1
        last_nodes = self.paths[classes, last]
        leaf_parents = _frozen(starts[level[last_nodes]] + position[last_nodes], np.int32)
        return tuple(levels), leaf_parents, _frozen(branch_rows[classes, last], np.int32)

    # -- probabilities --------------------------------------------------------------

    def log_probs(self, node_logits):
        """Log-probability of every class from the logits of the internal nodes.

        `log p(c) = sum over the path of c of log_sigmoid(code * z[node])`.

        Args:
            node_logits: float array `(batch, num_nodes)`.

        Returns:
            float64 array `(batch, num_classes)`; `exp` of each row sums to 1.

        Example:

        >>> import numpy as np
        >>> p = np.exp(Tree.balanced(3).log_probs(np.array([[0.0, 0.0]])))
        >>> p.round(3).tolist()
        [[0.25, 0.25, 0.5]]
        """
        z = np.asarray(node_logits, dtype=np.float64)
        if z.ndim != 2 or z.shape[1] != self.num_nodes:
            raise ValueError(
                f"`node_logits` must have shape (batch, {self.num_nodes}) for a tree of "
                f"{self.num_classes} classes. Received shape {z.shape}."
            )
        # log_sigmoid(x) = -logaddexp(0, -x); branch +1 in column 0, -1 in column 1.
        branch = -np.logaddexp(0.0, -np.stack([z, -z], axis=-1))
        total = np.zeros((z.shape[0], self.num_classes))
        for k in range(self.depth):
            on_path = self.codes[:, k] != 0
            nodes = np.where(on_path, self.paths[:, k], 0)
            column = np.where(self.codes[:, k] > 0, 0, 1)
            total += np.where(on_path, branch[:, nodes, column], 0.0)
        return total

    # -- configuration --------------------------------------------------------------

    def _argument(self, name):
        """The config (`_config`) holds the size of a balanced tree, the counts of a
        Huffman tree, the paths and codes (unpadded lists) of any other tree."""
        if name == "class_counts":
            return self._class_counts.tolist() if self.kind == HUFFMAN else None
        if name in ("paths", "codes"):
            if self.kind != PATHS:
                return None
            lengths = self.path_lengths.tolist()
            return [row[:n] for row, n in zip(getattr(self, name).tolist(), lengths)]
        return getattr(self, name)

    def __eq__(self, other):
        if not isinstance(other, Tree):
            return NotImplemented
        return np.array_equal(self.paths, other.paths) and np.array_equal(self.codes, other.codes)

    __hash__ = None

    def __repr__(self):  # a summary, not `_config`'s: the arguments can be long lists
        return (
            f"Tree(kind={self.kind!r}, num_classes={self.num_classes}, depth={self.depth}, "
            f"mean_path_length={float(self.path_lengths.mean()):.2f})"
        )


def gather_paths(table, labels):
    """The path of each label, read from a `Tree.signed_table` with `keras.ops`.

    The one decoder of the table on the device: the layer's path logits and mask and
    the loss's node logits go through it. A label outside `[0, num_classes)` (an
    ignored class such as -1) gets an all-False row; the caller decides whether that
    is an error.

    Args:
        table: int32 `(num_classes, depth)`: a tree's `signed_table`, as an array,
            tensor or variable (read with `_backend.take_rows`, so a variable is
            read row by row).
        labels: int32 classes `(batch,)` (`_inputs.class_labels`).

    Returns:
        `(nodes, codes, on_path)`, each `(batch, depth)`: int32 node ids (0 off the
        path), int32 codes (+1 or -1, 0 off the path) and bool.

    Example:

    >>> from keras import ops
    >>> labels = ops.convert_to_tensor([2, 0, -1], "int32")
    >>> nodes, codes, on_path = gather_paths(Tree.balanced(3).signed_table, labels)
    >>> ops.convert_to_numpy(nodes).tolist(), ops.convert_to_numpy(codes).tolist()
    ([[0, 0], [0, 1], [0, 0]], [[1, 0], [-1, -1], [0, 0]])
    """
    in_range = _inputs.in_class_range(labels, table.shape[0])
    entries = _backend.take_rows(table, ops.where(in_range, labels, 0))
    on_path = ops.logical_and(ops.not_equal(entries, 0), ops.expand_dims(in_range, -1))
    nodes = ops.where(on_path, ops.abs(entries) - 1, 0)
    return nodes, ops.where(on_path, ops.sign(entries), 0), on_path


def signed_table(tree):
    """`tree.signed_table`, as 0.1.0 exposed it (kept so its callers keep working)."""
    return tree.signed_table


def as_tree(tree, name="tree"):
    """`tree` as a `Tree`: a `Tree` is returned as it is, a config dict is rebuilt."""
    if isinstance(tree, Tree):
        return tree
    if isinstance(tree, dict):
        return Tree.from_config(tree)
    raise _validation.invalid(name, "a keras_losses.trees.Tree or its config dict", tree)


def _frozen(array, dtype=None):
    """`array` (cast to `dtype`) made read-only: every user of a tree shares its arrays."""
    array = array if dtype is None else array.astype(dtype)
    array.setflags(write=False)
    return array


# -- Huffman ------------------------------------------------------------------------


def _balanced_arrays(num_classes):
    """Paths and codes of the complete binary tree in heap order (see `Tree.balanced`)."""
    num_classes = _validation.integer("num_classes", num_classes, minimum=2)
    heap_size = 2 * num_classes - 1  # internal nodes 0 .. V-2, then V leaves
    full_depth = heap_size.bit_length() - 1
    first_deep_leaf = 2**full_depth - 1
    deep_leaves = heap_size - first_deep_leaf
    # Heap index of each class's leaf: the deepest level holds the leftmost
    # classes, the level above the rest.
    classes = np.arange(num_classes, dtype=np.int64)
    heap_index = np.where(
        classes < deep_leaves,
        first_deep_leaf + classes,
        num_classes - 1 + classes - deep_leaves,
    )
    item = np.empty(heap_size, np.int64)  # heap index -> node id, or num_nodes + class
    item[: num_classes - 1] = np.arange(num_classes - 1)
    item[heap_index] = num_classes - 1 + classes
    nodes = np.arange(num_classes - 1)
    paths, codes = _paths_from_children(item[2 * nodes + 2], item[2 * nodes + 1], 0)
    return paths, codes


def _huffman_arrays(counts):
    """Paths and codes of word2vec's Huffman tree (see `Tree.huffman`)."""
    num_classes = len(counts)
    first, second = _huffman_children(counts)
    # Items there: class c is c, node a is V + a; below: node a is a, class c is V - 1 + c.
    paths, codes = _paths_from_children(
        _swap_items(first, num_classes), _swap_items(second, num_classes), num_classes - 2
    )
    return paths, codes


def _check_counts(class_counts):
    counts = np.asarray(class_counts)
    expected = "a 1-D array of at least 2 positive finite counts"
    if counts.ndim != 1 or counts.shape[0] < 2 or counts.dtype == bool:
        raise _validation.invalid("class_counts", expected, _short(class_counts))
    if np.issubdtype(counts.dtype, np.integer):
        counts = counts.astype(np.int64)
    elif np.issubdtype(counts.dtype, np.floating) or counts.dtype == object:
        try:
            counts = counts.astype(np.float64)
        except (TypeError, ValueError):
            raise _validation.invalid("class_counts", expected, _short(class_counts)) from None
        if np.all(counts == np.round(counts)) and np.all(np.abs(counts) < 2**53):
            counts = counts.astype(np.int64)
    else:
        raise _validation.invalid("class_counts", expected, _short(class_counts))
    if not np.all(np.isfinite(counts)) or np.any(counts <= 0):
        bad = counts[~(np.isfinite(counts) & (counts > 0))]
        expected = f"positive finite counts, not {bad[:5].tolist()}"
        raise _validation.invalid("class_counts", expected, _short(class_counts))
    if counts.dtype == np.int64 and counts.sum(dtype=np.float64) >= 2**62:
        expected = "counts that sum to less than 2**62 (only their ratios shape the tree: scale them down)"
        raise _validation.invalid("class_counts", expected, _short(class_counts))
    return counts


def _huffman_children(counts):
    """The two children of each internal node, in word2vec's order.

    Returns:
        `(first, second)`: int64 arrays `(num_nodes,)` of items (class `c` is `c`,
        internal node `a` is `num_classes + a`), the first and second taken.

    The queue of items taken is sorted by count (the internal nodes are made in
    non-decreasing order), so instead of one item at a time this merges whole runs:
    every internal node already made is taken, together with the leaves smaller
    than the last of them, in one vectorised merge. Nodes made from those items are
    never smaller than that last node, so the merge cannot skip one of them.
    """
    num_classes = len(counts)
    num_nodes = num_classes - 1
    # The leaf queue: word2vec sorts by count, largest first (ties by index), and
    # takes leaves from the end of that order.
    leaf_queue = np.argsort(-counts, kind="stable")[::-1]
    leaf_counts = counts[leaf_queue]
    node_counts = np.zeros(num_nodes, counts.dtype)
    taken = np.empty(2 * num_nodes, np.int64)  # leaf position i, or num_classes + node
    item_counts = np.empty(2 * num_nodes, counts.dtype)
    taken_so_far = leaf = front = made = 0
    while taken_so_far < 2 * num_nodes:
        complete = taken_so_far // 2
        if complete > made:
            node_counts[made:complete] = (
                item_counts[2 * made : 2 * complete : 2] + item_counts[2 * made + 1 : 2 * complete : 2]
            )
            made = complete
        if front == made:  # no internal node waiting: word2vec takes the next leaf
            taken[taken_so_far] = leaf
            item_counts[taken_so_far] = leaf_counts[leaf]
            taken_so_far += 1
            leaf += 1
            continue
        waiting = node_counts[front:made]
        # Leaves strictly smaller than the last waiting node come before it (on equal
        # counts the internal node is taken first).
        num_leaves = int(np.searchsorted(leaf_counts[leaf:], waiting[-1], side="left"))
        leaves = leaf_counts[leaf : leaf + num_leaves]
        run = num_leaves + len(waiting)
        at = taken_so_far
        node_slots = at + np.arange(len(waiting)) + np.searchsorted(leaves, waiting, side="left")
        leaf_slots = at + np.arange(num_leaves) + np.searchsorted(waiting, leaves, side="right")
        taken[node_slots] = num_classes + np.arange(front, made)
        item_counts[node_slots] = waiting
        taken[leaf_slots] = np.arange(leaf, leaf + num_leaves)
        item_counts[leaf_slots] = leaves
        taken_so_far += run
        leaf += num_leaves
        front = made
    is_leaf = taken < num_classes
    items = np.where(is_leaf, leaf_queue[np.where(is_leaf, taken, 0)], taken)
    return items[0::2], items[1::2]


def _swap_items(items, num_classes):
    """Items numbered classes-first as nodes-first: class c -> V - 1 + c, node V + a -> a."""
    return np.where(items < num_classes, items + num_classes - 1, items - num_classes)


def _paths_from_children(plus, minus, root):
    """Padded root-first paths and codes of a tree given by each node's two children.

    Args:
        plus, minus: int arrays `(num_nodes,)`: the child on the +1 and on the -1
            branch of each node; a child is a node id, or `num_nodes + c` for the
            leaf of class `c`.
        root: the root's node id.
    """
    num_nodes = len(plus)
    num_classes = num_nodes + 1
    items = num_nodes + num_classes
    parent = np.empty(items, np.int64)  # item: node a is a, class c is num_nodes + c
    side = np.zeros(items, np.int8)
    parent[plus] = parent[minus] = np.arange(num_nodes)
    side[plus], side[minus] = 1, -1
    # Depth of every item, level by level from the root (vectorised per level).
    depth_of = np.zeros(items, np.int64)
    frontier = np.array([root])
    level = 0
    while frontier.size:
        level += 1
        below = np.concatenate([plus[frontier], minus[frontier]])
        depth_of[below] = level
        frontier = below[below < num_nodes]
    lengths = depth_of[num_nodes:]  # nodes on the path of each class
    depth = int(lengths.max())
    # One signed table: side * (parent + 1), 0 for padding; split at the end.
    signed_parent = (side * (parent + 1)).astype(np.int32)
    out = np.zeros(num_classes * depth, np.int32)
    # Walk all leaves up at once, writing each node straight into its column. With
    # the classes sorted by path length, those still walking are a prefix.
    order = np.argsort(-lengths, kind="stable")
    walking = np.cumsum(np.bincount(lengths, minlength=depth + 1)[::-1])[::-1]  # length >= l
    last_column = (order * depth + lengths[order] - 1).astype(np.int64)
    item = (num_nodes + order).astype(np.int64)
    for step in range(depth):
        n = walking[step + 1]
        entry = signed_parent[item[:n]]
        out[last_column[:n] - step] = entry
        item = np.abs(entry).astype(np.int64) - 1
        last_column = last_column[:n]
    out = out.reshape(num_classes, depth)
    return np.abs(out) - 1, np.sign(out).astype(np.int8)


# -- user hierarchies ---------------------------------------------------------------


def _short(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _padded(paths, codes):
    """Ragged lists or padded arrays as padded integer arrays, checked for shape.

    Ragged lists are checked as one binary tree before they are padded: a short
    list with one very long path would otherwise ask for `num_classes * length`
    entries before anything looked at it (a tampered `.keras` config can hold one).
    """
    paths_ragged = not (isinstance(paths, np.ndarray) and paths.ndim == 2)
    codes_ragged = not (isinstance(codes, np.ndarray) and codes.ndim == 2)
    if paths_ragged and codes_ragged:
        path_ids, path_lengths = _flatten_ragged("paths", paths)
        code_values, code_lengths = _flatten_ragged("codes", codes)
        if len(path_lengths) != len(code_lengths) or not np.array_equal(path_lengths, code_lengths):
            raise ValueError(
                "`paths` and `codes` disagree on where a path ends: each class needs a path and "
                f"a code of the same length. Received {len(path_lengths)} paths and "
                f"{len(code_lengths)} codes."
            )
        _check_codes(code_values, allow_padding=False)
        _check_flat(path_ids, code_values.astype(np.int8), path_lengths)
        return _pad(path_ids, path_lengths, -1), _pad(code_values, code_lengths, 0).astype(np.int8)
    if paths_ragged:
        paths_array = _pad(*_flatten_ragged("paths", paths), -1)
    else:
        if not np.issubdtype(paths.dtype, np.integer):
            raise _validation.invalid("paths", "integer node ids", _short(paths))
        paths_array = paths
    codes_array = _pad(*_flatten_ragged("codes", codes), 0) if codes_ragged else codes
    if paths_array.shape != codes_array.shape:
        raise ValueError(
            "`paths` and `codes` must give every class a path and a code of the same "
            f"length. Received padded shapes {paths_array.shape} and {codes_array.shape}."
        )
    _check_codes(codes_array, allow_padding=True)
    codes_array = codes_array.astype(np.int8)
    on_path = codes_array != 0
    lengths = on_path.sum(axis=1)
    contiguous = np.arange(on_path.shape[1])[None, :] < lengths[:, None]
    if not np.array_equal(on_path, contiguous) or not np.array_equal(on_path, paths_array != -1):
        raise ValueError(
            "`paths` and `codes` disagree on where a path ends: each class needs as many "
            "codes as nodes, and padding (if any) is -1 in `paths` and 0 in `codes`, after "
            "the last node of each path."
        )
    return paths_array, codes_array


def _check_codes(values, allow_padding):
    allowed = (-1, 0, 1) if allow_padding else (-1, 1)
    if not np.all(np.isin(values, allowed)):
        bad = np.unique(values[~np.isin(values, allowed)])
        raise ValueError(f"`codes` must be +1 or -1 on a path. Received values {bad[:5].tolist()}.")


def _flatten_ragged(name, rows):
    """Per-class lists as one flat int64 array and the length of each list."""
    try:
        rows = [np.asarray(row).reshape(-1) for row in rows]
    except (TypeError, ValueError):
        raise _validation.invalid(name, "a list of per-class lists, or a 2-D array", _short(rows)) from None
    if not rows:
        raise _validation.invalid(name, "one path per class, for at least 2 classes", rows)
    lengths = np.array([len(row) for row in rows], np.int64)
    flat = np.concatenate(rows) if lengths.sum() else np.zeros(0, np.int64)
    if flat.dtype == bool or not (
        np.issubdtype(flat.dtype, np.number) and np.all(flat == np.round(flat))
    ):
        raise _validation.invalid(name, "integers in a list of per-class lists", _short(rows))
    if flat.size and np.max(np.abs(flat)) >= 2**62:
        raise _validation.invalid(name, "node ids that fit in int64", _short(rows))
    return flat.astype(np.int64), lengths


def _pad(flat, lengths, fill):
    out = np.full((len(lengths), max(int(lengths.max()), 1)), fill, np.int64)
    out[np.arange(out.shape[1])[None, :] < lengths[:, None]] = flat
    return out


def _check_tree(paths, codes):
    """Raises `ValueError` unless the paths form one binary tree over the classes.

    `paths` and `codes` are padded, with each path contiguous from the left.
    """
    on_path = codes != 0
    _check_flat(paths[on_path].astype(np.int64), codes[on_path], on_path.sum(axis=1))


def _check_flat(ids, branch, lengths):
    """`_check_tree` on the on-path entries, row after row, and each class's path length."""
    num_classes = len(lengths)
    if num_classes < 2:
        raise ValueError(f"A tree needs at least 2 classes. Received paths for {num_classes}.")
    num_nodes = num_classes - 1
    if np.any(lengths == 0):
        empty = np.nonzero(lengths == 0)[0]
        raise ValueError(f"Every class needs a path of at least one node; classes {empty[:5].tolist()} have none.")
    # The on-path entries, row after row: each class's path is one contiguous run.
    if ids.min() < 0 or ids.max() >= num_nodes:
        raise ValueError(
            f"Node ids must be in [0, {num_nodes}) for {num_classes} classes "
            f"(num_nodes = num_classes - 1). Received ids from {ids.min()} to {ids.max()}."
        )
    starts = np.cumsum(lengths) - lengths
    roots = np.unique(ids[starts])
    if len(roots) != 1:
        raise ValueError(f"Every path must start at the same root node. Received first nodes {roots[:5].tolist()}.")
    # Every (node, branch) slot leads to one child: the next node, or a class's leaf.
    ends = np.cumsum(lengths)
    child = np.empty_like(ids)
    child[:-1] = ids[1:]
    child[ends - 1] = num_nodes + np.arange(num_classes)
    slot = ids * 2 + (branch < 0)
    slot_child = np.full(2 * num_nodes, -1, np.int64)
    slot_child[slot] = child  # where a slot is written twice, one value wins ...
    clash = slot_child[slot] != child  # ... and any other value shows here
    if np.any(clash):
        where = int(slot[clash][0])
        raise ValueError(
            f"Inconsistent paths: branch {'+1' if where % 2 == 0 else '-1'} of node {where // 2} "
            "leads to two different places (two classes share a leaf, or a class's path "
            "ends where another's goes on)."
        )
    if np.any(slot_child < 0):
        missing = np.nonzero(slot_child < 0)[0][:5]
        raise ValueError(
            "Every node must use both branches, or the class probabilities would not sum "
            f"to 1. Unused (node, branch): {[(int(s // 2), 1 if s % 2 == 0 else -1) for s in missing]}."
        )
    internal = slot_child[slot_child < num_nodes]
    parents = np.bincount(internal, minlength=num_nodes)
    expected = np.ones(num_nodes, np.int64)
    expected[roots[0]] = 0
    if not np.array_equal(parents, expected):
        bad = np.nonzero(parents != expected)[0][:5]
        raise ValueError(
            "Inconsistent paths: every node but the root must be the child of exactly one "
            f"branch of one node. Nodes {bad.tolist()} are not."
        )
