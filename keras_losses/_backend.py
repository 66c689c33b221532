"""The one place that knows which backend runs and touches what Keras keeps private.

Everything else in the package is written with the public `keras.ops`. What cannot
be (reading and setting Keras masks, asking whether a value is concrete, replica
collectives under `tf.distribute`, Keras's loss reduction and training step) lives
here, so that a Keras upgrade or a new backend is handled in one file.

Every use of Keras's private code is listed, with the Keras version it was read
from: names in `KERAS_PRIVATE`, attributes of Keras objects in `KERAS_ATTRIBUTES`,
locals read off the stack in `KERAS_LOCALS`, and code that mirrors a private Keras
function (rather than calling it) in `KERAS_MIRRORED`, with a fingerprint of the
source it mirrors. `tests/test_keras_private.py` checks each against the installed
Keras (and that every `keras.src` import here is listed), so a release
that moves, renames or rewrites any of them fails that test by name (it also runs
against keras-nightly in CI) instead of changing this package's results silently.
"""

import hashlib
import inspect
import sys

import keras
import numpy as np

# Keras keeps masks and its loss reduction in private helpers; they have no public
# equivalent in 3.15.
from keras.src.backend.common.masking import get_keras_mask
from keras.src.backend.common.masking import set_keras_mask
from keras.src.losses.loss import reduce_weighted_values

KERAS_VERSION_READ = "3.15.1"

# Private Keras names this module uses, by dotted path; "a | b" where Keras versions
# differ (3.15.1 first, then 3.16.0.dev2026102704, which renamed the JAX trainer class).
KERAS_PRIVATE = (
    "keras.src.backend.common.masking.get_keras_mask",
    "keras.src.backend.common.masking.set_keras_mask",
    "keras.src.losses.loss.reduce_weighted_values",
    "keras.src.losses.loss.unscale_loss_for_distribution",
    "keras.src.models.functional.Functional",
    "keras.src.saving.saving_lib._load_model_from_fileobj",
    "keras.src.saving.saving_lib._load_state",
    "keras.src.saving.serialization_lib.SafeModeScope",
    # methods of public classes
    "keras.Layer._flatten_layers",
    "keras.src.backend.jax.trainer.JAXTrainer._update_metrics_variables"
    " | keras.src.backend.jax.trainer.Trainer._update_metrics_variables",
    "keras.src.backend.torch.layer.TorchLayer._track_variables",
)

# Private attributes of Keras objects that this module reads, by the object that has
# them (`stored_shape` also reads an `H5IOStore`'s `_h5_entry_group`, but falls back
# to reading the weight when it is gone).
KERAS_ATTRIBUTES = {
    "a KerasTensor made by a layer": "_keras_history",
    "a built optimizer": "_trainable_variables",
}

# Local variables of Keras's loading functions that `adopt_late_variables` reads from
# the stack, by function.
KERAS_LOCALS = {
    "keras.src.saving.saving_lib._load_model_from_fileobj": ("model", "custom_objects", "safe_mode"),
    "keras.src.saving.saving_lib._load_state": ("saveable",),
}

# Private Keras code that this module re-implements with a change, and the SHA-256
# of the mirrored source (the first 16 hex digits) in each Keras version whose source
# was read and found to do the same.
KERAS_MIRRORED = {
    # `loss_call`: the same steps, with the dtype and a rescaling of the values
    "keras.src.losses.loss.Loss.__call__": (
        "f42c42282ee8902b",  # 3.15.1
        "6d0748313371823b",  # 3.16.0.dev2026102704: the same, with other import names
    ),
    # `_jax_sparse_train_step`: the same step, with row-sparse table gradients
    "keras.src.backend.jax.trainer.JAXTrainer.train_step"
    " | keras.src.backend.jax.trainer.Trainer.train_step": (
        "67c7e33798cd7fac",  # 3.15.1, and 3.16.0.dev2026102704 (class renamed Trainer)
    ),
}


def keras_private(path):
    """The object at dotted `path` in the installed Keras, trying each alternative of
    an "a | b" path in turn (raises `AttributeError` or `ImportError` if none is there)."""
    alternatives = [a.strip() for a in path.split("|")]
    for alternative in alternatives[:-1]:
        try:
            return _dotted(alternative)
        except (AttributeError, ImportError):
            continue
    return _dotted(alternatives[-1])


def _dotted(path):
    parts = path.split(".")
    for split in range(len(parts), 0, -1):
        try:
            value = __import__(".".join(parts[:split]), fromlist=["_"])
        except ImportError:
            continue
        for part in parts[split:]:
            value = getattr(value, part)
        return value
    raise ImportError(path)


