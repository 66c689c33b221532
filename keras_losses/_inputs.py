"""Input handling shared by the losses, layers and regularizers: dtypes, shapes, labels.

Every public function converts its tensors through here, so a 16-bit input is computed
in float32 and a shape error reads the same whichever object raises it.
"""

import numpy as np
from keras import ops

from keras_losses import _backend

_HALF_DTYPES = ("float16", "bfloat16")
# The largest integer n such that every integer in [0, n] is exact in the dtype.
EXACT_INTEGER_LIMIT = {"float16": 2**11, "bfloat16": 2**8, "float32": 2**24, "float64": 2**53}


def compute_dtype(x):
    """float32 for 16-bit inputs (the maths runs in float32), else the input's own."""
    dtype = ops.dtype(x) if hasattr(x, "dtype") else "float32"
    dtype = str(dtype).replace("torch.", "")
    if dtype in _HALF_DTYPES or not dtype.startswith("float"):
        return "float32"
    return dtype


def constant(value, dtype):
    """A scalar tensor of `value` in `dtype`, rounded once (a Python float given to
    `ops` directly may pass through float32 first: the float64 tiny would be 0)."""
    dtype = str(dtype).replace("torch.", "")
    # the dtype is given twice: PyTorch's conversion makes float64 NumPy float32
    return ops.convert_to_tensor(np.asarray(value, dtype=dtype), dtype=dtype)


def floats(x, dtype=None):
    """`x` as a float tensor of `dtype` (default: its compute dtype)."""
    x = ops.convert_to_tensor(x)
    return ops.cast(x, dtype or compute_dtype(x))


def class_count(x):
    """The size of `x`'s last axis: an int, or a scalar tensor when it is only known
    at run time (`None` in a `tf.function`'s signature)."""
    size = x.shape[-1]
    return ops.shape(x)[-1] if size is None else size


def dims_differ(a, b):
    """Whether two static dimensions are both known and differ (unknown ones never do)."""
    return a is not None and b is not None and a != b


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
    `ValueError` naming both; nothing is broadcast silently (dimensions unknown
    when a `tf.function` is traced are compared when it runs).

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
    if any(dims_differ(a, b) for a, b in zip(y_true.shape, y_pred.shape)):
        raise _incompatible(y_true, y_pred)
    if len(y_pred.shape) == 0:
        raise ValueError("`y_pred` must have a batch axis; received a scalar.")
    # dimensions unknown when tracing are compared when the graph runs
    y_true, y_pred = _backend.same_shape_at_run_time(
        y_true, y_pred, "Shapes of `y_true` and `y_pred` are incompatible"
    )
    if len(y_pred.shape) == 1:
        y_true, y_pred = ops.expand_dims(y_true, -1), ops.expand_dims(y_pred, -1)
    return y_true, y_pred


# Labels that cannot be a class once in int32 (beyond its range, NaN, infinite)
# become this value in compiled code: below every class and every `ignore_class`
# anyone uses, so `labels_in_range` flags the example (its loss is NaN).
UNREPRESENTABLE_LABEL = -(2**31)
_INT32_MAX = 2**31 - 1


def _dtype_name(x):
    return str(x.dtype).replace("torch.", "")


def _is_integer_dtype(dtype):
    return dtype.startswith(("int", "uint"))


def integer_labels(labels):
    """Integer class labels as int32, never wrapped, rounded or mis-read.

    * Integer labels beyond the int32 range (int64 ids of 2**32 and above) are not
      wrapped (2**32 + 1 would otherwise become class 1).
    * Float labels are truncated towards zero, as Keras's sparse cross-entropy casts
      them (so `gamma=0` focal equals it in compiled code too), never rounded.
    * In eager mode a NaN, infinite, non-integer or out-of-int32 label raises
      `ValueError` naming it. In compiled code, where nothing can raise, such a
      label becomes `UNREPRESENTABLE_LABEL`, which no class range contains: the
      losses then give that example NaN.
    """
    if not hasattr(labels, "dtype") or type(labels).__module__ == "numpy":
        # checked before conversion: JAX (without x64) would wrap int64 on the way in
        _check_label_values(np.asarray(labels))
        labels = ops.convert_to_tensor(labels)
    elif _backend.is_concrete(labels):
        _check_label_values(_backend.to_numpy(labels))
    dtype = _dtype_name(labels)
    if dtype == "int32":
        return labels
    if dtype == "bool":
        return ops.cast(labels, "int32")
    if _is_integer_dtype(dtype):
        if dtype in ("int8", "int16", "uint8", "uint16"):
            return ops.cast(labels, "int32")
        fits = ops.less_equal(labels, _INT32_MAX)
        if not dtype.startswith("uint"):
            fits = ops.logical_and(fits, ops.greater_equal(labels, -(2**31)))
        safe = ops.where(fits, labels, 0)
        return ops.where(fits, ops.cast(safe, "int32"), UNREPRESENTABLE_LABEL)
    # floats: |x| < 2**31 is exact to truncate into int32 (NaN fails the test)
    labels = ops.cast(labels, compute_dtype(labels))
    fits = ops.less(ops.abs(labels), 2.0**31)
    safe = ops.where(fits, labels, ops.zeros_like(labels))
    return ops.where(fits, ops.cast(safe, "int32"), UNREPRESENTABLE_LABEL)


