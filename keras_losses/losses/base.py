"""The thin base class every loss in this package shares.

`keras.losses.Loss.__call__` already applies masks, sample weights, the reduction and
the replica scaling under `tf.distribute`; this class keeps all of that. It only
prepares the inputs first, for what Keras gets wrong on its own:

* `y_true` is cast to the loss dtype before `call()`. Class labels are exact in
  float32 up to 2**24 classes, but a 16-bit loss dtype would merge labels above 2048
  (float16) or 256 (bfloat16): such a combination is refused here. Losses that need
  integers beyond float32 (pair ids) turn them into exact values in `prepare()`.
* A `(batch,)` sample weight on a loss that returns one value per position (spatial
  outputs) is spread over the positions of each example. Keras alone would broadcast
  it against the last spatial axis, which is wrong (and silent when the batch size
  equals that axis).
* `dtype` is kept in the config, which the Keras base drops.
* Under `tf.distribute` with several replicas, Keras divides each replica's sum by
  that replica's own denominator (its number of values, of unmasked values, or its
  sum of weights). That is the global mean only when every replica's denominator is
  the same, which masks, `ignore_class`, non-uniform `mean_with_sample_weight`
  weights and uneven splits break. Here each replica's values are first rescaled by
  `replicas * local / global denominator`, so Keras's own reduction then gives every
  replica its exact share of the global mean.

It also writes `get_config()` once for every subclass: each `__init__` argument is
stored as an attribute of the same name and returned from there.
"""

import inspect

import keras
from keras import ops

from keras_losses import _backend

# The largest integer n such that every integer in [0, n] is exact in the dtype.
_EXACT_INTEGER_LIMIT = {"float16": 2**11, "bfloat16": 2**8, "float32": 2**24, "float64": 2**53}
# Reductions that divide by a denominator, which must be global across replicas.
_MEANS = ("sum_over_batch_size", "mean", "mean_with_sample_weight")


