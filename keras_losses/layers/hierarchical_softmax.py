"""The output layer of a hierarchical softmax: one logistic unit per tree node.

With `V` classes a full softmax scores every class: `V * d` multiply-adds per
example, forward and backward, and a gradient for all `V` rows of its kernel. A
hierarchical softmax puts the classes at the leaves of a binary tree; the
probability of a class is the product of one sigmoid per node on its path, so the
loss of an example needs only those nodes: about `d * log2(V)` work, and a gradient
for about `log2(V)` kernel rows.
"""

import re
import weakref

import keras
import numpy as np
from keras import ops

from keras_losses import _backend
from keras_losses import _config
from keras_losses import _inputs
from keras_losses import _validation
from keras_losses import trees

# The user hierarchies (`Tree.from_paths`) that layers of this process hold, by
# content hash. A layer's config names such a tree by its hash instead of listing its
# paths, so `from_config`, `keras.models.clone_model` and `regularizers.apply` find
# the same `Tree` here; a fresh process gets it from the saved weights.
_USER_TREES = weakref.WeakValueDictionary()
_DIGEST = re.compile(r"[0-9a-f]{64}")


def _path_logits(hidden, labels, kernel, table, bias=None):
    """Signed logits of the nodes on each label's path, and where a path ends.

    Only the kernel rows on the paths are gathered (`_backend.take_rows`), so the
    work is `batch * depth * d` and, on TensorFlow, the kernel's gradient is sparse.
    A label outside `[0, num_classes)` gets an all-False mask row (the loss decides
    whether that is an ignored class or an error).

    Args:
        hidden: float `(batch, d)`; 16-bit inputs are computed in float32.
        labels: integer classes `(batch,)` (or `(batch, 1)`).
        kernel: `(num_nodes, d)` variable or tensor.
        table: `(num_classes, depth)` int32 variable or tensor (`Tree.signed_table`).
        bias: `(num_nodes,)` or `None`.

    Returns:
        `(logits, mask)`: float `(batch, depth)` with padding set to 0, and bool
        `(batch, depth)`.
    """
    hidden = _inputs.floats(hidden)
    nodes, codes, on_path = trees.gather_paths(table, _layer_labels(labels, hidden))
    rows = ops.cast(_backend.take_rows(kernel, nodes), hidden.dtype)  # (batch, depth, d)
    logits = ops.einsum("bd,bkd->bk", hidden, rows)
    if bias is not None:
        logits = logits + ops.cast(_backend.take_rows(bias, nodes), hidden.dtype)
    # Signed so that the branch towards the label is positive; padding is 0.
    logits = ops.where(on_path, logits * ops.cast(codes, hidden.dtype), 0)
    return logits, on_path