def source_fingerprint(function):
    """The first 16 hex digits of the SHA-256 of `function`'s source."""
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]


def name():
    """The active Keras backend: "tensorflow", "jax", "torch" or "numpy"."""
    return keras.backend.backend()


def get_mask(x):
    """The Keras mask attached to `x`, or `None`."""
    return get_keras_mask(x)


def set_mask(x, mask):
    """Attaches `mask` to `x` (or removes the mask when `mask` is `None`)."""
    set_keras_mask(x, mask)


def is_concrete(x):
    """Whether `x` holds values now (eager), rather than being traced symbolically."""
    backend = name()
    if isinstance(x, keras.KerasTensor):
        return False
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.executing_eagerly() and not tf.is_symbolic_tensor(x)
    if backend == "jax":
        import jax

        return not isinstance(x, jax.core.Tracer)
    if backend == "torch":
        import torch

        return not torch.compiler.is_compiling()
    return True


def to_numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def max_along(x, axis, keepdims=False):
    """`keras.ops.max(x, axis)` that also takes an empty batch.

    Keras's TensorFlow and PyTorch `max` refuse any empty tensor, even when the axis
    reduced over is not empty (a batch of 0 examples of 3 classes): the result is
    then simply empty, as NumPy and JAX give it.
    """
    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.reduce_max(x, axis=axis, keepdims=keepdims)
    if backend == "torch":
        import torch

        return torch.amax(keras.ops.convert_to_tensor(x), dim=axis, keepdim=keepdims)
    return keras.ops.max(x, axis=axis, keepdims=keepdims)


def same_shape_at_run_time(x, y, message):
    """`(x, y)`, checked to have the same shape when the graph runs.

    Shapes known when tracing are checked by the caller; this covers dimensions only
    known at run time (a `tf.function` with `None` in its signature), where a
    mismatch would otherwise broadcast silently. Only TensorFlow graphs have such
    dimensions; elsewhere (and when the shapes are static) this returns its inputs.
    """
    if name() != "tensorflow":
        return x, y
    import tensorflow as tf

    if tf.executing_eagerly() or (
        None not in tuple(x.shape) and None not in tuple(y.shape)
    ):
        return x, y
    check = tf.debugging.assert_equal(tf.shape(x), tf.shape(y), message=message)
    with tf.control_dependencies([check]):
        return tf.identity(x), tf.identity(y)


def reduce(values, sample_weight, mask, reduction, dtype):
    """Keras's own loss reduction: weights, mask, reduction and replica scaling."""
    return reduce_weighted_values(
        values, sample_weight=sample_weight, mask=mask, reduction=reduction, dtype=dtype
    )


def loss_call(loss, y_true, y_pred, sample_weight, dtype, rescale=None):
    """`keras.losses.Loss.__call__` (Keras 3.15.1, see `KERAS_MIRRORED`) in `dtype`.

    The same steps as Keras: the mask of `y_pred`, the inputs converted to `dtype`,
    `loss.call`, the mask of its values, Keras's reduction. Two changes: the inputs,
    the values and the reduction are in `dtype`, not `loss.dtype` (a 16-bit loss is
    computed in float32), and `rescale(values, mask)`, when given, replaces the
    values before the reduction (the replica share of a global mean).
    """
    in_mask = get_mask(y_pred)
    with keras.name_scope(loss.name):
        convert = lambda x: keras.ops.convert_to_tensor(x, dtype=dtype)  # noqa: E731
        y_pred = keras.tree.map_structure(convert, y_pred)
        y_true = keras.tree.map_structure(convert, y_true)
        values = loss.call(y_true, y_pred)
        masks = [m for m in (in_mask, get_mask(values)) if m is not None]
        mask = None
        if masks:
            mask = masks[0] if len(masks) == 1 else keras.ops.logical_and(*masks)
        if rescale is not None:
            values = rescale(values, mask)
        return reduce(values, sample_weight, mask, loss.reduction, dtype)


# -- replicas (tf.distribute) ------------------------------------------------------
#
# Under a `tf.distribute` strategy each replica runs the model on its share of the
# global batch. A loss that needs the other replicas' examples (CLIP's negatives)
# gathers them with these; a loss that divides by a count sums it with these. Everywhere else (no strategy, the cross-replica context
# in which Keras builds a loss once, and the JAX and PyTorch backends, where Keras's
# own `DataParallel` already shows the loss the global batch) there is one replica
# and they return their input.


def _replica_context():
    """The `tf.distribute` replica context when more than one replica runs, else None."""
    if name() != "tensorflow":
        return None
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    return context