class Loss(keras.losses.Loss):
    """Base class of the losses in `keras_losses.losses`.

    Subclasses implement `call(y_true, y_pred)` returning one value per example (or
    per position), store every `__init__` argument under its own name, and may
    override `prepare(y_true, y_pred)` to turn `y_true` into exact values before
    Keras casts it to the loss dtype.

    Class attributes a subclass may set:

    * `labels`: `"dense"` (`y_true` has the shape of `y_pred`, the default) or
      `"classes"` (integer class ids along `class_axis`: the 16-bit limit applies).
    * `class_axis`: the axis of `y_pred` that a per-example value reduces over
      (`-1`, or the name of the attribute holding it, e.g. `"axis"`).
    """

    labels = "dense"
    class_axis = -1

    def __init__(self, *, reduction="sum_over_batch_size", name=None, dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self._dtype_argument = dtype

    # -- what Keras does not do -------------------------------------------------

    def __call__(self, y_true, y_pred, sample_weight=None):
        y_pred = _as_tensor(y_pred)
        if self.labels == "classes":
            self._check_exact_class_labels(y_pred)
        y_true, y_pred = self.prepare(y_true, y_pred)
        if sample_weight is not None:
            sample_weight = self._spread_sample_weight(sample_weight, y_pred)
        if self.reduction in _MEANS and _backend.replica_count() > 1:
            return self._call_in_replica(y_true, y_pred, sample_weight)
        return super().__call__(y_true, y_pred, sample_weight=sample_weight)

    def _call_in_replica(self, y_true, y_pred, sample_weight):
        """`keras.losses.Loss.__call__` with a denominator summed over the replicas."""
        in_mask = _backend.get_mask(y_pred)
        with keras.name_scope(self.name):
            y_pred = ops.convert_to_tensor(y_pred, dtype=self.dtype)
            y_true = keras.tree.map_structure(
                lambda x: ops.convert_to_tensor(x, dtype=self.dtype), y_true
            )
            values = self.call(y_true, y_pred)
            out_mask = _backend.get_mask(values)
            masks = [m for m in (in_mask, out_mask) if m is not None]
            mask = None
            if masks:
                mask = masks[0] if len(masks) == 1 else ops.logical_and(*masks)
            counted = ops.ones_like(values)
            if mask is not None:
                counted = counted * ops.cast(ops.reshape(mask, ops.shape(values)), values.dtype)
            if sample_weight is not None and self.reduction == "mean_with_sample_weight":
                weight = ops.convert_to_tensor(sample_weight, dtype=values.dtype)
                if len(weight.shape) == len(values.shape) + 1:
                    weight = ops.squeeze(weight, -1)
                counted = counted * weight
            local = ops.sum(counted)
            total = _backend.sum_over_replicas(local)
            replicas = ops.cast(_backend.replica_count(), values.dtype)
            scale = ops.stop_gradient(ops.divide_no_nan(replicas * local, total))
            return _backend.reduce(
                values * scale, sample_weight, mask, self.reduction, self.dtype
            )

    def prepare(self, y_true, y_pred):
        """Hook run before Keras casts `y_true`; returns `(y_true, y_pred)`."""
        return y_true, y_pred

    def _axis(self, y_pred):
        axis = self.class_axis
        if isinstance(axis, str):
            axis = getattr(self, axis)
        rank = len(y_pred.shape)
        return axis % rank if rank else 0

    def _check_exact_class_labels(self, y_pred):
        if len(y_pred.shape) == 0:
            return
        num_classes = y_pred.shape[self._axis(y_pred)]
        limit = _EXACT_INTEGER_LIMIT.get(self.dtype)
        if num_classes is not None and limit is not None and num_classes > limit:
            raise ValueError(
                f"{type(self).__name__} with dtype={self.dtype!r} cannot hold class "
                f"labels exactly beyond {limit}, but `y_pred` has {num_classes} "
                f"classes (shape {tuple(y_pred.shape)}). Use dtype='float32' (the "
                "default, also under mixed precision)."
            )

    def _spread_sample_weight(self, sample_weight, y_pred):
        """Gives a per-example weight to every position of that example."""
        sample_weight = _as_tensor(sample_weight)
        out_rank = max(len(y_pred.shape) - 1, 1)
        weight_shape = tuple(sample_weight.shape)
        if out_rank <= 1 or len(weight_shape) == 0:
            return sample_weight
        per_example = len(weight_shape) == 1 or all(d == 1 for d in weight_shape[1:])
        if not per_example or len(weight_shape) > out_rank:
            return sample_weight
        axis = self._axis(y_pred)
        out_shape = [d for i, d in enumerate(ops.shape(y_pred)) if i != axis]
        sample_weight = ops.reshape(sample_weight, (-1,) + (1,) * (out_rank - 1))
        # A product, not `broadcast_to`: on PyTorch that is a view sharing memory, which
        # Keras's in-place masking (`sample_weight *= mask`) refuses to write.
        return sample_weight * ops.ones(out_shape, sample_weight.dtype)

    # -- configuration -----------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config["dtype"] = _serialize_dtype(self._dtype_argument)
        for argument in _init_arguments(type(self)):
            if argument not in config:
                config[argument] = getattr(self, argument)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.saving.deserialize_keras_object(config["dtype"])
        return cls(**config)

    def __repr__(self):
        arguments = ", ".join(
            f"{key}={value!r}"
            for key, value in self.get_config().items()
            if key not in ("name", "dtype")
        )
        return f"{type(self).__name__}({arguments})"


def _init_arguments(cls):
    parameters = inspect.signature(cls.__init__).parameters.values()
    return [
        p.name
        for p in parameters
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def _serialize_dtype(dtype):
    if dtype is None or isinstance(dtype, str):
        return dtype
    return keras.saving.serialize_keras_object(dtype)


def _as_tensor(x):
    """`x` as a backend tensor; tensors are returned as they are (keeping masks)."""
    if hasattr(x, "shape") and hasattr(x, "dtype") and not _is_numpy(x):
        return x
    return ops.convert_to_tensor(x)


def _is_numpy(x):
    return type(x).__module__ == "numpy"

