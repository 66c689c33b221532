"""Verification cases of keras_losses.losses.hierarchical and the fast path of its layer.

The exact path (node logits in, one NLL per example out) is checked against a NumPy
oracle that walks each path one node at a time, and the two-class tree against
`keras.losses.BinaryCrossentropy(from_logits=True)`.

The fast path cannot be checked on the loss alone: its input, the path logits, is
made by the layer from the hidden features and the kernel. So those cases verify
the function `(y_true, hidden, kernel, bias) -> NLL` that a training step
differentiates: the layer's gather of the path rows followed by the loss. Its
gradient with respect to the kernel is the one SGD applies (sparse on TensorFlow;
the harness compares it dense), and with respect to `hidden` the one that flows
into the rest of the model. Both must equal the exact path: node logits
`hidden @ kernel.T + bias` for every node, then the loss.
"""

import functools

import keras
from keras import ops

from keras_losses import _backend
from keras_losses.layers import hierarchical_softmax
from keras_losses.losses import hierarchical
from keras_losses.testing.reference import hierarchical as reference
from keras_losses.trees import Tree
from keras_losses.verify.case import KERAS
from keras_losses.verify.case import NUMPY
from keras_losses.verify.case import Case
from keras_losses.verify.case import Reference

BATCH, UNITS = 8, 4

def _trees():
    return {
        "balanced(7)": Tree.balanced(7),
        "huffman(counts with ties)": Tree.huffman([4, 1, 2, 2, 1, 7, 1, 4]),
        "from_paths": Tree.from_paths(
            [[0, 1, 2], [0, 1, 2], [0, 1], [0, 3], [0, 3]],
            [[1, 1, 1], [1, 1, -1], [1, -1], [-1, 1], [-1, -1]],
        ),
    }


def _oracle(tree, ignore_class=None):
    lengths = tree.path_lengths
    paths = [row[:n] for row, n in zip(tree.paths.tolist(), lengths)]
    codes = [row[:n] for row, n in zip(tree.codes.tolist(), lengths)]

    def fn(y_true, y_pred):
        return reference.hierarchical_softmax_nll(y_true, y_pred, paths, codes, ignore_class)

    return fn


def _node_logit_inputs(tree, ignore_class=None):
    def inputs(rng):
        labels = rng.integers(0, tree.num_classes, BATCH)
        if ignore_class is not None:
            labels[::3] = ignore_class
        return {"y_true": labels, "y_pred": rng.normal(0.0, 2.0, (BATCH, tree.num_nodes))}

    return inputs


def _exact_cases():
    cases = []
    for label, tree in _trees().items():
        cases.append(
            Case(
                name=f"HierarchicalSoftmaxLoss({label})",
                family="hierarchical",
                build=lambda tree=tree: hierarchical.HierarchicalSoftmaxLoss(tree, reduction=None),
                inputs=_node_logit_inputs(tree),
                references=(Reference("NumPy path walk", NUMPY, _oracle(tree)),),
                quick=label.startswith("huffman"),
            )
        )
    tree = _trees()["balanced(7)"]
    cases.append(
        Case(
            name="HierarchicalSoftmaxLoss(balanced(7), ignore_class=-1)",
            family="hierarchical",
            build=lambda: hierarchical.HierarchicalSoftmaxLoss(tree, ignore_class=-1, reduction=None),
            inputs=_node_logit_inputs(tree, ignore_class=-1),
            references=(Reference("NumPy path walk", NUMPY, _oracle(tree, ignore_class=-1)),),
        )
    )
    return cases


def _binary_cross_entropy():
    """BinaryCrossentropy(from_logits=True) of the one node; class 1 is positive."""
    builtin = keras.losses.BinaryCrossentropy(from_logits=True, reduction=None)

    def fn(y_true, y_pred):
        return builtin(ops.cast(ops.expand_dims(y_true, -1), "float32"), y_pred)

    return fn


def _two_class_case():
    tree = Tree.balanced(2)

    def inputs(rng):
        return {"y_true": rng.integers(0, 2, BATCH), "y_pred": rng.normal(0.0, 3.0, (BATCH, 1))}

    return Case(
        name="HierarchicalSoftmaxLoss(balanced(2))",
        family="hierarchical",
        build=lambda: hierarchical.HierarchicalSoftmaxLoss(tree, reduction=None),
        inputs=inputs,
        references=(
            Reference("NumPy path walk", NUMPY, _oracle(tree)),
            Reference("keras.losses.BinaryCrossentropy(from_logits=True)", KERAS, _binary_cross_entropy),
        ),
        quick=True,
    )


# -- the fast path --------------------------------------------------------------------


def _through_the_layer(tree, loss, y_true, hidden, kernel, bias):
    """A training step's loss from `hidden` and the node weights.

    A loss built with `from_path_logits=True` gets the layer's path logits (only the
    rows on the paths are gathered); any other gets every node's logit.
    """
    if loss.from_path_logits:
        table = ops.convert_to_tensor(tree.signed_table)
        logits, mask = hierarchical_softmax._path_logits(hidden, y_true, kernel, table, bias)
        _backend.set_mask(logits, mask)
        return loss(y_true, logits)
    hidden = ops.cast(hidden, kernel.dtype)
    return loss(y_true, ops.matmul(hidden, ops.transpose(kernel)) + bias)


def _oracle_through_nodes(tree, ignore_class=None):
    nll = _oracle(tree, ignore_class)

    def fn(y_true, hidden, kernel, bias):
        return nll(y_true, hidden @ kernel.T + bias)

    return fn


def _fast_path_case(label, tree, wrt, ignore_class=None, quick=False):
    def inputs(rng):
        labels = rng.integers(0, tree.num_classes, BATCH)
        if ignore_class is not None:
            labels[::3] = ignore_class
        return {
            "y_true": labels,
            "hidden": rng.normal(0.0, 1.0, (BATCH, UNITS)),
            "kernel": rng.normal(0.0, 1.0, (tree.num_nodes, UNITS)),
            "bias": rng.normal(0.0, 0.5, (tree.num_nodes,)),
        }

    suffix = "" if ignore_class is None else f", ignore_class={ignore_class}"
    return Case(
        name=f"HierarchicalSoftmax path logits + HierarchicalSoftmaxLoss({label}{suffix}), d/d {wrt}",
        family="hierarchical",
        build=lambda: hierarchical.HierarchicalSoftmaxLoss(
            from_path_logits=True, ignore_class=ignore_class, reduction=None
        ),
        inputs=inputs,
        references=(
            Reference("NumPy path walk of hidden @ kernel.T + bias", NUMPY, _oracle_through_nodes(tree, ignore_class)),
            Reference(
                "exact path: every node's logit + HierarchicalSoftmaxLoss(tree)",
                KERAS,
                lambda: hierarchical.HierarchicalSoftmaxLoss(tree, ignore_class=ignore_class, reduction=None),
            ),
        ),
        wrt=wrt,
        low_precision=("hidden",),
        quick=quick,
        call=functools.partial(_through_the_layer, tree),
    )


def _fast_path_cases():
    trees = _trees()
    return [
        _fast_path_case("huffman", trees["huffman(counts with ties)"], "kernel", quick=True),
        _fast_path_case("huffman", trees["huffman(counts with ties)"], "hidden"),
        _fast_path_case("from_paths", trees["from_paths"], "kernel", ignore_class=-1),
        _fast_path_case("balanced(7)", trees["balanced(7)"], "bias"),
    ]


CASES = [*_exact_cases(), _two_class_case(), *_fast_path_cases()]
