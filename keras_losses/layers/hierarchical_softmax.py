"""The output layer of a hierarchical softmax: one logistic unit per tree node.

With `V` classes a full softmax scores every class: `V * d` multiply-adds per
example, forward and backward, and a gradient for all `V` rows of its kernel. A
hierarchical softmax puts the classes at the leaves of a binary tree; the
probability of a class is the product of one sigmoid per node on its path, so the
loss of an example needs only those nodes: about `d * log2(V)` work, and a gradient
for about `log2(V)` kernel rows.
"""

import keras
import numpy as np
from keras import ops

from keras_losses import _backend
from keras_losses import _validation
from keras_losses import trees
from keras_losses.losses import _inputs


def _decode(entries):
    """Node ids, codes (int: +1, -1, or 0 for padding) and the on-path mask."""
    on_path = ops.not_equal(entries, 0)
    nodes = ops.where(on_path, ops.abs(entries) - 1, 0)
    return nodes, ops.sign(entries), on_path


def _labels(labels):
    """Integer class labels `(batch,)` (a trailing axis of 1 squeezed)."""
    labels = _inputs.integer_labels(labels)  # never wrapped or rounded
    if len(labels.shape) == 2 and labels.shape[-1] == 1:
        labels = ops.squeeze(labels, -1)
    if len(labels.shape) != 1:
        raise ValueError(
            f"`labels` must be integer classes of shape (batch,). Received shape {tuple(labels.shape)}."
        )
    return labels


def _path_logits(hidden, labels, kernel, table, bias=None):
    """Signed logits of the nodes on each label's path, and where a path ends.

    Only the kernel rows on the paths are gathered (`_backend.take_rows`), so the
    work is `batch * depth * d` and, on TensorFlow, the kernel's gradient is sparse.
    A label outside `[0, num_classes)` gets an all-False mask row (the loss decides
    whether that is an ignored class or an error).

    Args:
        hidden: float `(batch, d)`; 16-bit inputs are computed in float32.
        labels: integer classes `(batch,)`.
        kernel: `(num_nodes, d)` variable or tensor.
        table: `(num_classes, depth)` int32 variable or tensor (`trees.signed_table`).
        bias: `(num_nodes,)` or `None`.

    Returns:
        `(logits, mask)`: float `(batch, depth)` with padding set to 0, and bool
        `(batch, depth)`.
    """
    hidden = _inputs.floats(hidden)
    labels = _labels(labels)
    num_classes = table.shape[0]
    in_range = ops.logical_and(ops.greater_equal(labels, 0), ops.less(labels, num_classes))
    entries = _backend.take_rows(table, ops.where(in_range, labels, 0))
    nodes, codes, on_path = _decode(entries)
    on_path = ops.logical_and(on_path, ops.expand_dims(in_range, -1))
    rows = ops.cast(_backend.take_rows(kernel, nodes), hidden.dtype)  # (batch, depth, d)
    logits = ops.einsum("bd,bkd->bk", hidden, rows)
    if bias is not None:
        logits = logits + ops.cast(_backend.take_rows(bias, nodes), hidden.dtype)
    # Signed so that the branch towards the label is positive; padding is 0.
    logits = ops.where(on_path, logits * ops.cast(codes, hidden.dtype), 0)
    return logits, on_path


