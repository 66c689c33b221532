"""Hierarchical softmax loss: the negative log-likelihood of a class in a binary tree.

The classes are the leaves of a `keras_losses.trees.Tree`; each internal node has a
logit `z`, and a class's probability is the product over its path of
`sigmoid(code * z)`. Its negative log-likelihood is

    nll = sum over the nodes on the path of -log_sigmoid(code * z[node])

which needs only the `depth` logits on the path. The loss takes either every node's
logit (`(batch, num_nodes)`, the exact path) or the signed path logits that
`keras_losses.layers.HierarchicalSoftmax` returns when it is given the labels (the
fast path: the model never computes the other nodes).
"""

import keras
import numpy as np
from keras import ops

from keras_losses import _backend
from keras_losses import _inputs
from keras_losses import _validation
from keras_losses import trees
from keras_losses.losses.base import function_twin
from keras_losses.losses.base import Loss


def _check_arguments(tree, from_path_logits, ignore_class):
    from_path_logits = _validation.boolean("from_path_logits", from_path_logits)
    if tree is None and not from_path_logits:
        raise _validation.invalid(
            "tree", "a keras_losses.trees.Tree (required unless from_path_logits=True)", tree
        )
    return (
        None if tree is None else trees.as_tree(tree),
        from_path_logits,
        _validation.integer("ignore_class", ignore_class, allow_none=True),
    )


def _path_terms(y_true, y_pred, tree, from_path_logits, ignore_class):
    """The signed path logits, where each path runs, and each example's status.

    Labels are compared as integers here, before any float cast.

    Returns:
        `(logits, on_path, valid, ignored)`: float `(batch, depth)` logits signed
        so that the label's branch is positive (0 off the path), bool
        `(batch, depth)`, and bool `(batch,)` twice: a label that has a path, and a
        label equal to `ignore_class`.
    """
    if from_path_logits:
        mask = _backend.get_mask(y_pred)
        logits = _inputs.floats(y_pred)
        _check_rank(logits, "path logits (batch, depth)")
        if tree is not None and logits.shape[-1] is not None and logits.shape[-1] != tree.depth:
            raise ValueError(
                f"Path logits must have shape (batch, {tree.depth}) for this tree of depth "
                f"{tree.depth}. Received shape {tuple(logits.shape)}."
            )
        labels = _inputs.class_labels(y_true, logits)
        on_path = ops.ones(ops.shape(logits), "bool") if mask is None else ops.cast(mask, "bool")
        has_path = ops.any(on_path, axis=-1)
        if tree is not None:
            has_path = ops.logical_and(has_path, _inputs.in_class_range(labels, tree.num_classes))
    else:  # `_check_arguments` has made sure there is a tree
        logits = _inputs.floats(y_pred)
        _check_rank(logits, f"node logits (batch, {tree.num_nodes})")
        if logits.shape[-1] is not None and logits.shape[-1] != tree.num_nodes:
            raise ValueError(
                f"Node logits must have shape (batch, {tree.num_nodes}): one per internal node "
                f"of a tree of {tree.num_classes} classes. Received shape {tuple(logits.shape)}."
            )
        labels = _inputs.class_labels(y_true, logits)
        nodes, codes, on_path = trees.gather_paths(tree.signed_table, labels)
        has_path = ops.any(on_path, axis=-1)  # every class has a path of at least one node
        logits = ops.take_along_axis(logits, nodes, axis=1) * ops.cast(codes, logits.dtype)
    if ignore_class is None:
        ignored = ops.zeros_like(has_path)
    else:
        ignored = ops.equal(labels, ignore_class)
    if tree is not None:
        _inputs.labels_in_range(labels, tree.num_classes, ignore_class)  # raises in eager mode
    else:
        _raise_for_labels_without_path(labels, has_path, ignored, ignore_class)
    logits = ops.where(on_path, logits, ops.zeros_like(logits))
    return logits, on_path, ops.logical_and(has_path, ops.logical_not(ignored)), ignored


def _negative_log_likelihood(logits, on_path, valid, ignored):
    """Per example: the NLL where valid, 0 where ignored, NaN otherwise."""
    logits = _inputs.floats(logits)
    # -log p(class) = sum over the path of -log_sigmoid(signed logit)
    terms = ops.where(on_path, -ops.log_sigmoid(logits), ops.zeros_like(logits))
    nll = ops.sum(terms, axis=-1)
    zero = ops.zeros_like(nll)
    return ops.where(valid, nll, ops.where(ignored, zero, zero + float("nan")))


