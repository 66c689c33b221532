"""Softmax cross-entropy from hidden states and a classifier matrix, without the logits.

A language model's output layer turns `N` hidden states `(N, d)` into logits
`(N, V)` with a kernel `(d, V)`; the loss is the softmax cross-entropy of those
logits. At a vocabulary of 128k-256k the logits and their gradient are the largest
tensors of a training step (1 GiB each in float32 at N = 2048, V = 131,072).

Here the loss needs only three numbers per example, the "logit statistics":

    logsumexp = log sum_v exp(z_v)            (over all V classes)
    label     = z[label]                       (one kernel column: d multiply-adds)
    mean      = mean_v z_v = hidden . mean_v(kernel[:, v]) + mean(bias)

    cross-entropy     = logsumexp - label
    label smoothing s = (1 - s) * (logsumexp - label) + s * (logsumexp - mean)
    z-loss            = z_loss * logsumexp**2

`logsumexp` is computed over chunks of classes with a running maximum and sum (an
online log-sum-exp), so at most `(N, chunk_size)` logits exist at once. The gradient
is written by hand: given the cotangents `(g_lse, g_label, g_mean)` of the three
statistics, the gradient of the logits of a chunk is

    g_lse * softmax(z)[chunk] + g_label * one_hot(label)[chunk] + g_mean / V

which the backward pass recomputes chunk by chunk from `hidden` and the kernel (the
chunk's logits again, then `softmax = exp(z - logsumexp)`) and multiplies into the
gradients of `hidden`, the kernel and the bias at once. Neither pass keeps a tensor
of `N * V` elements. Any reduction, sample weight or mask after the statistics only
changes the per-example cotangents, which the backward pass receives as they are.
"""

import functools

import keras
import numpy as np
from keras import ops

from keras_losses import _backend
from keras_losses import _inputs
from keras_losses import _validation
from keras_losses.losses.base import Loss

# Classes per chunk when `chunk_size=None`. At N = 2048 a float32 chunk of logits is
# 32 MiB; the backward pass holds about two of them (see benchmarks/linear_cross_entropy.py).
DEFAULT_CHUNK_SIZE = 4096
# The logit statistics, in this order on their last axis.
STATISTICS = ("logsumexp", "label_logit", "mean_logit")


# -- arguments -----------------------------------------------------------------------


def check_chunk_size(chunk_size):
    return _validation.integer("chunk_size", chunk_size, minimum=1, allow_none=True)


def _check_loss_arguments(ignore_class, label_smoothing, z_loss):
    return (
        _validation.integer("ignore_class", ignore_class, allow_none=True),
        _validation.unit_interval("label_smoothing", label_smoothing),
        _validation.non_negative_float("z_loss", z_loss),
    )


def kernel_shape(hidden, kernel, bias=None, transpose_kernel=False):
    """`(d, V)` of `kernel` after checking it (and `bias`) against `hidden`."""
    if len(kernel.shape) != 2:
        raise ValueError(
            f"`kernel` must have rank 2, {'(V, d)' if transpose_kernel else '(d, V)'}. "
            f"Received shape {tuple(kernel.shape)}."
        )
    units, num_classes = tuple(kernel.shape)[::-1] if transpose_kernel else tuple(kernel.shape)
    if units is None or num_classes is None:
        raise ValueError(f"The shape of `kernel` must be known. Received shape {tuple(kernel.shape)}.")
    if len(hidden.shape) == 0 or (hidden.shape[-1] is not None and hidden.shape[-1] != units):
        layout = "(V, d) (transpose_kernel=True)" if transpose_kernel else "(d, V)"
        raise ValueError(
            f"`hidden` (..., d) and `kernel` {layout} must agree on d. Received shapes "
            f"hidden={tuple(hidden.shape)}, kernel={tuple(kernel.shape)}."
        )
    if bias is not None and tuple(bias.shape) != (num_classes,):
        raise ValueError(
            f"`bias` must have shape (V,) = ({num_classes},) for this kernel. Received shape "
            f"{tuple(bias.shape)}."
        )
    return units, num_classes


# -- the chunked statistics --------------------------------------------------------------