def replica_count():
    """How many replicas run this code together: 1 outside a replica of a strategy."""
    context = _replica_context()
    return 1 if context is None else context.num_replicas_in_sync


def all_gather(x):
    """`x` of every replica, concatenated along axis 0 in replica order.

    Differentiable: the gradient reaching each replica's `x` is the sum, over all
    replicas, of the gradients of their results with respect to its rows (TF's
    `ReplicaContext.all_gather` all-reduces the incoming gradient and keeps this
    replica's slice). With one replica it returns `x` itself.
    """
    context = _replica_context()
    if context is None:
        return x
    return context.all_gather(x, axis=0)


def replica_id():
    """This replica's index among the replicas of the step (0 with one replica)."""
    context = _replica_context()
    if context is None:
        return 0
    return context.replica_id_in_sync_group


def sum_over_replicas(x):
    """The sum of `x` over the replicas of this step (`x` itself with one replica)."""
    context = _replica_context()
    if context is None:
        return x
    import tensorflow as tf

    return context.all_reduce(tf.distribute.ReduceOp.SUM, x)
# -- models and layers (keras_losses.regularizers) ----------------------------------

# Keras exports no public class for functional models: `keras.Model(inputs, outputs)`
# returns an instance of this private one.
from keras.src.models.functional import Functional as _Functional  # noqa: E402


def is_graph_model(model):
    """Whether `model` is a Functional or Sequential model (a graph of layers that
    `keras.models.clone_model` can rebuild), as opposed to a subclassed model."""
    return isinstance(model, (_Functional, keras.Sequential))


def sublayers(layer):
    """Every layer that `layer` holds, at any depth (not `layer` itself)."""
    return list(layer._flatten_layers(include_self=False, recursive=True))


def unscale_loss_for_distribution(value):
    """Undoes the 1 / replicas scaling that a Keras loss applies under `tf.distribute`
    (a no-op with one replica and on the other backends), as Keras's loss tracker does."""
    from keras.src.losses.loss import unscale_loss_for_distribution

    return unscale_loss_for_distribution(value)


def input_layer(tensor):
    """The `InputLayer` that made a functional model's input `tensor`."""
    return tensor._keras_history.operation


def take_rows(variable, indices):
    """`keras.ops.take(variable, indices, axis=0)`, reading only the rows asked for.

    On TensorFlow this gathers straight from the variable (`ResourceGather`), so no
    tensor of the variable's full size appears in the graph and the gradient is a
    `tf.IndexedSlices` that optimizers apply as a sparse update. Elsewhere, and on
    symbolic inputs, it is `keras.ops.take`.
    """
    if name() == "tensorflow" and not isinstance(indices, keras.KerasTensor):
        import tensorflow as tf

        value = variable.value if isinstance(variable, keras.Variable) else variable
        if isinstance(value, tf.Variable):
            return tf.gather(value, indices)
    capture = _row_capture()
    if capture is not None and not isinstance(indices, keras.KerasTensor):
        rows = capture.take(variable, indices)
        if rows is not None:
            return rows
    return keras.ops.take(variable, indices, axis=0)


# -- row-sparse training (keras_losses.optimizers) ----------------------------------
#
# A step of the hierarchical softmax's fast path (or of an embedding lookup) reads a
# few hundred rows of a table with a million. Its gradient is non-zero in those rows
# only, and an optimizer that knows which rows they are can update them alone. Each
# backend hands that gradient over differently:
#
# - TensorFlow: `tf.gather` on a variable has a `tf.IndexedSlices` gradient, and
#   Keras's TF trainer passes it to the optimizer as it is. Nothing else is needed.
# - PyTorch: a gather whose backward returns a sparse COO tensor (as
#   `torch.nn.functional.embedding(..., sparse=True)` does); the trainer reads it from
#   `variable.value.grad`. Only inside `sparse_updates`, where the optimizer is known
#   to take it: Keras's dense Adam would square a sparse gradient before summing its
#   repeated rows.
# - JAX: the trainer differentiates with respect to whole variables, so the gradient
#   of a gather is a dense `(V, d)` array. `sparse_updates` replaces the train step:
#   the tables read by `take_rows` are held constant, a zero "perturbation" is added
#   to each gathered block, and the gradient with respect to those perturbations is
#   the gradient of the rows (`RowSparse`).


