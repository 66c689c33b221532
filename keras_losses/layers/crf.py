"""The output layer of a linear-chain CRF tagger: it owns the transition weights."""

import keras
from keras import ops

from keras_losses import _backend
from keras_losses import _config
from keras_losses import _inputs
from keras_losses import _validation
from keras_losses import crf


@keras.saving.register_keras_serializable(package="keras_losses")
class CRF(_config.Configurable, keras.layers.Layer):
    """A linear-chain CRF on top of per-step tag scores (emissions).

    The layer holds the transition scores `transitions[i, j]` (tag `i` followed by
    tag `j`) and, with `use_boundary_transitions=True` (the default), the scores of
    starting and ending a sequence in each tag. It is called on the emissions
    `(batch, T, num_tags)` of the layers below (e.g. a `Dense(num_tags)` after a
    recurrent or convolutional encoder), with their Keras mask if they have one
    (`Embedding(mask_zero=True)`: variable-length sequences):

    * `crf(emissions)` returns the **potentials** for training: one float32 tensor
      `(batch, T + num_tags + 2, num_tags + 1)` that packs the emissions, this
      layer's transition weights and the mask (layout in `keras_losses.crf.pack`).
      Compile the model with `keras_losses.CRFLoss()` or
      `keras_losses.StructuredHingeLoss()`: they unpack it, so the loss trains the
      transitions too, and `model.fit`, `evaluate` (validation loss included),
      `sample_weight` and saving work as for any Keras loss.
    * `crf(emissions, decode=True)` returns the **Viterbi tags** `(batch, T)` int32,
      -1 at masked steps: the output of an inference model that shares the layers
      of the training model (so `predict` gives tags).
    * `crf.decode(emissions, mask=None)` gives `(tags, scores)` and
      `crf.marginals(emissions, mask=None)` the posterior tag probabilities
      `(batch, T, num_tags)`, eagerly, outside a model.

    Emissions in float16 or bfloat16 (mixed precision) are computed in float32; the
    transition weights stay float32.

    Args:
        num_tags: int >= 2.
        use_boundary_transitions: whether to learn start and end transitions.
        transitions_initializer: initializer of the `(num_tags, num_tags)`
            transitions (and of the boundary ones). Zeros (the default) start the
            CRF as per-step softmax classifiers.
        transitions_regularizer: optional regularizer of the transitions.
        **kwargs: `name`, `dtype`, ... of `keras.layers.Layer`.

    Example:

    >>> import keras, numpy as np
    >>> tokens = keras.Input((None,), dtype="int32")
    >>> hidden = keras.layers.Embedding(50, 8, mask_zero=True)(tokens)
    >>> emissions = keras.layers.Dense(3)(hidden)
    >>> crf = CRF(3)
    >>> training = keras.Model(tokens, crf(emissions))
    >>> tagger = keras.Model(tokens, crf(emissions, decode=True))
    >>> int(tagger.predict(np.array([[4, 5, 0]]), verbose=0)[0, 2])  # padding
    -1

    References:
        Lafferty, McCallum and Pereira, 2001, "Conditional Random Fields:
        Probabilistic Models for Segmenting and Labeling Sequence Data".
    """

    def __init__(
        self,
        num_tags,
        use_boundary_transitions=True,
        transitions_initializer="zeros",
        transitions_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_tags = _validation.integer("num_tags", num_tags, minimum=2)
        self.use_boundary_transitions = _validation.boolean(
            "use_boundary_transitions", use_boundary_transitions
        )
        self.transitions_initializer = keras.initializers.get(transitions_initializer)
        self.transitions_regularizer = keras.regularizers.get(transitions_regularizer)
        self.supports_masking = True

    def build(self, input_shape):
        self._check_emissions_shape(input_shape)
        self.transitions = self.add_weight(
            shape=(self.num_tags, self.num_tags),
            initializer=self.transitions_initializer,
            regularizer=self.transitions_regularizer,
            autocast=False,  # the recursions run in float32 under mixed precision too
            name="transitions",
        )
        self.start_transitions = self.end_transitions = None
        if self.use_boundary_transitions:
            self.start_transitions = self.add_weight(
                shape=(self.num_tags,), initializer=self.transitions_initializer,
                autocast=False, name="start_transitions",
            )
            self.end_transitions = self.add_weight(
                shape=(self.num_tags,), initializer=self.transitions_initializer,
                autocast=False, name="end_transitions",
            )

    def _check_emissions_shape(self, shape):
        shape = tuple(shape)
        if len(shape) != 3 or shape[-1] != self.num_tags:
            raise _validation.invalid_shape(
                "emissions", f"shape (batch, T, {self.num_tags}) for a CRF of num_tags={self.num_tags}", shape
            )

    def _chain_weights(self, dtype):
        def value(variable):
            if variable is None:
                return ops.zeros((self.num_tags,), dtype)
            return ops.cast(variable, dtype)

        return value(self.transitions), value(self.start_transitions), value(self.end_transitions)

    def _emissions(self, emissions, mask):
        if mask is None:
            mask = _backend.get_mask(emissions)
        emissions = _inputs.floats(emissions)
        if not self.built:
            self.build(tuple(emissions.shape))
        self._check_emissions_shape(emissions.shape)
        return emissions, mask

    # -- forward -------------------------------------------------------------------

    def call(self, emissions, mask=None, decode=False):
        if decode:
            tags, _ = self.decode(emissions, mask=mask)
            return tags
        emissions, mask = self._emissions(emissions, mask)
        transitions, start, end = self._chain_weights(emissions.dtype)
        return crf.pack(emissions, transitions, start, end, mask)

    def compute_mask(self, inputs, mask=None, decode=False):
        # The potentials carry the mask inside; the decoded tags are aligned with it.
        return mask if decode else None

    def compute_output_shape(self, input_shape, decode=False):
        batch, steps = input_shape[0], input_shape[1]
        if decode:
            return (batch, steps)
        rows = None if steps is None else steps + self.num_tags + 2
        return (batch, rows, self.num_tags + 1)

    def compute_output_spec(self, emissions, mask=None, decode=False, **kwargs):
        shape = self.compute_output_shape(tuple(emissions.shape), decode=decode)
        if decode:
            return keras.KerasTensor(shape, dtype="int32")
        dtype = _inputs.compute_dtype(emissions)
        return keras.KerasTensor(shape, dtype=dtype)

    # -- inference -----------------------------------------------------------------

    def decode(self, emissions, mask=None):
        """The Viterbi tags and their scores: `(tags (batch, T) int32, scores (batch,))`.

        Tags are -1 at masked steps. `mask`: `(batch, T)`, default the Keras mask of
        `emissions` (if any), else every step is real.
        """
        emissions, mask = self._emissions(emissions, mask)
        transitions, start, end = self._chain_weights(emissions.dtype)
        return crf.viterbi_decode(
            emissions, transitions, start_transitions=start, end_transitions=end, mask=mask
        )

    def marginals(self, emissions, mask=None):
        """Posterior tag probabilities `(batch, T, num_tags)`, 0 at masked steps."""
        emissions, mask = self._emissions(emissions, mask)
        transitions, start, end = self._chain_weights(emissions.dtype)
        return crf.marginals(
            emissions, transitions, start_transitions=start, end_transitions=end, mask=mask
        )