@keras.saving.register_keras_serializable(package="keras_losses")
class HierarchicalSoftmax(_config.Configurable, keras.layers.Layer):
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
    On JAX and PyTorch pass the model to `keras_losses.optimizers.sparse_updates`
    for the same; `keras_losses.optimizers.LazyAdam` is the row-sparse Adam.
    A label outside `[0, num_classes)` (an ignored class such as -1) gets an
    all-masked row: the loss gives it zero with `ignore_class`, NaN otherwise.

    For inference, `log_probs(hidden)` gives `(batch, num_classes)` and
    `top_k(hidden, k)` the `k` most likely classes.

    The path tables live in two non-trainable int32 weights (`path_table`,
    `(num_classes, depth)`, and `children`, `(num_nodes, 2)`), so they travel in a
    `.keras` file with the kernel and are read by the graph as variables, never
    baked in as constants. The layer's config holds the size of a balanced tree and
    the counts of a Huffman tree; a tree from `Tree.from_paths` is named by a hash of
    its table (`table_sha256`), never listed. `from_config`, `clone_model` and
    `regularizers.apply` in the same process get the same tree back by that hash;
    elsewhere the layer rebuilds it from the `path_table` weight when the weights are
    loaded (`load_model`, `load_weights` or `set_weights`) and checks it against the
    hash. Loading also checks the stored shapes against the config before creating
    any variable, and the stored tables against the tree, so an altered file fails
    with a `ValueError` that says what does not match.

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
            than the fast path itself for large trees; its gradient is dense, so
            the kernel's update is `O(num_nodes * d)` too (`sparse_updates` leaves
            a regularized table to the dense step).

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
        self._tree = None  # the Tree, once known
        self._balanced = None  # a balanced tree's config: the Tree is made when first needed
        self._digest = None  # the hash of a user hierarchy's table (`Tree.digest`)
        self._deferred_shape = None  # set while loading: see `build_from_config`
        if _is_stored_tree(tree):  # from a config: the tree is known by its hash, or in the weights
            self._num_classes, self._depth, self._digest = _stored_tree(tree)
            known = _USER_TREES.get(self._digest) if self._digest else None
            if known is not None and (known.num_classes, known.depth) == (self._num_classes, self._depth):
                self._tree = known
        elif isinstance(tree, dict) and tree.get("kind") == trees.BALANCED:
            # Sized from the config alone, so that a load can compare it with the
            # stored weights before it allocates anything of the tree's size.
            self._num_classes, self._depth = _balanced_size(tree)
            self._balanced = dict(tree)
        else:
            self._set_tree(trees.as_tree(tree))
        self.use_bias = _validation.boolean("use_bias", use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

    # -- the tree ------------------------------------------------------------------

    @property
    def tree(self):
        """The `Tree` (for a tree from `Tree.from_paths` made in another process, once
        the weights are loaded)."""
        unknown = self._tree is None and (self._balanced is not None or self._deferred_shape is not None)
        tree = None if unknown and _backend.in_keras_loading() else self._known_tree()
        if tree is None:
            raise ValueError(
                f"The tree of layer {self.name!r} is stored in its weights (a tree from "
                "`Tree.from_paths` that this process has not seen); load them first "
                "(`keras.saving.load_model`, `model.load_weights` or `set_weights`)."
            )
        return tree

    def _known_tree(self):
        """The `Tree`, or `None` while only the weights could tell it and hold none yet."""
        if self._tree is None and self._balanced is not None:
            self._set_tree(trees.as_tree(self._balanced))
            self._balanced = None
        if self._tree is None and self._deferred_shape is None and getattr(self, "path_table", None) is not None:
            # Weights assigned by `model.set_weights` or `variable.assign` (a layer's
            # own `set_weights` and loading adopt the tree at once).
            if np.any(_backend.to_numpy(self.path_table)):
                self._adopt_tables("the weights set")
        return self._tree

    def _set_tree(self, tree):
        self._tree = tree
        self._num_classes, self._depth = tree.num_classes, tree.depth
        if tree.kind == trees.PATHS:
            self._digest = tree.digest
            _USER_TREES[self._digest] = tree

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
        self._deferred_shape = None
        self._create_weights(_units(input_shape, type(self).__name__))

    def build_from_config(self, config):
        # `load_model` calls this before it reads the weights (and then marks the
        # layer built). There the variables are created in `load_own_variables`
        # instead, once the stored shapes have been checked against the config: a
        # tampered config could ask for 10**8 classes. Anything that needs them
        # before (a call, `layer.weights`) creates them. Elsewhere (`from_config`
        # of a model's config) the layer is built at once, as Keras does.
        shape = (config or {}).get("input_shape")
        if shape is None or not _backend.in_keras_loading():
            return super().build_from_config(config)
        self._deferred_shape = _units(shape, type(self).__name__)

    def _ensure_weights(self):
        if self._deferred_shape is not None:
            units, self._deferred_shape = self._deferred_shape, None
            self._create_weights(units)

    # While Keras loads or saves a model it looks at `variables` (to size them) and
    # at every public attribute; only the weights it loads may create anything then.

    @property
    def weights(self):
        if self._deferred_shape is not None and not _backend.in_keras_loading():
            self._ensure_weights()
        return super().weights

    @property
    def variables(self):
        if self._deferred_shape is not None and not _backend.in_keras_loading():
            self._ensure_weights()
        return super().variables

    def save_own_variables(self, store):
        self._ensure_weights()
        super().save_own_variables(store)

    def _create_weights(self, units):
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
        tree = self._known_tree()
        self.path_table = self.add_weight(
            shape=(self.num_classes, self.depth),
            initializer=_table_initializer(None if tree is None else tree.signed_table),
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
        units = self._deferred_shape if self._deferred_shape is not None else self.kernel.shape[-1]
        self._check_stored_shapes(store, units)  # before anything is allocated
        if self._deferred_shape is not None:
            self._ensure_weights()
            # The optimizer of a compiled model was built without these variables.
            _backend.adopt_late_variables(_is_pending)
        super().load_own_variables(store)
        self._adopt_tables("the loaded weights")

    def set_weights(self, weights):
        super().set_weights(weights)
        self._adopt_tables("the weights set")

    def _expected_shapes(self, units):
        shapes = {"kernel": (self.num_nodes, units)}
        if self.use_bias:
            shapes["bias"] = (self.num_nodes,)
        shapes["path_table"] = (self.num_classes, self.depth)
        shapes["children"] = (self.num_nodes, 2)
        return shapes

    def _check_stored_shapes(self, store, units):
        expected = self._expected_shapes(units)
        where = (
            f"Cannot load layer {self.name!r} ({type(self).__name__}): its config describes a "
            f"tree of {self.num_classes} classes and depth {self.depth} on inputs of size {units}, "
        )
        altered = "The config or the weights were altered, or they come from different models."
        stored = len(store.keys())
        if stored != len(expected):
            raise ValueError(
                f"{where}which has {len(expected)} weights ({', '.join(expected)}), but "
                f"{stored} are stored. {altered}"
            )
        for i, (name, shape) in enumerate(expected.items()):
            found = _backend.stored_shape(store, str(i))
            if found != shape:
                raise ValueError(
                    f"{where}so `{name}` must have shape {shape}, but the stored one has shape "
                    f"{found}. {altered}"
                )

    def _adopt_tables(self, source):
        """Checks the path tables just loaded against the tree, or rebuilds the tree.

        The forward pass reads the `path_table` weight and `log_probs` the `Tree`:
        were they to disagree, the loss would follow one class's path while the
        layer reported another's.
        """
        entries = _backend.to_numpy(self.path_table)
        children = _backend.to_numpy(self.children_table)
        problem = f"Cannot use {source} of layer {self.name!r} ({type(self).__name__}): "
        if self._tree is None and self._balanced is not None:
            self._set_tree(trees.as_tree(self._balanced))
            self._balanced = None
        tree = self._tree
        if tree is None:
            try:
                tree = trees.Tree.from_signed_table(entries)
            except ValueError as error:
                raise ValueError(f"{problem}its `path_table` is not a tree: {error}") from None
            if tree.depth != self.depth:
                raise ValueError(
                    f"{problem}its `path_table` has {self.depth} columns but its longest path "
                    f"has {tree.depth} nodes. The weights were altered."
                )
            if self._digest is not None and tree.digest != self._digest:
                raise ValueError(
                    f"{problem}its `path_table` is not the tree its config names (the table's "
                    f"hash is {tree.digest}, the config's `table_sha256` {self._digest}). "
                    "The config or the weights were altered, or they come from different models."
                )
        elif not np.array_equal(entries, tree.signed_table):
            rows = np.nonzero(np.any(entries != tree.signed_table, axis=1))[0]
            raise ValueError(
                f"{problem}its `path_table` does not match its tree ({tree!r}): the paths of "
                f"{len(rows)} classes differ, first {rows[:5].tolist()}. The config or the "
                "weights were altered, or they come from different models."
            )
        if not np.array_equal(children, tree.children):
            raise ValueError(
                f"{problem}its `children` table does not match the tree of its `path_table`. "
                "The weights were altered, or they come from different models."
            )
        if self._tree is None:
            self._set_tree(tree)

    # -- forward -------------------------------------------------------------------

    def call(self, inputs):
        self._ensure_weights()
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
        self._ensure_weights()
        return hidden

    def compute_mask(self, inputs, previous_mask):
        if not _is_pair(inputs):
            return previous_mask
        hidden, labels = inputs
        if self._deferred_shape is not None and isinstance(labels, keras.KerasTensor):
            # Loading rebuilds the graph before the weights exist: a symbolic table will do.
            table = keras.KerasTensor((self.num_classes, self.depth), dtype="int32")
        else:
            self._ensure_weights()
            table = self.path_table
        return trees.gather_paths(table, _layer_labels(labels, hidden))[2]

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
        levels, leaf_parents, leaf_branches = self.tree.level_tables
        reached = [ops.zeros_like(branch[:1])]  # the root is reached with log 1
        for parents, branches in levels:
            reached.append(ops.take(reached[-1], parents, axis=0) + ops.take(branch, branches, axis=0))
        reached = ops.concatenate(reached, axis=0)  # (num_nodes, batch), in level order
        total = ops.take(reached, leaf_parents, axis=0) + ops.take(branch, leaf_branches, axis=0)
        return ops.transpose(total)

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

    @classmethod
    def from_config(cls, config):
        # Keras's `from_config` puts the whole config before the cause of an error
        # (kilobytes of it for a large Huffman tree); say the cause first.
        try:
            return super().from_config(config)
        except TypeError as error:
            cause = error.__context__
            if not isinstance(cause, ValueError):
                raise
            name = config.get("name") if isinstance(config, dict) else None
            raise ValueError(f"Cannot load layer {name!r} ({cls.__name__}): {cause}") from cause

    def _argument(self, name):
        if name != "tree":
            return super()._argument(name)
        if self._balanced is not None:
            return dict(self._balanced)
        if self._tree is None or self._tree.kind == trees.PATHS:
            # A user hierarchy is named by its hash; its arrays are in the weights.
            tree = {"kind": trees.PATHS, "num_classes": self.num_classes, "depth": self.depth}
            if self._digest is not None:
                tree["table_sha256"] = self._digest
            return tree
        return self._tree  # its config, through `_config.serialize`


def _layer_labels(labels, hidden):
    """Integer classes `(batch,)` for `hidden` `(batch, d)` (a trailing axis of 1 squeezed)."""
    return _inputs.class_labels(labels, hidden, names=("labels", "hidden"))


def _is_pending(layer):
    """Whether `layer` is a `HierarchicalSoftmax` whose variables wait for its weights."""
    return isinstance(layer, HierarchicalSoftmax) and layer._deferred_shape is not None


def _is_pair(inputs):
    return isinstance(inputs, (list, tuple)) and len(inputs) == 2 and not isinstance(
        inputs[0], (int, type(None))
    )


def _units(input_shape, layer):
    """The size `d` of `hidden` in an input shape (of `hidden`, or of `[hidden, labels]`)."""
    hidden_shape = input_shape[0] if _is_pair(input_shape) else input_shape
    if len(hidden_shape) != 2 or hidden_shape[-1] is None:
        raise ValueError(
            f"{layer} expects `hidden` of shape (batch, d) with d known. "
            f"Received shape {tuple(hidden_shape)}."
        )
    return _validation.integer("units", hidden_shape[-1], minimum=1)


def _is_stored_tree(tree):
    """A layer config's placeholder for a tree whose arrays are in the weights."""
    return isinstance(tree, dict) and tree.get("kind") == trees.PATHS and tree.get("paths") is None


def _stored_tree(tree):
    """`(num_classes, depth, table_sha256 or None)` of a placeholder, checked."""
    extra = set(tree) - {"kind", "num_classes", "depth", "table_sha256", "paths", "codes", "class_counts"}
    if extra or any(tree.get(key) is not None for key in ("codes", "class_counts")):
        raise _validation.invalid("tree", "a Tree or its config", tree)
    num_classes = _validation.integer("num_classes", tree.get("num_classes"), minimum=2)
    depth = _validation.integer("depth", tree.get("depth"), minimum=1)
    if depth > num_classes - 1:  # a path has at most num_classes - 1 nodes
        raise _validation.invalid("depth", f"an integer in [1, {num_classes - 1}] for {num_classes} classes", depth)
    digest = tree.get("table_sha256")
    if digest is not None and not (isinstance(digest, str) and _DIGEST.fullmatch(digest)):
        raise _validation.invalid("table_sha256", "a hex SHA-256 digest or None", digest)
    return num_classes, depth, digest


def _balanced_size(config):
    """`(num_classes, depth)` of a balanced tree's config, without building the tree."""
    extra = set(config) - {"kind", "num_classes", "class_counts", "paths", "codes"}
    if extra or any(config.get(key) is not None for key in ("class_counts", "paths", "codes")):
        return trees.as_tree(config).num_classes, trees.as_tree(config).depth  # raises
    num_classes = _validation.integer("num_classes", config.get("num_classes"), minimum=2)
    # The heap of 2 * num_classes - 1 items is full down to its last level.
    return num_classes, (2 * num_classes - 1).bit_length() - 1


def _table_initializer(values):
    def initialize(shape, dtype=None):
        if values is None:  # filled when the weights are loaded
            return ops.zeros(shape, dtype)
        return ops.convert_to_tensor(np.array(values), dtype)  # a writable copy

    return initialize