class _Chunks:
    """How the classes are split: `full` chunks of `size`, then `rest` classes."""

    def __init__(self, num_classes, chunk_size, transpose_kernel, dtype):
        self.num_classes = num_classes
        self.size = min(chunk_size or DEFAULT_CHUNK_SIZE, num_classes)
        self.full, self.rest = divmod(num_classes, self.size)
        self.transpose_kernel = transpose_kernel
        self.dtype = dtype

    def scan(self, step, carry):
        """`carry = step(start, width, carry)` over every chunk, in a compiled loop."""
        if self.full:
            carry = ops.fori_loop(0, self.full, lambda i, c: step(i * self.size, self.size, c), carry)
        if self.rest:
            carry = step(self.full * self.size, self.rest, carry)
        return carry

    def logits(self, hidden, kernel, bias, start, width):
        """The logits of classes `[start, start + width)`, `(N, width)`, and the kernel
        block they came from (`(d, width)`, or `(width, d)` when transposed)."""
        units = hidden.shape[-1]
        if self.transpose_kernel:
            block = ops.cast(ops.slice(kernel, [start, 0], [width, units]), self.dtype)
            logits = ops.matmul(hidden, ops.transpose(block))
        else:
            block = ops.cast(ops.slice(kernel, [0, start], [units, width]), self.dtype)
            logits = ops.matmul(hidden, block)
        if bias is not None:
            logits = logits + ops.cast(ops.slice(bias, [start], [width]), self.dtype)
        return logits, block


def _forward(chunks, hidden, kernel, labels, bias=None):
    """Statistics `(N, 3)` and the residual `logsumexp` for the backward pass."""

    def step(start, width, carry):
        top, total = carry
        logits, _ = chunks.logits(hidden, kernel, bias, start, width)
        new_top = ops.maximum(top, ops.max(logits, axis=-1))
        # Online log-sum-exp: rescale the running sum to the new maximum.
        total = total * ops.exp(top - new_top) + ops.sum(
            ops.exp(logits - ops.expand_dims(new_top, -1)), axis=-1
        )
        return new_top, total

    zeros = ops.zeros_like(hidden[:, 0])
    top, total = chunks.scan(step, (zeros - float("inf"), zeros))
    logsumexp = top + ops.log(total)

    in_range = _inputs.in_class_range(labels, chunks.num_classes)
    safe = ops.where(in_range, labels, 0)
    if chunks.transpose_kernel:
        rows = ops.take(kernel, safe, axis=0)
        mean_row = ops.mean(ops.cast(kernel, chunks.dtype), axis=0)
    else:
        rows = ops.transpose(ops.take(kernel, safe, axis=1))
        mean_row = ops.mean(ops.cast(kernel, chunks.dtype), axis=1)
    label_logit = ops.sum(hidden * ops.cast(rows, chunks.dtype), axis=-1)
    mean_logit = ops.matmul(hidden, mean_row)
    if bias is not None:
        label_logit = label_logit + ops.cast(ops.take(bias, safe, axis=0), chunks.dtype)
        mean_logit = mean_logit + ops.mean(ops.cast(bias, chunks.dtype))
    label_logit = ops.where(in_range, label_logit, float("nan"))  # no such class
    return ops.stack([logsumexp, label_logit, mean_logit], axis=-1), (logsumexp,)


def _backward(chunks, inputs, residuals, cotangent):
    """Gradients of hidden, kernel, labels (None) and bias, one chunk at a time."""
    hidden, kernel, labels = inputs[:3]
    bias = inputs[3] if len(inputs) > 3 else None
    (logsumexp,) = residuals
    cotangent = ops.cast(cotangent, chunks.dtype)
    g_lse = ops.expand_dims(cotangent[:, 0], -1)
    g_label = ops.expand_dims(cotangent[:, 1], -1)
    g_mean = ops.expand_dims(cotangent[:, 2], -1) / chunks.num_classes
    labels = ops.expand_dims(labels, -1)
    lse = ops.expand_dims(logsumexp, -1)

    def step(start, width, carry):
        grad_hidden, grad_kernel, grad_bias = carry
        logits, block = chunks.logits(hidden, kernel, bias, start, width)
        one_hot = ops.cast(ops.equal(labels, ops.arange(width, dtype="int32") + start), chunks.dtype)
        # d loss / d logits of this chunk
        grad = g_lse * ops.exp(logits - lse) + g_label * one_hot + g_mean
        if chunks.transpose_kernel:
            grad_hidden = grad_hidden + ops.matmul(grad, block)
            grad_block, at = ops.matmul(ops.transpose(grad), hidden), [start, 0]
        else:
            grad_hidden = grad_hidden + ops.matmul(grad, ops.transpose(block))
            grad_block, at = ops.matmul(ops.transpose(hidden), grad), [0, start]
        grad_kernel = ops.slice_update(grad_kernel, at, ops.cast(grad_block, grad_kernel.dtype))
        if grad_bias is not None:
            grad_bias = ops.slice_update(
                grad_bias, [start], ops.cast(ops.sum(grad, axis=0), grad_bias.dtype)
            )
        return grad_hidden, grad_kernel, grad_bias

    carry = (
        ops.zeros_like(hidden),
        ops.zeros(kernel.shape, kernel.dtype),
        None if bias is None else ops.zeros(bias.shape, bias.dtype),
    )
    if bias is None:  # loops carry tensors only
        grad_hidden, grad_kernel = chunks.scan(
            lambda start, width, c: step(start, width, (*c, None))[:2], carry[:2]
        )
        return ops.cast(grad_hidden, hidden.dtype), grad_kernel, None
    grad_hidden, grad_kernel, grad_bias = chunks.scan(step, carry)
    return ops.cast(grad_hidden, hidden.dtype), grad_kernel, None, grad_bias