@keras.saving.register_keras_serializable(package="keras_losses")
class HierarchicalSoftmax(keras.layers.Layer):
    """Hierarchical softmax output layer: one weight row (and bias) per tree node.

    `layer(hidden)` gives the logits of every internal node, `(batch, num_nodes)`:
    the exact path, for `HierarchicalSoftmaxLoss(tree)` or for inference.

    `layer([hidden, labels])` is the fast training path. It gathers only the kernel
    rows on each label's path and returns path logits `(batch, tree.depth)`, each
    signed so that the branch towards the label is positive, with the padding past
    the end of a path masked (a Keras mask). Train it with
    `HierarchicalSoftmaxLoss(from_path_logits=True)`. Its cost per example is about
    `d * depth`, no tensor with `num_classes` columns is built, and on TensorFlow
    the kernel's gradient is an `IndexedSlices`, so SGD updates only the rows used.
    A label outside `[0, num_classes)` (an ignored class such as -1) gets an
    all-masked row: the loss gives it zero with `ignore_class`, NaN otherwise.

    For inference, `log_probs(hidden)` gives `(batch, num_classes)` and
    `top_k(hidden, k)` the `k` most likely classes.

    The path tables live in two non-trainable int32 weights (`path_table`,
    `(num_classes, depth)`, and `children`, `(num_nodes, 2)`), so they travel in a
    `.keras` file with the kernel and are read by the graph as variables, never
    baked in as constants. The layer's config holds the size of a balanced tree and
    the counts of a Huffman tree; a tree from `Tree.from_paths` is rebuilt from the
    saved weights.

    The layer computes in float32 even when its inputs are 16-bit (a mixed-precision
    policy), as the losses here do and as Keras advises for a model's last layer.

    Args:
        tree: a `keras_losses.trees.Tree` (or its config dict).
        use_bias: whether each node has a bias.
        kernel_initializer: initializer of the `(num_nodes, d)` kernel. The default
            zeros start every class at probability `prod(0.5)` along its path, as
            word2vec does.
        kernel_regularizer: optional regularizer of the kernel. It is computed on
            the whole kernel, `O(num_nodes * d)` every step, which can cost more
            than the fast path itself for large trees.

    Example:

    >>> import keras, numpy as np
    >>> from keras_losses.trees import Tree
    >>> from keras_losses.losses import HierarchicalSoftmaxLoss
    >>> tree = Tree.balanced(1000)
    >>> output = HierarchicalSoftmax(tree)
    >>> features = keras.Input((16,))
    >>> labels = keras.Input((), dtype="int32")
    >>> hidden = keras.layers.Dense(32, activation="relu")(features)
    >>> training = keras.Model([features, labels], output([hidden, labels]))
    >>> training.compile("sgd", HierarchicalSoftmaxLoss(from_path_logits=True))
    >>> inference = keras.Model(features, hidden)   # shares the Dense weights
    >>> x = np.random.default_rng(0).normal(size=(4, 16)).astype("float32")
    >>> log_p, classes = output.top_k(inference(x), k=3)
    >>> tuple(log_p.shape), tuple(classes.shape)
    ((4, 3), (4, 3))

    References:
        Morin and Bengio, 2005, "Hierarchical Probabilistic Neural Network Language
        Model". Mikolov et al., 2013, "Distributed Representations of Words and
        Phrases and their Compositionality", https://arxiv.org/abs/1310.4546.
    """

    def __init__(
        self,
        tree,
        use_bias=True,
        kernel_initializer="zeros",
        kernel_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if _is_stored_tree(tree):  # from a config: the tree comes with the weights
            self._tree = None
            self._num_classes = _validation.integer("num_classes", tree["num_classes"], minimum=2)
            self._depth = _validation.integer("depth", tree["depth"], minimum=1)
        else:
            self._tree = trees.as_tree(tree)
            self._num_classes, self._depth = self._tree.num_classes, self._tree.depth
        self.use_bias = _validation.boolean("use_bias", use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self._levels = None  # (tree, tables) for log_probs, made on first use

    # -- the tree ------------------------------------------------------------------

    @property
    def tree(self):
        """The `Tree` (for a tree from `Tree.from_paths`, once the weights are loaded)."""
        if self._tree is None:
            raise ValueError(
                f"The tree of layer {self.name!r} is stored in its weights (a tree from "
                "`Tree.from_paths`); load them first (`keras.saving.load_model` does)."
            )
        return self._tree

    @property
    def num_classes(self):
        return self._num_classes

    @property
    def num_nodes(self):
        return self._num_classes - 1

    @property
    def depth(self):
        return self._depth

    # -- weights -------------------------------------------------------------------

    def build(self, input_shape):
        hidden_shape = input_shape[0] if _is_pair(input_shape) else input_shape
        if len(hidden_shape) != 2 or hidden_shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__} expects `hidden` of shape (batch, d) with d known. "
                f"Received shape {tuple(hidden_shape)}."
            )
        units = hidden_shape[-1]
        self.kernel = self.add_weight(
            shape=(self.num_nodes, units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            autocast=False,  # gather float32 rows, then cast: never cast the whole kernel
            name="kernel",
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.num_nodes,), initializer="zeros", autocast=False, name="bias"
            )
        tree = self._tree
        self.path_table = self.add_weight(
            shape=(self.num_classes, self.depth),
            initializer=_table_initializer(None if tree is None else trees.signed_table(tree)),
            dtype="int32",
            trainable=False,
            name="path_table",
        )
        self.children_table = self.add_weight(
            shape=(self.num_nodes, 2),
            initializer=_table_initializer(None if tree is None else tree.children),
            dtype="int32",
            trainable=False,
            name="children",
        )

    def load_own_variables(self, store):
        super().load_own_variables(store)
        if self._tree is None:  # the tree was only in the weights: rebuild it
            entries = _backend.to_numpy(self.path_table)
            self._tree = trees.Tree.from_paths(np.abs(entries) - 1, np.sign(entries))

    # -- forward -------------------------------------------------------------------

    def call(self, inputs):
        if _is_pair(inputs):
            hidden, labels = inputs
            logits, mask = _path_logits(hidden, labels, self.kernel, self.path_table, self.bias)
            _backend.set_mask(logits, mask)
            return logits
        return self._node_logits(inputs)

    def _node_logits(self, hidden):
        hidden = self._hidden(hidden)
        kernel = ops.cast(self.kernel, hidden.dtype)
        logits = ops.matmul(hidden, ops.transpose(kernel))
        if self.bias is not None:
            logits = logits + ops.cast(self.bias, hidden.dtype)
        return logits

    def _hidden(self, hidden):
        """`hidden` as float (32-bit for 16-bit inputs); builds the layer on first use."""
        hidden = _inputs.floats(hidden)
        if not self.built:
            self.build(tuple(hidden.shape))
        return hidden

    def compute_mask(self, inputs, previous_mask):
        if not _is_pair(inputs):
            return previous_mask
        return _path_logits_mask(inputs[1], self.path_table)

    def compute_output_shape(self, input_shape):
        if _is_pair(input_shape):
            return (input_shape[0][0], self.depth)
        return (input_shape[0], self.num_nodes)

    # -- inference -----------------------------------------------------------------

    def log_probs(self, hidden):
        """Log-probability of every class, `(batch, num_classes)`, in float32.

        `log p(c) = sum over the path of c of log_sigmoid(code * z[node])`; `exp` of
        each row sums to 1. Costs `batch * num_nodes * d` for the node logits and
        `batch * num_classes` for the sums, which walk the tree one level at a time:
        a node is reached with its parent's log-probability plus its branch's.
        """
        z = self._node_logits(hidden)
        # Row n of `branch` is log_sigmoid(z[n]), the +1 branch of node n; row
        # num_nodes + n is log_sigmoid(-z[n]), its -1 branch. Class-major, so that
        # every gather below takes whole rows.
        branch = ops.transpose(ops.concatenate([ops.log_sigmoid(z), ops.log_sigmoid(-z)], axis=1))
        levels, leaf_parents, leaf_branches = self._level_tables()
        reached = [ops.zeros_like(branch[:1])]  # the root is reached with log 1
        for parents, branches in levels:
            reached.append(ops.take(reached[-1], parents, axis=0) + ops.take(branch, branches, axis=0))
        reached = ops.concatenate(reached, axis=0)  # (num_nodes, batch), in level order
        total = ops.take(reached, leaf_parents, axis=0) + ops.take(branch, leaf_branches, axis=0)
        return ops.transpose(total)

    def _level_tables(self):
        """The index tables of `log_probs` for this layer's tree (made once)."""
        tree = self.tree
        if self._levels is None or self._levels[0] is not tree:
            self._levels = (tree, _level_tables(tree))
        return self._levels[1]

    def top_k(self, hidden, k, beam_width=None):
        """The `k` most likely classes: `(log_probs, classes)`, each `(batch, k)`.

        Sorted from the most likely, as `keras.ops.top_k` returns them.

        With `beam_width=None` (the default) this is exact: it ranks `log_probs`.
        With `beam_width=W` (at least `k`) it is a beam search down the tree that
        never computes all `num_classes` probabilities: at each level it keeps the
        `W` most likely nodes or classes reached so far, `batch * W * d * depth`
        work in all. The log-probabilities it returns are exact for the classes it
        returns, but the search is approximate: a class below a pruned node is never
        found, even when it is more likely than one returned. It is exact when
        `W >= num_classes` (nothing is pruned), and on a trained model usually
        close to exact once `W` is a few times `k`.

        Args:
            hidden: float `(batch, d)`.
            k: int in `[1, num_classes]`.
            beam_width: `None` or an int >= `k`.
        """
        k = _validation.integer("k", k, minimum=1)
        if k > self.num_classes:
            raise _validation.invalid("k", f"an integer in [1, {self.num_classes}]", k)
        if beam_width is None:
            return ops.top_k(self.log_probs(hidden), k)
        beam_width = _validation.integer("beam_width", beam_width, minimum=k)
        return self._beam_search(hidden, k, beam_width)

    def _beam_search(self, hidden, k, width):
        hidden = self._hidden(hidden)
        num_nodes = self.num_nodes
        batch = ops.shape(hidden)[0]
        # An item is a node id, or num_nodes + c for the leaf of class c.
        root = ops.convert_to_tensor(self.tree.root, "int32")
        ids = ops.concatenate(
            [ops.full((batch, 1), root, "int32"), ops.zeros((batch, width - 1), "int32")], axis=1
        )
        scores = ops.concatenate(
            [ops.zeros((batch, 1)), ops.full((batch, width - 1), float("-inf"))], axis=1
        )
        for _ in range(self.depth):
            is_leaf = ops.greater_equal(ids, num_nodes)
            nodes = ops.where(is_leaf, 0, ids)
            rows = ops.cast(ops.take(self.kernel, nodes, axis=0), hidden.dtype)
            z = ops.einsum("bd,bwd->bw", hidden, rows)
            if self.bias is not None:
                z = z + ops.cast(ops.take(self.bias, nodes, axis=0), hidden.dtype)
            children = ops.take(self.children_table, nodes, axis=0)  # (batch, width, 2)
            # A finished leaf carries over once; a node splits into its two children.
            candidate_scores = ops.concatenate(
                [
                    ops.where(is_leaf, scores, scores + ops.log_sigmoid(z)),
                    ops.where(is_leaf, float("-inf"), scores + ops.log_sigmoid(-z)),
                ],
                axis=1,
            )
            candidate_ids = ops.concatenate(
                [ops.where(is_leaf, ids, children[..., 0]), ops.where(is_leaf, ids, children[..., 1])],
                axis=1,
            )
            scores, best = ops.top_k(candidate_scores, width)
            ids = ops.take_along_axis(candidate_ids, best, axis=1)
        log_probs, best = ops.top_k(scores, k)
        classes = ops.take_along_axis(ids, best, axis=1) - num_nodes
        return log_probs, classes

    # -- configuration -------------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        if self._tree is None or self._tree.kind == trees.PATHS:
            tree = {"kind": trees.PATHS, "num_classes": self.num_classes, "depth": self.depth}
        else:
            tree = self._tree.get_config()
        config.update(
            {
                "tree": tree,
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            }
        )
        return config