def _check_label_values(values):
    """Eager mode: refuses labels that are not integers an int32 can hold."""
    values = np.asarray(values)
    if values.dtype == bool or values.size == 0:
        return
    if np.issubdtype(values.dtype, np.integer):
        bad = values[(values > _INT32_MAX) | (values < -(2**31))]
        if bad.size:
            raise ValueError(
                "Class labels must fit in int32 (at most 2**31 - 1); received labels "
                f"{np.unique(bad)[:10].tolist()}."
            )
        return
    values = values.astype(np.float64)
    if np.isnan(values).any():
        raise ValueError(
            f"Class labels must be integers; received NaN labels "
            f"({int(np.isnan(values).sum())} of {values.size})."
        )
    bad = values[~np.isfinite(values) | (np.abs(values) >= 2.0**31)]
    if bad.size:
        raise ValueError(
            "Class labels must be integers that fit in int32; received labels "
            f"{np.unique(bad)[:10].tolist()}."
        )
    bad = values[values != np.trunc(values)]
    if bad.size:
        raise ValueError(
            "Class labels must be integers; received non-integer labels "
            f"{np.unique(bad)[:10].tolist()} (Keras would truncate them; round or cast "
            "them yourself if that is what you mean)."
        )


def class_labels(labels, logits, axis=-1, *, names=("y_true", "y_pred")):
    """Converts integer class labels to int32 and checks them against `logits`.

    `labels` has the shape of `logits` without `axis` (a trailing axis of 1 is
    squeezed, as Keras does). Anything else raises `ValueError` naming both shapes
    (and both arguments, by `names`). Values are read by `integer_labels` (never
    wrapped or rounded).
    """
    logits_rank = len(logits.shape)
    axis = axis % logits_rank
    labels = integer_labels(labels)
    if len(labels.shape) == logits_rank and labels.shape[axis] == 1:
        labels = ops.squeeze(labels, axis)
    expected = tuple(d for i, d in enumerate(logits.shape) if i != axis)
    if len(labels.shape) != len(expected) or any(
        dims_differ(a, b) for a, b in zip(labels.shape, expected)
    ):
        raise _incompatible(
            labels,
            logits,
            *names,
            reason=f": integer labels must have the shape of `{names[1]}` without axis {axis}, {expected}",
        )
    return labels


def check_unit_interval(values, name="y_true"):
    """In eager mode, refuses values outside [0, 1] (binary labels, hard or soft).

    Compiled code cannot raise; there the values are used as they are.
    """
    if not _backend.is_concrete(values):
        return
    array = _backend.to_numpy(values)
    bad = array[~((array >= 0) & (array <= 1))]  # NaN is bad too
    if bad.size:
        raise ValueError(
            f"`{name}` must hold binary labels in [0, 1] (0/1 or soft); received "
            f"values {np.unique(bad)[:10].tolist()}."
        )


def in_class_range(labels, num_classes):
    """A boolean tensor, True where a label is a class in [0, num_classes); never raises."""
    return ops.logical_and(ops.greater_equal(labels, 0), ops.less(labels, num_classes))


def labels_in_range(labels, num_classes, ignore_class=None):
    """A boolean tensor, True where a label is a class in [0, num_classes).

    In eager mode an out-of-range label (other than `ignore_class`) raises
    `ValueError` at once. Compiled code cannot raise, so the losses turn the loss
    of such an example into NaN instead: it shows in the first logged value rather
    than training silently on a wrong target.
    """
    valid = in_class_range(labels, num_classes)
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