class RowSparse:
    """A gradient that is zero outside some rows: `values[i]` belongs to row `indices[i]`.

    Rows may repeat (their values add up). The JAX counterpart of `tf.IndexedSlices`
    and of a sparse COO tensor in PyTorch, made by `sparse_updates`'s train step.
    """

    def __init__(self, indices, values, dense_shape):
        self.indices = indices
        self.values = values
        self.dense_shape = tuple(dense_shape)

    @property
    def shape(self):
        return self.dense_shape

    @property
    def dtype(self):
        return self.values.dtype

    def __truediv__(self, scale):  # loss-scale unscaling in `Optimizer.apply`
        return RowSparse(self.indices, self.values / scale, self.dense_shape)

    def __mul__(self, scale):
        return RowSparse(self.indices, self.values * scale, self.dense_shape)

    __rmul__ = __mul__


def row_parts(gradient):
    """`(indices, values)` of a row-sparse gradient (any backend's form), else `None`."""
    if isinstance(gradient, RowSparse):
        return gradient.indices, gradient.values
    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf

        if isinstance(gradient, tf.IndexedSlices):
            return gradient.indices, gradient.values
    elif backend == "torch":
        import torch

        if isinstance(gradient, torch.Tensor) and gradient.is_sparse:
            if gradient.is_coalesced():
                return gradient.indices()[0], gradient.values()
            return gradient._indices()[0], gradient._values()  # repeats: `unique_rows` sums them
    return None


def row_sparse(rows, values, dense_shape):
    """A row-sparse gradient in the active backend's own form (see `row_parts`)."""
    backend = name()
    dense_shape = tuple(int(n) for n in dense_shape)
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.IndexedSlices(values, rows, tf.constant(dense_shape, rows.dtype))
    if backend == "torch":
        import torch

        return torch.sparse_coo_tensor(rows.reshape(1, -1), values, dense_shape, check_invariants=False)
    return RowSparse(rows, values, dense_shape)


def unique_rows(indices, values, num_rows):
    """Sums the values of repeated rows.

    Returns:
        `(rows, sums)`: each row once, with the sum of its values. On TensorFlow and
        PyTorch `rows` has as many entries as there are distinct rows; on JAX (static
        shapes) as many as `indices`, the extra entries being `num_rows` (out of range:
        gathers clip them, scatters drop them) with zero sums.
    """
    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf

        rows, position = tf.unique(tf.reshape(indices, [-1]))
        return rows, tf.math.unsorted_segment_sum(values, position, tf.shape(rows)[0])
    if backend == "torch":
        import torch

        size = (num_rows,) + tuple(values.shape[1:])
        total = torch.sparse_coo_tensor(indices.reshape(1, -1), values, size, check_invariants=False).coalesce()
        return total.indices()[0], total.values()
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        indices = jnp.reshape(indices, (-1,))
        count = indices.shape[0]
        rows, position = jnp.unique(
            indices, return_inverse=True, size=count, fill_value=num_rows
        )
        sums = jax.ops.segment_sum(values, jnp.reshape(position, (-1,)), num_segments=count)
        return rows, sums
    raise ValueError(f"Row-sparse updates are not supported on the {backend!r} backend.")


def gather_rows(variable, rows):
    """`variable[rows]`, reading only those rows (out-of-range rows clipped on JAX)."""
    backend = name()
    value = variable.value if isinstance(variable, keras.Variable) else variable
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.gather(value, rows)
    if backend == "jax":
        import jax.numpy as jnp

        return jnp.take(value, rows, axis=0, mode="clip")
    return value[rows]


def scatter_rows(optimizer, variable, rows, new_rows):
    """Sets `variable[rows] = new_rows` in place, touching only those rows.

    `rows` are distinct (`unique_rows`). TensorFlow: a `ResourceScatterUpdate` (through
    the optimizer, which knows the distribution strategy); JAX: `.at[rows].set`, in
    place once the train step donates its state, with out-of-range rows dropped;
    PyTorch: `index_copy_`.
    """
    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf

        optimizer.assign(variable, tf.IndexedSlices(new_rows, rows, tf.shape(new_rows, out_type=rows.dtype)))
    elif backend == "jax":
        variable.assign(variable.value.at[rows].set(new_rows, mode="drop"))
    else:
        import torch

        with torch.no_grad():  # the trainer applies under no_grad; a direct `apply` may not
            variable.value.index_copy_(0, rows, new_rows.to(variable.value.dtype))


_ROW_CAPTURES = []  # the active `_RowCapture`s (innermost last)


def _row_capture():
    return _ROW_CAPTURES[-1] if _ROW_CAPTURES else None


