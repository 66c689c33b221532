"""NumPy oracle of `keras_losses.linear_cross_entropy`, from the definition.

It builds the logits matrix that the function under test avoids, in float64, and
writes each term as its formula says.
"""

import numpy as np


def linear_cross_entropy(
    labels, hidden, kernel, bias=None, ignore_class=None, label_smoothing=0.0, z_loss=0.0,
    transpose_kernel=False,
):
    """Per-example loss `hidden.shape[:-1]` of `softmax(hidden @ kernel + bias)`.

    Keras's label smoothing: the target is `(1 - s) * one_hot + s / V`, so the loss is
    `-sum_v target_v * log p_v`. The z-loss adds `z_loss * logsumexp**2`. Examples
    whose label is `ignore_class` give 0; a label outside `[0, V)` gives NaN.
    """
    hidden = np.asarray(hidden, np.float64)
    kernel = np.asarray(kernel, np.float64)
    if transpose_kernel:
        kernel = kernel.T
    logits = hidden @ kernel
    if bias is not None:
        logits = logits + np.asarray(bias, np.float64)
    num_classes = logits.shape[-1]
    labels = np.asarray(labels).astype(np.int64)
    top = logits.max(axis=-1, keepdims=True)
    logsumexp = top[..., 0] + np.log(np.exp(logits - top).sum(axis=-1))
    log_p = logits - logsumexp[..., None]
    in_range = (labels >= 0) & (labels < num_classes)
    one_hot = np.eye(num_classes)[np.where(in_range, labels, 0)]
    target = (1.0 - label_smoothing) * one_hot + label_smoothing / num_classes
    loss = -(target * log_p).sum(axis=-1) + z_loss * logsumexp**2
    loss = np.where(in_range, loss, np.nan)
    if ignore_class is not None:
        loss = np.where(labels == ignore_class, 0.0, loss)
    return loss