def _level_tables(tree):
    """Index tables to compute every class's log-probability one tree level at a time.

    Level `k` holds the nodes at depth `k` (the root is level 0), in node order.
    Branch rows number the `2 * num_nodes` branches: `n` for the +1 branch of node
    `n`, `num_nodes + n` for its -1 branch.

    Returns:
        `(levels, leaf_parents, leaf_branches)`. `levels[k - 1]` is a pair of int32
        arrays over the nodes of level `k`: the position of each node's parent in
        level `k - 1`, and the branch row leading to the node. `leaf_parents[c]` is
        the position of the last node on the path of class `c` among all nodes in
        level order, `leaf_branches[c]` the branch row from it to the class.
    """
    num_nodes, depth = tree.num_nodes, tree.depth
    on_path = tree.codes != 0
    level = np.zeros(num_nodes, np.int64)
    level[tree.paths[on_path]] = np.nonzero(on_path)[1]
    branch_rows = np.where(tree.codes < 0, tree.paths + num_nodes, tree.paths)
    into = np.zeros(num_nodes, np.int64)  # the branch row leading to each node (0 for the root)
    followed = on_path[:, 1:]
    into[tree.paths[:, 1:][followed]] = branch_rows[:, :-1][followed]
    order = np.argsort(level, kind="stable")
    starts = np.concatenate([[0], np.cumsum(np.bincount(level, minlength=depth))])
    position = np.empty(num_nodes, np.int64)
    position[order] = np.arange(num_nodes) - starts[level[order]]
    levels = []
    for k in range(1, depth):
        nodes = order[starts[k]:starts[k + 1]]
        parents = into[nodes] % num_nodes
        levels.append((position[parents].astype(np.int32), into[nodes].astype(np.int32)))
    classes = np.arange(tree.num_classes)
    last = tree.path_lengths - 1
    last_nodes = tree.paths[classes, last]
    leaf_parents = (starts[level[last_nodes]] + position[last_nodes]).astype(np.int32)
    return tuple(levels), leaf_parents, branch_rows[classes, last].astype(np.int32)


def _path_logits_mask(labels, table):
    labels = _labels(labels)
    num_classes = table.shape[0]
    in_range = ops.logical_and(ops.greater_equal(labels, 0), ops.less(labels, num_classes))
    entries = _backend.take_rows(table, ops.where(in_range, labels, 0))
    return ops.logical_and(ops.not_equal(entries, 0), ops.expand_dims(in_range, -1))


def _is_pair(inputs):
    return isinstance(inputs, (list, tuple)) and len(inputs) == 2 and not isinstance(
        inputs[0], (int, type(None))
    )


def _is_stored_tree(tree):
    """A layer config's placeholder for a tree whose arrays are in the weights."""
    return isinstance(tree, dict) and tree.get("kind") == trees.PATHS and tree.get("paths") is None


def _table_initializer(values):
    def initialize(shape, dtype=None):
        if values is None:  # filled when the weights are loaded
            return ops.zeros(shape, dtype)
        return ops.convert_to_tensor(np.array(values), dtype)  # a writable copy

    return initialize
