"""Input handling shared by the pure loss functions: dtypes, shapes, class labels."""

import numpy as np
from keras import ops

from keras_losses import _backend

_HALF_DTYPES = ("float16", "bfloat16")


def compute_dtype(x):
    """float32 for 16-bit inputs (the maths runs in float32), else the input's own."""
    dtype = ops.dtype(x) if hasattr(x, "dtype") else "float32"
    dtype = str(dtype).replace("torch.", "")
    if dtype in _HALF_DTYPES or not dtype.startswith("float"):
        return "float32"
    return dtype


def floats(x, dtype=None):
    """`x` as a float tensor of `dtype` (default: its compute dtype)."""
    x = ops.convert_to_tensor(x)
    return ops.cast(x, dtype or compute_dtype(x))


def _static_shape(x):
    return tuple(x.shape)


def _incompatible(first, second, first_name="y_true", second_name="y_pred", reason=""):
    return ValueError(
        f"Shapes of `{first_name}` {_static_shape(first)} and `{second_name}` "
        f"{_static_shape(second)} are incompatible{reason}."
    )


def dense_pair(y_true, y_pred):
    """Converts and reconciles `y_true` and `y_pred` of the same meaning and shape.

    As the Keras built-ins do, a trailing axis of 1 on either side is squeezed (or
    the rank-1 side expanded). Both are then at least `(batch, 1)`, so a value per
    example is the mean over the last axis. Shapes that still differ raise
    `ValueError` naming both; nothing is broadcast silently.

    Returns:
        `(y_true, y_pred)`, both float tensors of `y_pred`'s compute dtype.
    """
    y_pred = floats(y_pred)
    y_true = floats(y_true, y_pred.dtype)
    true_rank, pred_rank = len(y_true.shape), len(y_pred.shape)
    if true_rank == pred_rank + 1 and y_true.shape[-1] == 1:
        if pred_rank == 1:
            y_pred = ops.expand_dims(y_pred, -1)
        else:
            y_true = ops.squeeze(y_true, -1)
    elif pred_rank == true_rank + 1 and y_pred.shape[-1] == 1:
        if true_rank == 1:
            y_true = ops.expand_dims(y_true, -1)
        else:
            y_pred = ops.squeeze(y_pred, -1)
    if len(y_true.shape) != len(y_pred.shape):
        raise _incompatible(y_true, y_pred)
    for a, b in zip(y_true.shape, y_pred.shape):
        if a is not None and b is not None and a != b:
            raise _incompatible(y_true, y_pred)
    if len(y_pred.shape) == 0:
        raise ValueError("`y_pred` must have a batch axis; received a scalar.")
    if len(y_pred.shape) == 1:
        y_true, y_pred = ops.expand_dims(y_true, -1), ops.expand_dims(y_pred, -1)
    return y_true, y_pred


def class_labels(labels, logits, axis=-1):
    """Converts integer class labels to int32 and checks them against `logits`.

    `labels` has the shape of `logits` without `axis` (a trailing axis of 1 is
    squeezed, as Keras does). Anything else raises `ValueError` naming both shapes.
    """
    logits_rank = len(logits.shape)
    axis = axis % logits_rank
    labels = ops.convert_to_tensor(labels)
    if not str(labels.dtype).replace("torch.", "").startswith("int"):
        labels = ops.round(labels)
    labels = ops.cast(labels, "int32")
    if len(labels.shape) == logits_rank and labels.shape[axis] == 1:
        labels = ops.squeeze(labels, axis)
    expected = tuple(d for i, d in enumerate(logits.shape) if i != axis)
    if len(labels.shape) != len(expected) or any(
        a is not None and b is not None and a != b for a, b in zip(labels.shape, expected)
    ):
        raise _incompatible(
            labels,
            logits,
            reason=f": integer labels must have the shape of `y_pred` without its class axis, {expected}",
        )
    return labels


def labels_in_range(labels, num_classes, ignore_class=None):
    """A boolean tensor, True where a label is a class in [0, num_classes).

    In eager mode an out-of-range label (other than `ignore_class`) raises
    `ValueError` at once. Compiled code cannot raise, so the losses turn the loss
    of such an example into NaN instead: it shows in the first logged value rather
    than training silently on a wrong target.
    """
    valid = ops.logical_and(ops.greater_equal(labels, 0), ops.less(labels, num_classes))
    if ignore_class is not None:
        valid = ops.logical_or(valid, ops.equal(labels, ignore_class))
    # Both: under jax.jit, labels closed over as a constant are concrete, but what is
    # computed from them is traced.
    if _backend.is_concrete(labels) and _backend.is_concrete(valid):
        values = _backend.to_numpy(labels)
        bad = values[~_backend.to_numpy(valid)]
        if bad.size:
            raise ValueError(
                f"Class labels must be integers in [0, {num_classes})"
                + (f" or ignore_class={ignore_class}" if ignore_class is not None else "")
                + f". Received labels {np.unique(bad)[:10].tolist()}."
            )
    return valid
