"""The logit matrix of paired embeddings, with CLIP's learned temperature."""

import math

import keras
import numpy as np
from keras import ops

from keras_losses import _backend
from keras_losses import _config
from keras_losses import _inputs
from keras_losses import _validation

# Squared norms (of rows scaled to a largest magnitude of 1, so at least 1 unless
# the row is zero) are floored here before the inverse square root, so a zero
# embedding gives zeros (and a finite gradient) instead of NaN.
_SQUARED_NORM_FLOOR = 1e-12
# The largest `max_logit_scale` and `|logit_bias|`: half the largest float32, so a
# logit (at most scale + |bias| in magnitude) stays finite.
_LARGEST_LOGIT_TERM = float(np.finfo("float32").max) / 2


class _AtMost(_config.Configurable, keras.constraints.Constraint):
    """Clips a variable to at most `max_value` after each optimizer update."""

    def __init__(self, max_value):
        self.max_value = max_value

    def __call__(self, w):
        return ops.minimum(w, ops.cast(self.max_value, w.dtype))


def _l2_normalize(x):
    # x / ||x|| = y / ||y|| with y = x / max|x| (held constant for the gradient, which
    # is exact as the direction does not depend on the scale): squares of tiny or
    # huge rows neither underflow nor overflow. Computed as y * rsqrt(max(sum(y**2), floor)).
    largest = ops.stop_gradient(_backend.max_along(ops.abs(x), -1, keepdims=True))
    y = x / ops.where(ops.greater(largest, 0), largest, ops.ones_like(largest))
    squared = ops.sum(ops.square(y), axis=-1, keepdims=True)
    return y * ops.rsqrt(ops.maximum(squared, _SQUARED_NORM_FLOOR))