class _RowCapture:
    """What `take_rows` does to the tables of a `sparse_updates` train step.

    `mode` is "record" (JAX: note each gather of a table and its shape), "perturb"
    (JAX: add the next perturbation to each gather and note its indices) or "torch"
    (gather with a sparse gradient). `tables` holds the ids of the variables concerned.
    """

    def __init__(self, mode, tables, perturbations=()):
        self.mode = mode
        self.tables = tables
        self.perturbations = list(perturbations)
        self.gathers = []  # record: (variable, rows); perturb: (variable, indices)

    def __enter__(self):
        _ROW_CAPTURES.append(self)
        return self

    def __exit__(self, *exc):
        _ROW_CAPTURES.remove(self)

    def take(self, variable, indices):
        if not isinstance(variable, keras.Variable) or id(variable) not in self.tables:
            return None
        if self.mode == "torch":
            return _torch_sparse_gather(variable.value, indices)
        import jax.numpy as jnp

        indices = jnp.asarray(indices)
        rows = jnp.take(variable.value, indices, axis=0)
        if self.mode == "record":
            self.gathers.append((variable, rows))
            return rows
        perturbation = self.perturbations[len(self.gathers)]
        self.gathers.append((variable, indices))
        return rows + perturbation


def _torch_sparse_gather(table, indices):
    import torch

    class SparseGather(torch.autograd.Function):
        @staticmethod
        def forward(ctx, table, indices):
            ctx.save_for_backward(indices)
            ctx.table_shape = table.shape
            return torch.index_select(table, 0, indices.reshape(-1)).reshape(
                tuple(indices.shape) + tuple(table.shape[1:])
            )

        @staticmethod
        def backward(ctx, grad):
            (indices,) = ctx.saved_tensors
            shape = tuple(ctx.table_shape)
            values = grad.reshape((-1,) + shape[1:])
            return torch.sparse_coo_tensor(indices.reshape(1, -1), values, shape, check_invariants=False), None

    return SparseGather.apply(table, torch.as_tensor(indices).long())


def _row_mode(optimizer):
    """How `sparse_updates` applies row gradients with `optimizer`: "lazy" (the
    optimizer takes row-sparse gradients: `LazyAdam`), "sgd" (plain SGD: a scatter-add
    of `-learning_rate * rows`), or `None` (dense, as Keras does)."""
    if optimizer is None or getattr(optimizer, "gradient_accumulation_steps", None):
        return None
    if getattr(optimizer, "accepts_row_sparse_gradients", False):
        return "lazy"
    if (
        isinstance(optimizer, keras.optimizers.SGD)
        and type(optimizer).__name__ == "SGD"  # Keras's own (its torch twin has the name too)
        and not optimizer.momentum
        and optimizer.weight_decay is None
        and optimizer.clipnorm is None
        and optimizer.clipvalue is None
        and optimizer.global_clipnorm is None
    ):
        return "sgd"
    return None


def _row_tables(model):
    """The ids of the model's trainable float variables whose gradient may be row-sparse:
    a regularizer reads the whole table, so a regularized table stays dense."""
    return {
        id(v)
        for v in model.trainable_variables
        if "float" in str(v.dtype) and getattr(v, "regularizer", None) is None
    }


def install_sparse_train_step(model):
    """Replaces `model.train_step` on JAX and PyTorch (`keras_losses.optimizers.sparse_updates`)."""
    backend = name()
    if backend == "tensorflow":
        return
    original = type(model).train_step.__get__(model)
    if backend == "torch":

        import torch

        @torch.compiler.disable  # under `jit_compile=True`: torch.compile has no sparse gradients
        def sparse_step(data):
            with _RowCapture("torch", _row_tables(model)):
                return original(data)

        def train_step(data):
            if _row_mode(model.optimizer) is None:
                return original(data)
            return sparse_step(data)

    elif backend == "jax":

        def train_step(state, data):
            if _row_mode(model.optimizer) is None:
                return original(state, data)
            return _jax_sparse_train_step(model, original, state, data)

    else:
        raise ValueError(f"Row-sparse updates are not supported on the {backend!r} backend.")
    model.train_step = train_step
    model.train_function = None  # made again with the new step on the next fit