def logit_statistics(hidden, kernel, labels, bias=None, chunk_size=None, transpose_kernel=False):
    """The three numbers per example that the loss needs, without the logits matrix.

    Args:
        hidden: float `(..., d)`; 16-bit inputs are computed in float32.
        kernel: `(d, V)`, or `(V, d)` with `transpose_kernel=True`.
        labels: integer classes of shape `hidden.shape[:-1]`.
        bias: `(V,)` or `None`.
        chunk_size: classes per chunk (`None`: `DEFAULT_CHUNK_SIZE`).
        transpose_kernel: whether `kernel` is `(V, d)`.

    Returns:
        Float `(..., 3)`: `logsumexp`, the label's logit (NaN for a label outside
        `[0, V)`) and the mean logit of each example. Differentiable with respect to
        `hidden`, `kernel` and `bias` by a chunked backward pass.
    """
    hidden, kernel, labels, bias, chunks = _checked_inputs(
        hidden, kernel, labels, bias, chunk_size, transpose_kernel
    )
    return _statistics(hidden, kernel, labels, bias, chunks)


def _checked_inputs(hidden, kernel, labels, bias, chunk_size, transpose_kernel):
    """The inputs as tensors, checked against each other, and their `_Chunks`."""
    chunk_size = check_chunk_size(chunk_size)
    transpose_kernel = _validation.boolean("transpose_kernel", transpose_kernel)
    hidden = _inputs.floats(hidden)
    kernel = ops.convert_to_tensor(kernel)
    bias = None if bias is None else ops.convert_to_tensor(bias)
    _, num_classes = kernel_shape(hidden, kernel, bias, transpose_kernel)
    labels = _inputs.class_labels(labels, hidden)
    chunks = _Chunks(num_classes, chunk_size, transpose_kernel, hidden.dtype)
    return hidden, kernel, labels, bias, chunks


def _statistics(hidden, kernel, labels, bias, chunks):
    """`logit_statistics` of inputs that `_checked_inputs` returned."""
    units = kernel.shape[1] if chunks.transpose_kernel else kernel.shape[0]  # d, static
    shape = list(ops.shape(hidden)[:-1])
    fn = _backend.custom_gradient(
        functools.partial(_forward, chunks), functools.partial(_backward, chunks)
    )
    inputs = (ops.reshape(hidden, (-1, units)), kernel, ops.reshape(labels, (-1,)))
    statistics = fn(*inputs, *(() if bias is None else (bias,)))
    return ops.reshape(statistics, shape + [len(STATISTICS)])


# -- from statistics to the loss --------------------------------------------------------


def _loss_from_statistics(statistics, valid, ignored, label_smoothing, z_loss):
    """Per example: the loss where `valid`, 0 where `ignored`, NaN otherwise."""
    logsumexp = statistics[..., 0]
    label_logit = statistics[..., 1]
    mean_logit = statistics[..., 2]
    # -log p(label) = logsumexp - z[label]
    loss = logsumexp - label_logit
    if label_smoothing:
        # mean over the classes of -log p(c) = logsumexp - mean(z)
        loss = (1.0 - label_smoothing) * loss + label_smoothing * (logsumexp - mean_logit)
    if z_loss:
        loss = loss + z_loss * ops.square(logsumexp)
    zero = ops.zeros_like(loss)
    # `where` passes a zero cotangent to the branch it drops: ignored rows get a zero gradient.
    return ops.where(valid, loss, ops.where(ignored, zero, zero + float("nan")))


