"""Verification cases of `linear_cross_entropy` and of `LinearCrossEntropyLoss` fed by
the statistics of `LinearCrossEntropyHead`.

The object under test is the function `(labels, hidden, kernel, bias) -> loss per
example` that a training step differentiates, so its gradients with respect to
`hidden`, the kernel and the bias are all checked. Two references: the NumPy
oracle (the logits matrix in float64, the loss from its formula, gradients by finite
differences) and the computation this replaces, with the logits materialized:
`keras.losses.SparseCategoricalCrossentropy(from_logits=True)` of
`hidden @ kernel + bias` (`CategoricalCrossentropy(label_smoothing=s)` of the one-hot
labels with label smoothing), plus `z_loss * logsumexp**2`, differentiated by the
backend's autodiff.

`chunk_size=4` splits the 11 classes into chunks of 4, 4 and 3 (a remainder), and
the 12 classes of `V=12` into three whole chunks.
"""

import keras
from keras import ops

from keras_losses.losses import linear
from keras_losses.testing.reference import linear_cross_entropy as reference_linear
from keras_losses.verify.case import KERAS
from keras_losses.verify.case import NUMPY
from keras_losses.verify.case import Case
from keras_losses.verify.case import Reference

BATCH, UNITS, CLASSES = 6, 4, 11


def _inputs(classes=CLASSES, shape=(BATCH,), bias=True, ignore_class=None, transpose_kernel=False):
    def inputs(rng):
        labels = rng.integers(0, classes, shape)
        if ignore_class is not None:
            labels.reshape(-1)[::3] = ignore_class
        kernel_shape = (classes, UNITS) if transpose_kernel else (UNITS, classes)
        drawn = {
            "labels": labels,
            "hidden": rng.normal(0.0, 1.0, shape + (UNITS,)),
            "kernel": rng.normal(0.0, 1.0, kernel_shape),
        }
        if bias:
            drawn["bias"] = rng.normal(0.0, 0.5, (classes,))
        return drawn

    return inputs


def _oracle(**options):
    def fn(labels, hidden, kernel, bias=None):
        return reference_linear.linear_cross_entropy(labels, hidden, kernel, bias, **options)

    return fn


def _materialized(ignore_class=None, label_smoothing=0.0, z_loss=0.0, transpose_kernel=False):
    """The same loss from the logits matrix, with the Keras built-ins."""

    def build():
        sparse = keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, ignore_class=ignore_class, reduction=None
        )
        smoothed = keras.losses.CategoricalCrossentropy(
            from_logits=True, label_smoothing=label_smoothing, reduction=None
        )

        def fn(labels, hidden, kernel, bias=None):
            logits = ops.matmul(hidden, ops.transpose(kernel) if transpose_kernel else kernel)
            if bias is not None:
                logits = logits + bias
            if label_smoothing:
                loss = smoothed(ops.one_hot(labels, logits.shape[-1]), logits)
            else:
                loss = sparse(labels, logits)
            if z_loss:
                loss = loss + z_loss * ops.square(ops.logsumexp(logits, axis=-1))
            if ignore_class is not None:
                loss = ops.where(ops.equal(labels, ignore_class), 0.0, loss)
            return loss

        return fn

    return build


def _function(**options):
    def build():
        def fn(labels, hidden, kernel, bias=None):
            return linear.linear_cross_entropy(hidden, kernel, labels, bias, **options)

        return fn

    return build


def _through_the_head(chunk_size, **loss_options):
    """The training path: the head's statistics, then `LinearCrossEntropyLoss`."""

    def build():
        loss = linear.LinearCrossEntropyLoss(reduction=None, **loss_options)

        def fn(labels, hidden, kernel, bias=None):
            statistics = linear.logit_statistics(hidden, kernel, labels, bias, chunk_size)
            return loss(labels, statistics)

        return fn

    return build


def _describe(options):
    return ", ".join(f"{k}={v!r}" for k, v in options.items())


def _case(options, wrt, quick=False, classes=CLASSES, shape=(BATCH,), bias=True, head=False):
    loss_options = {k: v for k, v in options.items() if k != "chunk_size"}
    transpose_kernel = options.get("transpose_kernel", False)
    oracle_options = {**loss_options, "transpose_kernel": transpose_kernel}
    builtin_options = {**loss_options, "transpose_kernel": transpose_kernel}
    if head:
        name = f"LinearCrossEntropyHead statistics + LinearCrossEntropyLoss({_describe(options)})"
        build = _through_the_head(options["chunk_size"], **loss_options)
    else:
        name = f"linear_cross_entropy({_describe(options)})"
        build = _function(**options)
    extra = []
    if classes != CLASSES:
        extra.append(f"V={classes}")
    if shape != (BATCH,):
        extra.append(f"hidden {shape + (UNITS,)}")
    if not bias:
        extra.append("no bias")
    name += (" [" + ", ".join(extra) + "]" if extra else "") + f", d/d {wrt}"
    return Case(
        name=name,
        family="linear_cross_entropy",
        build=build,
        inputs=_inputs(classes, shape, bias, options.get("ignore_class"), transpose_kernel),
        references=(
            Reference("NumPy: softmax cross-entropy of the float64 logits", NUMPY, _oracle(**oracle_options)),
            Reference(
                "materialized logits + keras.losses."
                + ("CategoricalCrossentropy(label_smoothing)" if options.get("label_smoothing") else "SparseCategoricalCrossentropy")
                + "(from_logits=True)",
                KERAS,
                _materialized(**builtin_options),
            ),
        ),
        wrt=wrt,
        low_precision=("hidden", "kernel"),
        quick=quick,
    )


CASES = [
    _case({"chunk_size": 4}, "hidden", quick=True),
    _case({"chunk_size": 4}, "kernel", quick=True),
    _case({"chunk_size": 4}, "bias"),
    _case({"chunk_size": 4}, "kernel", classes=12),
    _case({"chunk_size": 4, "ignore_class": -1}, "hidden"),
    _case({"chunk_size": 3, "label_smoothing": 0.1, "z_loss": 0.01}, "kernel", quick=True),
    _case({"chunk_size": 5, "transpose_kernel": True}, "kernel", bias=False),
    _case({"chunk_size": 4, "ignore_class": 0}, "hidden", shape=(2, 3)),
    _case({"chunk_size": 4}, "kernel", shape=(1,)),
    _case({"chunk_size": 4, "ignore_class": 2, "label_smoothing": 0.2, "z_loss": 0.001}, "hidden", head=True),
    _case({"chunk_size": 4, "label_smoothing": 0.2, "z_loss": 0.001}, "kernel", head=True, quick=True),
    _case({"chunk_size": 6}, "bias", head=True),
]
