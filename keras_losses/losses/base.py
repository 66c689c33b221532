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
* `dtype` is kept in the config, which the Keras base drops, and must be a float
  dtype (an integer loss dtype would truncate every value). With an explicit 16-bit
  `dtype` the inputs are converted to float32, the loss and its reduction are
  computed in float32 and only the result is cast to the 16-bit dtype: values and
  sums that overflow float16 (or lose all precision in bfloat16) stay finite.
* Integer class labels (`sparse_labels = True`) are read as exact int32 values
  (`_inputs.integer_labels`) before Keras casts them: an int64 label of 2**32 + 1
  is not class 1, 1.5 is not class 2.
* Under `tf.distribute` with several replicas, Keras divides each replica's sum by
  that replica's own denominator (its number of values, of unmasked values, or its
  sum of weights). That is the global mean only when every replica's denominator is
  the same, which masks, `ignore_class`, non-uniform `mean_with_sample_weight`
  weights and uneven splits break. Here each replica's values are first rescaled by
  `replicas * local / global denominator`, so Keras's own reduction then gives every
  replica its exact share of the global mean.

Its config and repr follow `_config`: each `__init__` argument is stored as an
attribute of the same name and returned from there. `call` forwards to the class's
pure function (`function`) with those arguments; see "Writing a loss class" in
CONTRIBUTING.md.
"""

import keras
from keras import ops

from keras_losses import _backend
from keras_losses import _config
from keras_losses import _inputs
from keras_losses import _validation

# Reductions that divide by a denominator, which must be global across replicas.
_MEANS = ("sum_over_batch_size", "mean", "mean_with_sample_weight")
_HALF_DTYPES = ("float16", "bfloat16")
_COMMON_ARGUMENTS = ("reduction", "name", "dtype")


def function_twin(function):
    """Registers the pure function twin of a loss class with Keras.

    Every public loss function is decorated with this, so a model compiled with
    `loss=keras_losses.hinge` saves and reloads (after `import keras_losses`, without
    `custom_objects`) to this very function. It is saved as `"keras_losses>hinge"`,
    so where a twin shares its name with a Keras function (`hinge`, `squared_hinge`,
    `mean_squared_logarithmic_error`) a reload finds ours, not Keras's.
    """
    return keras.saving.register_keras_serializable(package="keras_losses")(function)


class Loss(_config.Configurable, keras.losses.Loss):
    """Base class of the losses in `keras_losses.losses`.

    A subclass names its pure function (`function = staticmethod(hinge)`), and its
    `__init__` stores every argument, validated, under its own name. `call` then
    returns `function(y_true, y_pred, **hyperparameters())`: one value per example
    (or per position). A loss that needs more overrides `call`, and may override
    `prepare(y_true, y_pred)` to turn `y_true` into exact values before Keras casts
    it to the loss dtype.

    What a subclass may set or override:

    * `sparse_labels = True`: `y_true` holds integer class ids (Keras's "sparse"
      labels) along `class_axis()` rather than values of `y_pred`'s shape. They are
      read exactly (never wrapped or rounded), and a 16-bit loss dtype that cannot
      hold every class id is refused.
    * `per_example = True`: `call` returns one value per example whatever the rank
      of `y_pred` (a whole sequence's loss): `sample_weight` must then be
      `(batch,)` and is never spread over positions.
    * `class_axis()`: the axis of `y_pred` that a per-example value reduces over
      (default `-1`; a loss with an `axis` argument returns it).
    """

    function = None  # the pure function twin: `function = staticmethod(hinge)`
    sparse_labels = False
    per_example = False

    def __init__(self, *, reduction="sum_over_batch_size", name=None, dtype=None):
        if name is not None and not isinstance(name, str):
            raise _validation.invalid("name", "a string or None", name)
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if not str(self.dtype).startswith(("float", "bfloat")):
            raise _validation.invalid(
                "dtype", "a float dtype such as 'float32', or a float DTypePolicy", dtype
            )
        self._dtype_argument = dtype

    # -- what Keras does not do -------------------------------------------------

    def __call__(self, y_true, y_pred, sample_weight=None):
        y_pred = _as_tensor(y_pred)
        if self.sparse_labels:
            self._check_exact_class_labels(y_pred)
            y_true = _inputs.integer_labels(y_true)
        y_true, y_pred = self.prepare(y_true, y_pred)
        if sample_weight is not None:
            sample_weight = self._spread_sample_weight(sample_weight, y_pred)
        across = self.reduction in _MEANS and _backend.replica_count() > 1
        if self.dtype in _HALF_DTYPES:
            # the maths and the reduction in float32; only the result is 16-bit
            value = self._call_as(y_true, y_pred, sample_weight, "float32", across)
            return ops.cast(value, self.dtype)
        if across:
            return self._call_as(y_true, y_pred, sample_weight, self.dtype, across)
        return super().__call__(y_true, y_pred, sample_weight=sample_weight)

    def _call_as(self, y_true, y_pred, sample_weight, dtype, across_replicas):
        """`keras.losses.Loss.__call__` computed in `dtype`; with `across_replicas`, with
        a denominator summed over the replicas."""
        rescale = None
        if across_replicas:
            rescale = lambda values, mask: self._replica_share(values, mask, sample_weight)  # noqa: E731
        return _backend.loss_call(self, y_true, y_pred, sample_weight, dtype, rescale)

    def _replica_share(self, values, mask, sample_weight):
        """`values` scaled by `replicas * local / global denominator`, so that Keras's
        per-replica mean, summed over the replicas, is the global mean."""
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
        return values * ops.stop_gradient(ops.divide_no_nan(replicas * local, total))

    def call(self, y_true, y_pred):
        return self.function(y_true, y_pred, **self.hyperparameters())

    def hyperparameters(self):
        """The keyword arguments of `function`: every `__init__` argument but the
        common `reduction`, `name` and `dtype`."""
        return {
            name: getattr(self, name)
            for name in _config.init_arguments(type(self))
            if name not in _COMMON_ARGUMENTS
        }

    def prepare(self, y_true, y_pred):
        """Hook run before Keras casts `y_true`; returns `(y_true, y_pred)`."""
        return y_true, y_pred

    def class_axis(self):
        """The axis of `y_pred` that holds the classes: a per-example value reduces it."""
        return -1

    def _axis(self, y_pred):
        axis = self.class_axis()
        rank = len(y_pred.shape)
        return axis % rank if rank else 0

    def _check_exact_class_labels(self, y_pred):
        if len(y_pred.shape) == 0:
            return
        num_classes = y_pred.shape[self._axis(y_pred)]
        limit = _inputs.EXACT_INTEGER_LIMIT.get(self.dtype)
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
        if self.per_example:
            if len(weight_shape) > 2 or (len(weight_shape) == 2 and weight_shape[1] not in (1, None)):
                raise ValueError(
                    f"{type(self).__name__} gives one value per example: `sample_weight` must "
                    f"have shape (batch,). Received shape {weight_shape}."
                )
            return sample_weight
        if out_rank <= 1 or len(weight_shape) == 0:
            return sample_weight
        per_example = len(weight_shape) == 1 or all(d == 1 for d in weight_shape[1:])
        if not per_example or len(weight_shape) > out_rank:
            return sample_weight
        axis = self._axis(y_pred)
        out_shape = [d for i, d in enumerate(ops.shape(y_pred)) if i != axis]
        sample_weight = ops.reshape(sample_weight, (-1,) + (1,) * (out_rank - 1))
        # A product, not broadcast_to: PyTorch's broadcast is a view of one element
        # per example, which Keras's reduction then multiplies in place (an error).
        return sample_weight * ops.ones(out_shape, sample_weight.dtype)

    # -- configuration (`_config`): every `__init__` argument, from its attribute --

    def _argument(self, name):
        if name == "dtype":  # the argument as given: Keras keeps only the policy
            return self._dtype_argument
        return super()._argument(name)


def _as_tensor(x):
    """`x` as a backend tensor; tensors are returned as they are (keeping masks)."""
    if hasattr(x, "shape") and hasattr(x, "dtype") and not _is_numpy(x):
        return x
    return ops.convert_to_tensor(x)


def _is_numpy(x):
    return type(x).__module__ == "numpy"