def _jax_sparse_train_step(model, original, state, data):
    """Keras 3.15.1's `JAXTrainer.train_step` (see `KERAS_MIRRORED`), with the rows of
    the gathered tables differentiated as `RowSparse` instead of whole tables."""
    import warnings

    import jax
    import jax.numpy as jnp

    trainable, non_trainable, optimizer_values, metrics_values = state
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    variables = model.trainable_variables
    optimizer = model.optimizer

    def forward(values, capture):
        with capture:
            return model.compute_loss_and_updates(
                values, non_trainable, metrics_values, x, y, sample_weight,
                training=True, optimizer_variables=optimizer_values,
            )

    # Trace once, without running it, to learn which tables are gathered and how
    # (under `jit` this costs tracing time only, not step time).
    recorder = _RowCapture("record", _row_tables(model))
    if any(isinstance(v, jax.core.Tracer) for v in jax.tree.leaves(state)):
        jax.eval_shape(lambda values: forward(values, recorder)[0], trainable)
    else:  # run eagerly (`jit_compile=False`): eager checks need concrete values
        forward(trainable, recorder)
    gathered = {id(v) for v, _ in recorder.gathers}
    if not gathered:
        return original(state, data)
    positions = {id(v): i for i, v in enumerate(variables)}
    dense = [i for i, v in enumerate(variables) if id(v) not in gathered]
    zeros = [jnp.zeros(rows.shape, rows.dtype) for _, rows in recorder.gathers]

    def loss_fn(dense_values, perturbations):
        values = list(trainable)  # the tables: constants of this function
        for i, value in zip(dense, dense_values):
            values[i] = value
        capture = _RowCapture("perturb", gathered, perturbations)
        loss, aux = forward(values, capture)
        return loss, (aux, [indices for _, indices in capture.gathers])

    (_, (aux, indices)), (dense_grads, row_grads) = jax.value_and_grad(
        loss_fn, argnums=(0, 1), has_aux=True
    )([trainable[i] for i in dense], zeros)
    unscaled_loss, y_pred, non_trainable, metrics_values = aux

    grads = [None] * len(variables)
    for i, grad in zip(dense, dense_grads):
        grads[i] = grad
    pieces = {}
    for (variable, _), ids, grad in zip(recorder.gathers, indices, row_grads):
        shape = tuple(variable.shape)
        pieces.setdefault(id(variable), []).append(
            (jnp.reshape(ids, (-1,)), jnp.reshape(grad, (-1,) + shape[1:]))
        )
    for key, parts in pieces.items():
        variable = variables[positions[key]]
        grads[positions[key]] = RowSparse(
            jnp.concatenate([p[0] for p in parts]),
            jnp.concatenate([p[1] for p in parts]),
            variable.shape,
        )

    mapping = list(zip(variables, trainable)) + list(zip(optimizer.variables, optimizer_values))
    with keras.StatelessScope(state_mapping=mapping) as scope:
        if _row_mode(optimizer) == "lazy":
            optimizer.apply(grads, variables)
        else:  # plain SGD: the rows here, everything else through the optimizer
            learning_rate = optimizer.learning_rate
            others = []
            for variable, grad in zip(variables, grads):
                if isinstance(grad, RowSparse):
                    values = grad.values
                    if optimizer.loss_scale_factor is not None:
                        values = values / optimizer.loss_scale_factor
                    step = jnp.asarray(learning_rate, variable.dtype) * values.astype(variable.dtype)
                    variable.assign(variable.value.at[grad.indices].add(-step, mode="drop"))
                else:
                    others.append((grad, variable))
            if others:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    optimizer.apply([g for g, _ in others], [v for _, v in others])
            else:
                optimizer.iterations.assign_add(1)
    trainable = [
        value if (new := scope.get_current_value(v)) is None else new
        for v, value in zip(variables, trainable)
    ]
    optimizer_values = [
        value if (new := scope.get_current_value(v)) is None else new
        for v, value in zip(optimizer.variables, optimizer_values)
    ]
    logs, metrics_values = model._update_metrics_variables(
        metrics_values, unscaled_loss, x, y, y_pred, sample_weight
    )
    return logs, (trainable, non_trainable, optimizer_values, metrics_values)


def stored_shape(store, key):
    """The shape of weight `key` in a Keras weights store, read without loading it.

    `load_own_variables` gets an `H5IOStore` (Keras 3.15: `_h5_entry_group` is the
    h5py group of the layer, whose datasets give their shape from the file's
    metadata) or, from other callers, a plain mapping of arrays.
    """
    group = getattr(store, "_h5_entry_group", None)
    if group is not None and key in group and hasattr(group[key], "shape"):
        return tuple(group[key].shape)
    return tuple(np.shape(store[key]))


def in_keras_loading():
    """Whether Keras's saving code (`keras.src.saving.saving_lib`, 3.15) is on the stack.

    `load_model` sizes `model.variables` to decide how to read the weights file,
    before any layer has loaded its weights; a layer that creates its variables on
    first access must not do it for that look (see `HierarchicalSoftmax`).
    """
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get("__name__") == "keras.src.saving.saving_lib":
            return True
        frame = frame.f_back
    return False