@keras.saving.register_keras_serializable(package="keras_losses")
def linear_cross_entropy(
    hidden,
    kernel,
    labels,
    bias=None,
    ignore_class=None,
    label_smoothing=0.0,
    z_loss=0.0,
    chunk_size=None,
    transpose_kernel=False,
):
    """Softmax cross-entropy of `hidden @ kernel + bias` against `labels`, chunk by chunk.

        logits = hidden @ kernel + bias                       (never built)
        loss   = (1 - s) * (logsumexp(logits) - logits[label])
               + s * (logsumexp(logits) - mean(logits))       (label smoothing s)
               + z_loss * logsumexp(logits)**2                 (PaLM's z-loss)

    It equals `keras.losses.SparseCategoricalCrossentropy(from_logits=True)` of the
    logits (with `label_smoothing`, `CategoricalCrossentropy(label_smoothing=s)` of
    their one-hot labels), values and gradients, but computes them over chunks of
    `chunk_size` classes with an online log-sum-exp, and recomputes each chunk in
    the backward pass: no tensor of `N * V` elements exists in either pass. The
    maths runs in float32 for 16-bit inputs; the gradients come back in the dtype of
    each input.

    Args:
        hidden: float `(..., d)`, e.g. `(batch, d)` or `(batch, time, d)`.
        kernel: float `(d, V)`; with `transpose_kernel=True`, `(V, d)` (a tied
            embedding matrix, `logits = hidden @ kernel.T`).
        labels: integer classes, `hidden.shape[:-1]`.
        bias: `(V,)` or `None`.
        ignore_class: `None` or a class id whose examples get loss 0 and a zero
            gradient, and are left out of the mean (a Keras mask on the result, as
            `SparseCategoricalCrossentropy(ignore_class=...)` does).
        label_smoothing: float in `[0, 1]`.
        z_loss: non-negative coefficient of `logsumexp**2`.
        chunk_size: classes per chunk, `None` for `DEFAULT_CHUNK_SIZE` (4096).
            Memory grows with it, speed too up to a point.
        transpose_kernel: whether `kernel` is `(V, d)`.

    Returns:
        Float tensor of shape `hidden.shape[:-1]`, one loss per example.

    A label outside `[0, V)` other than `ignore_class` raises `ValueError` in eager
    mode; compiled code cannot raise, so its loss is NaN there.

    Example:

    >>> import numpy as np
    >>> hidden = np.ones((2, 3), "float32")
    >>> kernel = np.zeros((3, 5), "float32")  # every class equally likely
    >>> loss = linear_cross_entropy(hidden, kernel, np.array([0, 4]), chunk_size=2)
    >>> [round(float(v), 4) for v in loss]  # log(5)
    [1.6094, 1.6094]

    References:
        Wijmans et al., 2025, "Cut Your Losses in Large-Vocabulary Language Models",
        https://arxiv.org/abs/2411.09009. Chowdhery et al., 2022, "PaLM: Scaling
        Language Modeling with Pathways" (z-loss), https://arxiv.org/abs/2204.02311.
    """
    ignore_class, label_smoothing, z_loss = _check_loss_arguments(ignore_class, label_smoothing, z_loss)
    hidden, kernel, labels, bias, chunks = _checked_inputs(
        hidden, kernel, labels, bias, chunk_size, transpose_kernel
    )
    # a class, or ignore_class (an out-of-range label raises here in eager mode)
    known = _inputs.labels_in_range(labels, chunks.num_classes, ignore_class)
    if ignore_class is None:
        ignored = ops.zeros_like(known)
    else:
        ignored = ops.equal(labels, ignore_class)
    statistics = _statistics(hidden, kernel, labels, bias, chunks)
    valid = ops.logical_and(known, ops.logical_not(ignored))
    loss = _loss_from_statistics(statistics, valid, ignored, label_smoothing, z_loss)
    if ignore_class is not None:
        _backend.set_mask(loss, ops.logical_not(ignored))
    return loss


