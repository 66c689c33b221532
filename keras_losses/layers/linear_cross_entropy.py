"""The output layer of an exact softmax over a large vocabulary, trained without logits.

`LinearCrossEntropyHead(V)` is a `Dense(V)` whose training path never builds the
`(N, V)` logits: given the labels too, it returns the three logit statistics that
`keras_losses.losses.LinearCrossEntropyLoss` turns into the exact softmax
cross-entropy (see `keras_losses.losses.linear_cross_entropy`).
"""

import keras
from keras import ops

from keras_losses import _config
from keras_losses import _inputs
from keras_losses import _validation
from keras_losses.losses import linear as lce


@keras.saving.register_keras_serializable(package="keras_losses")
class LinearCrossEntropyHead(_config.Configurable, keras.layers.Layer):
    """A `Dense(units)` output layer whose training path never builds the logits.

    `layer(hidden)` gives the logits `(..., units)` in float32, as `Dense(units)`
    does: for prediction, on batches small enough to hold them.

    `layer([hidden, labels])` is the training path. It returns the logit statistics
    `(..., 3)` of each example (`logsumexp`, the label's logit, the mean logit),
    computed over chunks of `chunk_size` classes with a backward pass that
    recomputes each chunk, so no tensor of `N * units` elements is built. Train it
    with `keras_losses.losses.LinearCrossEntropyLoss`, which gives exactly the
    values and gradients of `SparseCategoricalCrossentropy(from_logits=True)` on the
    logits. The labels go into the training model as an input (and again as its
    target); an inference model shares the layer, as with `HierarchicalSoftmax`.
    The Keras mask of `hidden` (padding) is passed on to the statistics, so the
    loss leaves padded positions out.

    `top_k(hidden, k)` gives the `k` most likely classes and their
    log-probabilities, chunk by chunk as well.

    The layer computes in float32 even when its inputs are 16-bit (a mixed-precision
    policy), as Keras advises for a model's last layer; its kernel stays float32.

    Args:
        units: the number of classes `V`.
        use_bias: whether each class has a bias.
        chunk_size: classes per chunk, `None` for 4096 (fewer if `units` is smaller).
        kernel_initializer: initializer of the `(d, units)` kernel.
        bias_initializer: initializer of the `(units,)` bias.
        kernel_regularizer: optional regularizer of the kernel.

    Example:

    >>> import keras, numpy as np
    >>> from keras_losses.losses import LinearCrossEntropyLoss
    >>> head = LinearCrossEntropyHead(5000, chunk_size=1024)
    >>> features = keras.Input((16,))
    >>> labels = keras.Input((), dtype="int32")
    >>> hidden = keras.layers.Dense(32, activation="relu")(features)
    >>> training = keras.Model([features, labels], head([hidden, labels]))
    >>> training.compile("adam", LinearCrossEntropyLoss(label_smoothing=0.1))
    >>> inference = keras.Model(features, hidden)   # shares the Dense weights
    >>> x = np.random.default_rng(0).normal(size=(4, 16)).astype("float32")
    >>> log_p, classes = head.top_k(inference(x), k=3)
    >>> tuple(log_p.shape), tuple(classes.shape)
    ((4, 3), (4, 3))

    References:
        Wijmans et al., 2025, "Cut Your Losses in Large-Vocabulary Language Models",
        https://arxiv.org/abs/2411.09009.
    """

    def __init__(
        self,
        units,
        use_bias=True,
        chunk_size=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = _validation.integer("units", units, minimum=1)
        self.use_bias = _validation.boolean("use_bias", use_bias)
        self.chunk_size = lce.check_chunk_size(chunk_size)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.supports_masking = True

    def build(self, input_shape):
        hidden_shape = input_shape[0] if _is_pair(input_shape) else input_shape
        if len(hidden_shape) < 1 or hidden_shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__} expects `hidden` of shape (..., d) with d known. "
                f"Received shape {tuple(hidden_shape)}."
            )
        self.kernel = self.add_weight(
            shape=(hidden_shape[-1], self.units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            autocast=False,  # cast chunk by chunk, never the whole kernel
            name="kernel",
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.units,), initializer=self.bias_initializer, autocast=False, name="bias"
            )

    def _hidden(self, hidden):
        """`hidden` as float (32-bit for 16-bit inputs), checked against the kernel."""
        hidden = _inputs.floats(hidden)
        if not self.built:
            self.build(tuple(hidden.shape))
        lce.kernel_shape(hidden, self.kernel, self.bias)
        return hidden

    def call(self, inputs, mask=None):
        if _is_pair(inputs):
            hidden, labels = inputs
            hidden = self._hidden(hidden)
            return lce.logit_statistics(hidden, self.kernel, labels, self.bias, self.chunk_size)
        hidden = self._hidden(inputs)
        logits = ops.matmul(hidden, ops.cast(self.kernel, hidden.dtype))
        if self.bias is not None:
            logits = logits + ops.cast(self.bias, hidden.dtype)
        return logits

    def compute_mask(self, inputs, mask=None):
        if _is_pair(inputs):
            return None if mask is None else mask[0]
        return mask

    def compute_output_shape(self, input_shape):
        if _is_pair(input_shape):
            return tuple(input_shape[0][:-1]) + (len(lce.STATISTICS),)
        return tuple(input_shape[:-1]) + (self.units,)

    def top_k(self, hidden, k):
        """The `k` most likely classes: `(log_probs, classes)`, each `(..., k)`.

        Sorted from the most likely, as `keras.ops.top_k` returns them. Computed over
        chunks of classes (a running top `k` and an online log-sum-exp), so like the
        training path it never holds more than `(N, chunk_size)` logits.

        Args:
            hidden: float `(..., d)`.
            k: int in `[1, units]`.
        """
        k = _validation.integer("k", k, minimum=1)
        if k > self.units:
            raise _validation.invalid("k", f"an integer in [1, {self.units}]", k)
        hidden = self._hidden(hidden)
        units = hidden.shape[-1]
        shape = list(ops.shape(hidden)[:-1])
        flat = ops.reshape(hidden, (-1, units))
        chunk_size = max(self.chunk_size or lce.DEFAULT_CHUNK_SIZE, k)
        chunks = lce._Chunks(self.units, chunk_size, False, hidden.dtype)
        kernel = ops.convert_to_tensor(self.kernel)
        bias = None if self.bias is None else ops.convert_to_tensor(self.bias)

        def step(start, width, carry):
            best, classes, top, total = carry
            logits, _ = chunks.logits(flat, kernel, bias, start, width)
            scores, found = ops.top_k(logits, min(k, width))
            scores = ops.concatenate([best, scores], axis=-1)
            found = ops.concatenate([classes, ops.cast(found, "int32") + start], axis=-1)
            best, order = ops.top_k(scores, k)
            classes = ops.take_along_axis(found, order, axis=-1)
            new_top = ops.maximum(top, best[:, 0])
            # Online log-sum-exp, as in the loss.
            total = total * ops.exp(top - new_top) + ops.sum(
                ops.exp(logits - ops.expand_dims(new_top, -1)), axis=-1
            )
            return best, classes, new_top, total

        zeros = ops.zeros_like(flat[:, 0])
        empty = ops.tile(ops.expand_dims(zeros, -1), [1, k])  # (N, k)
        start = (empty - float("inf"), ops.cast(empty, "int32"), zeros - float("inf"), zeros)
        best, classes, top, total = chunks.scan(step, start)
        log_probs = best - ops.expand_dims(top + ops.log(total), -1)
        return ops.reshape(log_probs, shape + [k]), ops.reshape(classes, shape + [k])


def _is_pair(inputs):
    return isinstance(inputs, (list, tuple)) and len(inputs) == 2 and not isinstance(
        inputs[0], (int, type(None))
    )