def _saving_frames():
    """The frames of Keras 3.15's `keras.src.saving.saving_lib` on the stack, innermost first."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get("__name__") == "keras.src.saving.saving_lib":
            yield frame
        frame = frame.f_back


def adopt_late_variables(pending):
    """Lets the model being loaded see variables a layer created while its weights load.

    Keras 3.15's `load_model` (`saving_lib._load_model_from_fileobj`) first makes the
    model from its config, and compiles it there: `compile_from_config` builds the
    optimizer over `model.trainable_variables`. Only then does `_load_state` read
    the weights, the layers first (a Functional model's `layers`, then its attributes
    in sorted order, where `layers` comes before `optimizer`), fetching
    `model.optimizer` only when it reaches it. A layer that creates its variables in
    `load_own_variables`, once it has checked the stored shapes (see
    `HierarchicalSoftmax`), is then missing from:

    - on torch, the model's parameters: the model tracks its variables again;
    - the optimizer's variables, so that Keras would skip the saved optimizer state
      (with a warning) and training would restart from step 0. Once no layer of the
      model is `pending` any more, the model is compiled again from its own compile
      config (public `get_compile_config` and `compile_from_config`), under the
      custom objects and safe mode that `load_model` was given, so that the
      optimizer Keras loads the state into is built over every variable. This is
      done only for a compiled model whose optimizer is built, has taken no step
      (its state is not loaded yet) and lacks some trainable variable.

    The models are the `model` locals of the `saving_lib` functions on the stack and
    the models among the `saveable` locals of its `_load_state`.

    Args:
        pending: `layer -> bool`, whether a layer has still to create its variables.
    """
    models, loaded, custom_objects, safe_mode = {}, set(), None, True
    for frame in _saving_frames():
        local = frame.f_locals
        for key in ("model", "saveable"):
            model = local.get(key)
            if isinstance(model, keras.Model):
                models[id(model)] = model
                if key == "model":
                    loaded.add(id(model))
        if frame.f_code.co_name == "_load_model_from_fileobj":
            custom_objects, safe_mode = local.get("custom_objects"), local.get("safe_mode", True)
    for model in models.values():
        if name() == "torch" and id(model) in loaded and hasattr(model, "_track_variables"):
            model._track_variables()
        if not any(pending(layer) for layer in sublayers(model)) and _lacks_variables(model):
            from keras.src.saving.serialization_lib import SafeModeScope  # Keras 3.15

            with keras.saving.custom_object_scope(custom_objects or {}), SafeModeScope(safe_mode):
                model.compile_from_config(model.get_compile_config())


def _lacks_variables(model):
    """Whether `model` is compiled with a built optimizer that has taken no step and
    was built without some of the model's trainable variables."""
    optimizer = getattr(model, "optimizer", None)
    if not getattr(model, "compiled", False) or not getattr(optimizer, "built", False):
        return False
    if type(model).compile is not keras.Model.compile and (
        type(model).compile_from_config is keras.Model.compile_from_config
    ):
        return False  # Keras's `compile_from_config` would not compile it (it warns instead)
    # `_trainable_variables`: what `BaseOptimizer.build` was given (Keras 3.15).
    built_over = {id(v) for v in getattr(optimizer, "_trainable_variables", ())}
    if all(id(v) in built_over for v in model.trainable_variables):
        return False
    return int(to_numpy(optimizer.iterations)) == 0


# -- batched search (keras_losses.losses.metric_learning) ---------------------------


def searchsorted(sorted_rows, values, side="right"):
    """Row by row `searchsorted`: for every `values[i, j]`, how many entries of the
    ascending row `sorted_rows[i]` come before it (`side="right"`: entries <= it;
    `"left"`: entries < it). Both `(n, m)`; returns int32 `(n, m)`.

    `keras.ops.searchsorted` takes one sorted vector only. JAX and PyTorch have a
    batched form. TensorFlow's `searchsorted` is one too, but XLA lowers it to a
    comparison of every value with every entry, an `(n, m, m)` tensor (264 GiB at
    n = m = 4096); on TensorFlow the rows are merged by a stable sort instead, in
    O(n m log m) time and O(n m) memory in graph mode and under XLA alike.
    """
    backend = name()
    if backend == "tensorflow":
        return _merged_search(sorted_rows, values, side)
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        search = jax.vmap(lambda row, v: jnp.searchsorted(row, v, side=side))
        return search(sorted_rows, values).astype("int32")
    if backend == "torch":
        import torch

        found = torch.searchsorted(
            sorted_rows.contiguous(), values.contiguous(), right=side == "right"
        )
        return found.to(torch.int32)
    rows, queries = np.asarray(sorted_rows), np.asarray(values)
    return np.stack(
        [np.searchsorted(r, q, side=side) for r, q in zip(rows, queries)]
    ).astype("int32")