@keras.saving.register_keras_serializable(package="keras_losses")
class LinearCrossEntropyLoss(Loss):
    """Softmax cross-entropy from the logit statistics of `LinearCrossEntropyHead`.

    `keras_losses.layers.LinearCrossEntropyHead(V)([hidden, labels])` returns three
    numbers per example (`logsumexp`, the label's logit, the mean logit; see
    `linear_cross_entropy`) computed chunk by chunk, and this loss turns them into
    the cross-entropy: the values and gradients of
    `SparseCategoricalCrossentropy(from_logits=True)` of the full logits, without
    them. `y_true` is the integer labels (the same that went into the layer),
    `y_pred` the statistics `(..., 3)`.

    Masks work as with the built-in losses: a Keras mask on the statistics (the
    layer passes on the mask of `hidden`, e.g. the padding of
    `Embedding(mask_zero=True)`) leaves those positions out, with loss 0 and a zero
    gradient whatever their label. `sample_weight` and every reduction are
    Keras's own.

    Args:
        ignore_class: `None` or a class id to leave out of the loss and the mean.
        label_smoothing: float in `[0, 1]`, as in `CategoricalCrossentropy`.
        z_loss: coefficient of PaLM's auxiliary `logsumexp**2`.

    A label with no class (outside the layer's `[0, V)`, other than
    `ignore_class`) raises `ValueError` in eager mode and gives NaN when compiled.

    Example:

    >>> import keras
    >>> from keras_losses.layers import LinearCrossEntropyHead
    >>> tokens = keras.Input((None,), dtype="int32")
    >>> labels = keras.Input((None,), dtype="int32")
    >>> hidden = keras.layers.Embedding(1000, 16, mask_zero=True)(tokens)
    >>> head = LinearCrossEntropyHead(1000, chunk_size=256)
    >>> training = keras.Model([tokens, labels], head([hidden, labels]))
    >>> training.compile("adam", LinearCrossEntropyLoss(z_loss=1e-4))

    References:
        Wijmans et al., 2025, "Cut Your Losses in Large-Vocabulary Language Models",
        https://arxiv.org/abs/2411.09009.
    """

    def __init__(
        self,
        ignore_class=None,
        label_smoothing=0.0,
        z_loss=0.0,
        reduction="sum_over_batch_size",
        name="linear_cross_entropy_loss",
        dtype=None,
    ):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.ignore_class, self.label_smoothing, self.z_loss = _check_loss_arguments(
            ignore_class, label_smoothing, z_loss
        )

    def prepare(self, y_true, y_pred):
        # The labels become an exact status before Keras casts them: 1 (counts),
        # 0 (ignored: ignore_class or masked out), NaN (no such class). `y_pred` is
        # returned as it came, so Keras still sees its mask.
        statistics = _inputs.floats(y_pred)
        if len(statistics.shape) == 0 or statistics.shape[-1] != len(STATISTICS):
            raise ValueError(
                "`y_pred` must be the logit statistics (..., 3) of "
                "`LinearCrossEntropyHead([hidden, labels])`. Received shape "
                f"{tuple(statistics.shape)}."
            )
        labels = _inputs.class_labels(y_true, statistics)
        ignored = ops.zeros(ops.shape(labels), "bool")
        if self.ignore_class is not None:
            ignored = ops.equal(labels, self.ignore_class)
        mask = _backend.get_mask(y_pred)
        if mask is not None:
            ignored = ops.logical_or(ignored, ops.logical_not(ops.cast(mask, "bool")))
        known = ops.logical_not(ops.isnan(statistics[..., 1]))
        _raise_for_unknown_labels(labels, known, ignored, self.ignore_class)
        one = ops.ones_like(statistics[..., 0])
        status = ops.where(known, one, float("nan"))
        status = ops.where(ignored, ops.zeros_like(one), status)
        return status, y_pred

    def call(self, y_true, y_pred):
        valid, ignored = ops.equal(y_true, 1), ops.equal(y_true, 0)
        loss = _loss_from_statistics(y_pred, valid, ignored, self.label_smoothing, self.z_loss)
        if self.ignore_class is not None:
            _backend.set_mask(loss, ops.logical_not(ignored))
        return loss


def _raise_for_unknown_labels(labels, known, ignored, ignore_class):
    """In eager mode, a label the layer found no class for is an error."""
    if not _backend.is_concrete(labels):
        return
    bad = ~(_backend.to_numpy(known) | _backend.to_numpy(ignored))
    if not bad.any():
        return
    values = np.unique(_backend.to_numpy(labels)[bad])[:10].tolist()
    raise ValueError(
        "Class labels must be integers in [0, V) of the layer"
        + (f" or ignore_class={ignore_class}" if ignore_class is not None else "")
        + f". Received labels {values}."
    )