@function_twin
def hierarchical_softmax_loss(
    y_true, y_pred, *, tree=None, from_path_logits=False, ignore_class=None
):
    """Negative log-likelihood of each example's class under a hierarchical softmax.

        nll = sum over the nodes on the path of the class of -log_sigmoid(code * z)

    Args:
        y_true: integer classes `(batch,)` (or `(batch, 1)`).
        y_pred: with `from_path_logits=False`, the logits of every internal node,
            `(batch, tree.num_nodes)`, e.g. `HierarchicalSoftmax(tree)(hidden)`;
            with `from_path_logits=True`, the signed path logits
            `(batch, depth)` that `HierarchicalSoftmax(tree)([hidden, labels])`
            returns, whose Keras mask marks the positions on each path (without a
            mask every position counts).
        tree: a `keras_losses.trees.Tree`; required for node logits, optional for
            path logits (then the labels are checked against it).
        from_path_logits: which of the two forms `y_pred` is.
        ignore_class: `None`, or a class id whose examples get loss 0 and are left
            out of the mean (like `keras.losses.SparseCategoricalCrossentropy`).

    Returns:
        Float tensor `(batch,)`. With `ignore_class`, it carries a Keras mask that
        excludes the ignored examples.

    A label with no path in the tree (outside `[0, num_classes)`, other than
    `ignore_class`) raises `ValueError` in eager mode; compiled code cannot raise,
    so its loss is NaN there, which shows in the first logged value.

    Example:

    >>> import numpy as np
    >>> from keras_losses.trees import Tree
    >>> tree = Tree.balanced(4)  # classes 0 .. 3, two nodes on every path
    >>> loss = hierarchical_softmax_loss(np.array([2]), np.zeros((1, 3)), tree=tree)
    >>> print(f"{float(loss[0]):.4f}")  # -log(1/4)
    1.3863
    """
    tree, from_path_logits, ignore_class = _check_arguments(tree, from_path_logits, ignore_class)
    terms = _path_terms(y_true, y_pred, tree, from_path_logits, ignore_class)
    loss = _negative_log_likelihood(*terms)
    if ignore_class is not None:
        _backend.set_mask(loss, ops.logical_not(terms[3]))
    return loss


@keras.saving.register_keras_serializable(package="keras_losses")
class HierarchicalSoftmaxLoss(Loss):
    """Hierarchical softmax negative log-likelihood; see `hierarchical_softmax_loss`.

    Two ways to train with it:

    * Exact path: `HierarchicalSoftmax(tree)(hidden)` (or any layer giving
      `(batch, tree.num_nodes)` logits) with `HierarchicalSoftmaxLoss(tree)`.
      Simple, but the model computes every node: `O(num_classes * d)` per example.
    * Fast path: `HierarchicalSoftmax(tree)([hidden, labels])` with
      `HierarchicalSoftmaxLoss(from_path_logits=True)`: only the nodes on each
      label's path, `O(depth * d)`. The loss reads the layer's padding mask and
      consumes it (Keras would otherwise apply a `(batch, depth)` mask to
      `(batch,)` losses).

    Both give the same values and gradients. With two classes the loss equals
    `keras.losses.BinaryCrossentropy(from_logits=True)` of the one node's logit;
    in `Tree.balanced(2)` class 1 is the positive class, `p(1) = sigmoid(z)`.

    The config holds `tree` compactly (a balanced tree's size, a Huffman tree's
    counts); a tree from `Tree.from_paths` is saved as its paths in JSON, so for a
    large user hierarchy train through the fast path (no tree in the loss) and
    keep the tree in the layer, which saves it as weights.

    Args:
        tree: a `keras_losses.trees.Tree` or its config; required unless
            `from_path_logits=True`.
        from_path_logits: whether `y_pred` is the layer's path logits.
        ignore_class: `None` or a class id to leave out of the loss and the mean.

    Example:

    >>> import keras
    >>> from keras_losses.trees import Tree
    >>> tree = Tree.huffman([900, 50, 30, 20])
    >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(tree.num_nodes)])
    >>> model.compile(optimizer="sgd", loss=HierarchicalSoftmaxLoss(tree))

    References:
        Morin and Bengio, 2005, "Hierarchical Probabilistic Neural Network Language
        Model". Mikolov et al., 2013, "Distributed Representations of Words and
        Phrases and their Compositionality", https://arxiv.org/abs/1310.4546.
    """

    def __init__(
        self,
        tree=None,
        from_path_logits=False,
        ignore_class=None,
        reduction="sum_over_batch_size",
        name="hierarchical_softmax_loss",
        dtype=None,
    ):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.tree, self.from_path_logits, self.ignore_class = _check_arguments(
            tree, from_path_logits, ignore_class
        )

    def prepare(self, y_true, y_pred):
        # Labels become exact per-position weights here, before Keras casts them:
        # y_true = [status, on_path...] with status 1 (counts), 0 (ignored), NaN (no
        # path). The returned logits are a new tensor, so Keras sees no mask on them.
        logits, on_path, valid, ignored = _path_terms(
            y_true, y_pred, self.tree, self.from_path_logits, self.ignore_class
        )
        dtype = logits.dtype
        status = ops.where(
            valid, ops.ones_like(logits[:, 0]), ops.where(ignored, ops.zeros_like(logits[:, 0]), float("nan"))
        )
        packed = ops.concatenate([ops.expand_dims(status, -1), ops.cast(on_path, dtype)], axis=-1)
        return packed, logits

    def call(self, y_true, y_pred):
        status, on_path = y_true[:, 0], ops.greater(y_true[:, 1:], 0)
        valid, ignored = ops.equal(status, 1), ops.equal(status, 0)
        loss = _negative_log_likelihood(y_pred, on_path, valid, ignored)
        if self.ignore_class is not None:
            _backend.set_mask(loss, ops.logical_not(ignored))
        return loss


def _check_rank(logits, expected):
    if len(logits.shape) != 2:
        raise ValueError(f"`y_pred` must be {expected}. Received shape {tuple(logits.shape)}.")


def _raise_for_labels_without_path(labels, has_path, ignored, ignore_class):
    """In eager mode, a label whose path logits are all masked is an error."""
    if not _backend.is_concrete(labels):
        return
    bad = ~(_backend.to_numpy(has_path) | _backend.to_numpy(ignored))
    if not bad.any():
        return
    values = np.unique(_backend.to_numpy(labels)[bad])[:10].tolist()
    raise ValueError(
        "Class labels must be classes of the tree (these have an all-masked path, so "
        "they are outside [0, num_classes))"
        + (f" or ignore_class={ignore_class}" if ignore_class is not None else "")
        + f". Received labels {values}."
    )