def _merged_search(sorted_rows, values, side):
    """`searchsorted` by sorting each row's entries and values together (TensorFlow).

    A stable sort keeps entries before equal values when they come first in the
    concatenation (`side="right"`: entries <= a value precede it) and after them
    otherwise (`"left"`); a value's answer is the number of entries sorted before it.
    """
    import tensorflow as tf

    entries = tf.shape(sorted_rows)[1]
    count = tf.shape(values)[1]
    if side == "right":
        merged = tf.concat([sorted_rows, values], axis=1)
        is_entry = lambda order: order < entries  # noqa: E731
    else:
        merged = tf.concat([values, sorted_rows], axis=1)
        is_entry = lambda order: order >= count  # noqa: E731
    order = tf.argsort(merged, axis=1, stable=True)
    entries_before = tf.cumsum(tf.cast(is_entry(order), tf.int32), axis=1, exclusive=True)
    position = tf.argsort(order, axis=1, stable=True)  # where each merged element went
    position = position[:, entries:] if side == "right" else position[:, :count]
    return tf.gather(entries_before, position, batch_dims=1)
def scan(step, init, xs, reverse=False):
    """`keras.ops.scan(step, init, xs, reverse=reverse)` for a `step` whose output is
    its new carry: `(final carry, stacked outputs)`.

    On TensorFlow this is `tf.scan`, whose `tf.while_loop` has its maximum number of
    iterations set: XLA needs it to differentiate the loop, and Keras's own scan
    (3.15) leaves it unset, so its gradient fails under `jit_compile=True`.
    """
    if name() != "tensorflow":
        return keras.ops.scan(step, init, xs, reverse=reverse)
    import tensorflow as tf

    stacked = tf.scan(lambda carry, x: step(carry, x)[1], xs, initializer=init, reverse=reverse)
    # The final carry is the last output (the first when reversed), or `init` when
    # the sequence is empty.
    if reverse:
        final = keras.tree.map_structure(
            lambda ys, first: tf.concat([ys, first[None]], 0)[0], stacked, init
        )
    else:
        final = keras.tree.map_structure(
            lambda ys, first: tf.concat([first[None], ys], 0)[-1], stacked, init
        )
    return final, stacked


# -- custom gradients (linear cross-entropy, tiled CLIP/SigLIP) ---------------------------
#
# The package's one way to write a hand-made backward pass. `keras.ops.custom_gradient`
# exists, but on PyTorch (Keras 3.15) it swallows any error of the forward function
# and then returns a NaN gradient, and on every backend its gradient function must
# recompute from closures. This one takes a forward that returns residuals and a
# backward that receives them, and raises what it raises.


def custom_gradient(forward, backward):
    """A function of tensors with a hand-written vector-Jacobian product.

    Args:
        forward: `forward(*inputs) -> (output, residuals)`, `output` one tensor and
            `residuals` a tuple of tensors kept for the backward pass.
        backward: `backward(inputs, residuals, cotangent) -> gradients`, a tuple
            with one entry per input (`None` for an integer input).

    Returns:
        `fn(*inputs) -> output`, differentiable on TensorFlow (also in `tf.function`
        and XLA), JAX (also under `jax.jit`) and PyTorch.
    """
    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.custom_gradient
        def fn(*inputs):
            output, residuals = forward(*inputs)

            def gradient(cotangent):
                return tuple(backward(inputs, residuals, cotangent))

            return output, gradient

        def read_then_call(*inputs):
            # Variables are read here, outside `fn`: inside, TensorFlow would want their
            # gradients from `gradient` too, as a separate `variables` argument.
            return fn(*[tf.convert_to_tensor(x) for x in inputs])

        return read_then_call
    if backend == "jax":
        import jax

        @jax.custom_vjp
        def fn(*inputs):
            return forward(*inputs)[0]

        def fn_forward(*inputs):
            output, residuals = forward(*inputs)
            return output, (inputs, residuals)

        def fn_backward(saved, cotangent):
            return tuple(backward(saved[0], saved[1], cotangent))

        fn.defvjp(fn_forward, fn_backward)
        return fn
    if backend == "torch":
        import torch

        class Function(torch.autograd.Function):
            @staticmethod
            def forward(ctx, *inputs):
                output, residuals = forward(*inputs)
                ctx.count = len(inputs)
                ctx.save_for_backward(*inputs, *residuals)
                return output

            @staticmethod
            def backward(ctx, cotangent):
                saved = ctx.saved_tensors
                return tuple(backward(saved[: ctx.count], saved[ctx.count :], cotangent))

        return Function.apply
    return lambda *inputs: forward(*inputs)[0]
