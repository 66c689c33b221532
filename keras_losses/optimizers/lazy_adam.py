"""Lazy (row-sparse) Adam: moments and weights change only in the rows a step touched."""

import keras
from keras import ops

from keras_losses import _backend
from keras_losses import _config
from keras_losses import _validation


@keras.saving.register_keras_serializable(package="keras_losses")
class LazyAdam(_config.Configurable, keras.optimizers.Optimizer):
    """Adam that updates only the rows of a table that a step's gradient touches.

    A gradient that names its rows (a `tf.IndexedSlices` on TensorFlow, a sparse COO
    tensor on PyTorch, the row gradient of `keras_losses.optimizers.sparse_updates`
    on JAX) gets, for each distinct row `r` it touches (repeated rows summed first):

        m[r] = beta_1 * m[r] + (1 - beta_1) * g[r]
        v[r] = beta_2 * v[r] + (1 - beta_2) * g[r] ** 2
        w[r] -= lr * sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t) * m[r] / (sqrt(v[r]) + epsilon)

    with `t` the optimizer's global step count (`iterations + 1`), and nothing else
    changes: the other rows keep their weights and their moments. The cost is the
    touched rows, not the table. This is TensorFlow Addons' `LazyAdam` and PyTorch's
    `SparseAdam`; `epsilon` sits where `keras.optimizers.Adam` puts it. Every dense
    gradient (the rest of the model) gets exactly `keras.optimizers.Adam`'s update, so
    one optimizer serves a whole model.

    How it differs from dense Adam: dense Adam decays the moments of every row at
    every step, so a row whose gradient is zero in a step still moves (its momentum
    carries it on) and its second moment shrinks. Here a row that a step does not
    touch is frozen, moments included; when it is touched again its momentum is
    the one it had, undecayed, while the bias correction uses the global step. For
    rows touched every few steps (frequent classes, the nodes near the root of a
    tree) the two are close; a rare row gets larger steps than under dense Adam
    when it reappears (no decay of `v` in between) and no drift in between. That is
    usually what one wants for embeddings and output tables, and is why the sparse
    optimizers of TensorFlow Addons and PyTorch work this way.

    Non-finite gradients are handled as Keras's own optimizers handle them: not at
    all, so a NaN in a touched row's gradient becomes NaN in that row's weights and
    moments (the untouched rows stay finite); wrap the optimizer in
    `keras.optimizers.LossScaleOptimizer` (which skips a step with a non-finite
    gradient, with a dense check) if that can happen. `clipnorm`, `clipvalue` and
    `global_clipnorm` act on the summed rows, as they would on the dense gradient.
    `weight_decay` decays the whole table every step (Keras applies it to variables,
    not gradients): `O(V * d)`, avoid it on large tables.

    Args:
        learning_rate: float >= 0, a `LearningRateSchedule`, or a callable.
        beta_1: float in [0, 1), decay of the first moment.
        beta_2: float in [0, 1), decay of the second moment.
        epsilon: float > 0, added to `sqrt(v)`.
        **kwargs: the common optimizer arguments (`weight_decay`, `clipnorm`,
            `clipvalue`, `global_clipnorm`, `use_ema`, `ema_momentum`,
            `ema_overwrite_frequency`, `loss_scale_factor`,
            `gradient_accumulation_steps`, `name`); gradient accumulation adds
            gradients densely.

    Example:

    >>> import numpy as np
    >>> table = keras.Variable(np.ones((4, 2), "float32"))
    >>> optimizer = LazyAdam(learning_rate=0.1)
    >>> optimizer.build([table])
    >>> optimizer.apply([np.ones((4, 2), "float32")], [table])  # dense: as Adam
    >>> np.round(keras.ops.convert_to_numpy(table).astype("float64"), 4).tolist()
    [[0.9, 0.9], [0.9, 0.9], [0.9, 0.9], [0.9, 0.9]]

    References:
        Kingma and Ba, 2015, "Adam: A Method for Stochastic Optimization",
        https://arxiv.org/abs/1412.6980. TensorFlow Addons, `tfa.optimizers.LazyAdam`;
        PyTorch, `torch.optim.SparseAdam`.
    """

    accepts_row_sparse_gradients = True  # read by `sparse_updates`

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        if isinstance(learning_rate, (int, float)) and not isinstance(learning_rate, bool):
            learning_rate = _validation.non_negative_float("learning_rate", learning_rate)
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1 = _validation.unit_interval("beta_1", beta_1, open_high=True)
        self.beta_2 = _validation.unit_interval("beta_2", beta_2, open_high=True)
        self.epsilon = _validation.positive_float("epsilon", epsilon)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._momentums, self._velocities = self.add_optimizer_variables(
            variables, ["momentum", "velocity"]
        )

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        step = ops.cast(self.iterations + 1, dtype)
        beta_1 = ops.cast(self.beta_1, dtype)
        beta_2 = ops.cast(self.beta_2, dtype)
        alpha = lr * ops.sqrt(1 - ops.power(beta_2, step)) / (1 - ops.power(beta_1, step))
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]

        parts = _backend.row_parts(gradient)
        if parts is None:  # dense: keras.optimizers.Adam's update
            gradient = ops.cast(gradient, dtype)
            self.assign_add(m, (gradient - m) * (1 - beta_1))
            self.assign_add(v, (ops.square(gradient) - v) * (1 - beta_2))
            self.assign_sub(variable, m * alpha / (ops.sqrt(v) + self.epsilon))
            return
        rows, grad = _backend.unique_rows(parts[0], parts[1], variable.shape[0])
        grad = ops.cast(grad, dtype)
        m_rows = _backend.gather_rows(m, rows)
        v_rows = _backend.gather_rows(v, rows)
        m_rows = m_rows + (grad - m_rows) * (1 - beta_1)
        v_rows = v_rows + (ops.square(grad) - v_rows) * (1 - beta_2)
        w_rows = _backend.gather_rows(variable, rows) - m_rows * alpha / (ops.sqrt(v_rows) + self.epsilon)
        _backend.scatter_rows(self, m, rows, m_rows)
        _backend.scatter_rows(self, v, rows, v_rows)
        _backend.scatter_rows(self, variable, rows, w_rows)

    def _clip_gradients(self, grads):
        clipnorm = self.clipnorm if self.clipnorm and self.clipnorm > 0 else None
        global_clipnorm = self.global_clipnorm if self.global_clipnorm and self.global_clipnorm > 0 else None
        clipvalue = self.clipvalue if self.clipvalue and self.clipvalue > 0 else None
        if clipnorm is None and global_clipnorm is None and clipvalue is None:
            return grads
        # Clip what the dense gradient would hold: each row once, its values summed.
        pieces = []
        for grad in grads:
            parts = None if grad is None else _backend.row_parts(grad)
            if parts is None:
                pieces.append((None, grad))
            else:
                pieces.append(_backend.unique_rows(parts[0], parts[1], grad.shape[0]))
        values = [p[1] for p in pieces]
        if clipnorm is not None:
            values = [None if g is None else g * clipnorm / ops.maximum(_norm(g), clipnorm) for g in values]
        elif global_clipnorm is not None:
            total = ops.sqrt(sum(ops.sum(ops.square(g)) for g in values if g is not None))
            scale = global_clipnorm * ops.minimum(1.0 / total, 1.0 / global_clipnorm)
            values = [None if g is None else g * scale for g in values]
        else:
            values = [None if g is None else ops.clip(g, -clipvalue, clipvalue) for g in values]
        return [
            g if rows is None else _backend.row_sparse(rows, g, grad.shape)
            for (rows, _), g, grad in zip(pieces, values, grads)
        ]


def _norm(x):
    return ops.sqrt(ops.sum(ops.square(x)))