@keras.saving.register_keras_serializable(package="keras_losses")
class ContrastiveLogits(_config.Configurable, keras.layers.Layer):
    """Scaled cosine similarities of two batches of embeddings (CLIP's logits).

    `layer([a, b])` L2-normalises each row of `a` `(n, d)` and `b` `(m, d)` and
    returns `scale * a @ b.T (+ bias)`, `(n, m)`: the `y_pred` of `CLIPLoss` and
    `SigLIPLoss` (which need `m == n`). The scale (the inverse temperature) is
    learned as its logarithm, as in CLIP, and constrained after every optimizer
    update so that it never exceeds `max_logit_scale`; the forward pass also never
    uses more than the maximum. The maths runs in float32, also on 16-bit
    embeddings under mixed precision, and the logits are float32: in bfloat16 a
    logit near 100 would be rounded to a multiple of 0.5.

    With `across_replicas=True` under a `tf.distribute` strategy of `R` replicas,
    both embeddings are gathered from every replica (with gradient) and the layer
    returns this replica's `(n, 2 * n_global)` block: its rows of the image-to-text
    logits, then its rows of the text-to-image logits (open_clip's local loss).
    Memory per replica is linear in the local batch. With one replica, or outside a
    strategy, that block is `concatenate([L, L.T], axis=1)`. Use it with
    `CLIPLoss(across_replicas=True)` or `SigLIPLoss(across_replicas=True)`.

    The logits depend on the whole batch: for retrieval or zero-shot
    classification, take each tower's embeddings and call the layer (or compare
    them) yourself; see docs/contrastive.md.

    Args:
        logit_scale: float > 0, the starting scale (default `1 / 0.07`, CLIP's).
            At most `max_logit_scale`.
        max_logit_scale: float > 0, the largest scale ever used (default 100, CLIP's).
        learn_scale: whether the scale is trained (default True).
        logit_bias: `None` (no bias, the default) or the starting value of a learned
            bias added to every logit (`-10.0` is SigLIP's start, with
            `logit_scale=10.0`).
        across_replicas: gather the global batch under `tf.distribute` (see above).
        tiled: return the packed `(n, 2 * d + 2)` tensor `[a, b, scale, bias]` (both
            normalised embeddings, then the scale and the bias on every row) instead
            of the logits, for `CLIPLoss(tiled=True)` and `SigLIPLoss(tiled=True)`,
            which compute the logits tile by tile and never hold the `(n, n)`
            matrix. With `tiled=True` the layer never gathers; the losses do (their
            own `across_replicas`).

    Input: `[a, b]`, two float tensors `(n, d)` and `(m, d)`.
    Output: float32 `(n, m)`; `(n, 2 * n_global)` with `across_replicas=True`;
    `(n, 2 * d + 2)` with `tiled=True`.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> layer = ContrastiveLogits(logit_scale=10.0)
    >>> logits = layer([np.array([[3.0, 0.0], [0.0, 1.0]]), np.array([[2.0, 0.0], [1.0, 1.0]])])
    >>> print(np.round(keras.ops.convert_to_numpy(logits), 3))  # 10 * cosine similarities
    [[10.     7.071]
     [ 0.     7.071]]

    References:
        Radford et al., 2021, "Learning Transferable Visual Models From Natural
        Language Supervision", https://arxiv.org/abs/2103.00020 (learned
        temperature, clipped at 100). Zhai et al., 2023, "Sigmoid Loss for Language
        Image Pre-Training", https://arxiv.org/abs/2303.15343 (bias, start -10).
    """

    def __init__(
        self,
        logit_scale=1 / 0.07,
        max_logit_scale=100.0,
        learn_scale=True,
        logit_bias=None,
        across_replicas=False,
        tiled=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.max_logit_scale = _validation.positive_float("max_logit_scale", max_logit_scale)
        if self.max_logit_scale > _LARGEST_LOGIT_TERM:
            raise _validation.invalid(
                "max_logit_scale",
                f"a positive float at most {_LARGEST_LOGIT_TERM:.4g} (logits must stay "
                "finite in float32)",
                max_logit_scale,
            )
        self.logit_scale = _validation.positive_float("logit_scale", logit_scale)
        if self.logit_scale > self.max_logit_scale:
            raise _validation.invalid(
                "logit_scale",
                f"a positive float at most max_logit_scale={max_logit_scale!r}",
                logit_scale,
            )
        self.learn_scale = _validation.boolean("learn_scale", learn_scale)
        self.logit_bias = (
            None if logit_bias is None else _validation.finite_float("logit_bias", logit_bias)
        )
        if self.logit_bias is not None and abs(self.logit_bias) > _LARGEST_LOGIT_TERM:
            raise _validation.invalid(
                "logit_bias",
                f"None or a float of magnitude at most {_LARGEST_LOGIT_TERM:.4g} (logits "
                "must stay finite in float32)",
                logit_bias,
            )
        self.across_replicas = _validation.boolean("across_replicas", across_replicas)
        self.tiled = _validation.boolean("tiled", tiled)
        self._log_max_scale = math.log(self.max_logit_scale)

    def build(self, input_shape):
        if (
            not isinstance(input_shape, (list, tuple))
            or len(input_shape) != 2
            or not all(isinstance(s, (list, tuple)) for s in input_shape)
        ):
            # one tensor of shape (n, d) is also a pair, of ints: say what is needed
            raise ValueError(
                "ContrastiveLogits takes a list of two embedding tensors [a, b]; "
                f"received one input of shape {tuple(input_shape)}."
                if isinstance(input_shape, (list, tuple))
                and not any(isinstance(s, (list, tuple)) for s in input_shape)
                else "ContrastiveLogits takes a list of two embedding tensors [a, b]; "
                f"received input shape {input_shape}."
            )
        a_shape, b_shape = (tuple(s) for s in input_shape)
        if len(a_shape) != 2 or len(b_shape) != 2 or (
            a_shape[-1] is not None and b_shape[-1] is not None and a_shape[-1] != b_shape[-1]
        ):
            raise ValueError(
                "ContrastiveLogits takes two embedding batches of shapes (n, d) and (m, d); "
                f"received shapes {a_shape} and {b_shape}."
            )
        self.log_scale = self.add_weight(
            name="log_logit_scale",
            shape=(),
            initializer=keras.initializers.Constant(math.log(self.logit_scale)),
            trainable=self.learn_scale,
            constraint=_AtMost(self._log_max_scale),
        )
        self.bias = None
        if self.logit_bias is not None:
            self.bias = self.add_weight(
                name="logit_bias",
                shape=(),
                initializer=keras.initializers.Constant(self.logit_bias),
            )

    @property
    def scale(self):
        """The scale the forward pass uses now: `exp(log_scale)`, at most the maximum."""
        log_scale = ops.cast(self.log_scale, "float32")
        # where(), not minimum(): at the bound the gradient reaches the variable whole
        # (JAX and PyTorch split a minimum's gradient between tied arguments).
        log_scale = ops.where(log_scale > self._log_max_scale, self._log_max_scale, log_scale)
        return ops.exp(log_scale)

    def call(self, inputs):
        a, b = inputs
        a = _l2_normalize(_inputs.floats(a, "float32"))
        b = _l2_normalize(_inputs.floats(b, "float32"))
        if self.tiled:
            return self._packed(a, b)
        if self.across_replicas:
            if _inputs.dims_differ(a.shape[0], b.shape[0]):
                raise ValueError(
                    "With across_replicas=True both embedding batches must have the same "
                    f"size; received shapes {tuple(a.shape)} and {tuple(b.shape)}."
                )
            # This replica's rows against every replica's columns, both directions.
            similarities = ops.concatenate(
                [
                    ops.matmul(a, ops.transpose(_backend.all_gather(b))),
                    ops.matmul(b, ops.transpose(_backend.all_gather(a))),
                ],
                axis=1,
            )
        else:
            similarities = ops.matmul(a, ops.transpose(b))
        logits = self.scale * similarities
        if self.bias is not None:
            logits = logits + ops.cast(self.bias, "float32")
        return logits

    def _packed(self, a, b):
        """`[a, b, scale, bias]` side by side, `(n, 2 * d + 2)`: the tiled losses' input."""
        if _inputs.dims_differ(a.shape[0], b.shape[0]):
            raise ValueError(
                "With tiled=True both embedding batches must have the same size; "
                f"received shapes {tuple(a.shape)} and {tuple(b.shape)}."
            )
        column = ops.ones_like(a[:, :1])
        bias = 0.0 if self.bias is None else ops.cast(self.bias, "float32")
        return ops.concatenate([a, b, column * self.scale, column * bias], axis=1)

    def compute_output_shape(self, input_shape):
        a_shape, b_shape = input_shape
        if self.tiled:
            d = a_shape[-1]
            return (a_shape[0], None if d is None else 2 * d + 2)
        if self.across_replicas:
            return (a_shape[0], None)
        return (a_shape[0], b_shape[0])

    def compute_output_spec(self, inputs):
        shapes = [tuple(x.shape) for x in inputs]
        return keras.KerasTensor(self.compute_output_shape(shapes), dtype="float32")
