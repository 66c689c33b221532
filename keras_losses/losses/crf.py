"""Sequence losses of a linear-chain CRF: negative log-likelihood and structured hinge.

Both take `y_true`, the gold tags `(batch, T)`, and `y_pred`, the potentials that
`keras_losses.layers.CRF` returns in a training model: one tensor
`(batch, T + K + 2, K + 1)` holding the emissions, the layer's own transition
weights and the Keras mask of its input (layout in `keras_losses.crf.pack`). That is
how a loss compiled with `model.compile(loss=...)` reaches the weights of a layer,
which Keras never hands to a loss, and how the mask reaches it, which Keras would
otherwise apply to the per-sequence values with the wrong shape. Each returns one
value per sequence, so `sample_weight` is `(batch,)` and weighs whole sequences.
"""

import keras
from keras import ops

from keras_losses import _validation
from keras_losses import crf
from keras_losses.losses.base import Loss


def _unpacked(y_true, y_pred):
    emissions, transitions, start, end, mask = crf.unpack(y_pred)
    tags = ops.convert_to_tensor(y_true)
    if len(tags.shape) == 3 and tags.shape[-1] == 1:
        tags = ops.squeeze(tags, -1)
    return emissions, tags, transitions, {"start_transitions": start, "end_transitions": end, "mask": mask}


@keras.saving.register_keras_serializable(package="keras_losses")
def crf_loss(y_true, y_pred):
    """Negative log-likelihood of the gold tags under the CRF of `y_pred`.

        loss = log Z - score(y_true)      (see `keras_losses.crf.log_likelihood`)

    Args:
        y_true: integer tags `(batch, T)` (or `(batch, T, 1)`); any value at masked
            steps (-1 included).
        y_pred: the potentials of `keras_losses.layers.CRF`, `(batch, T + K + 2, K + 1)`.

    Returns:
        Float `(batch,)`, non-negative; 0 for a sequence with no real step.

    Example:

    >>> import numpy as np
    >>> from keras_losses import crf
    >>> potentials = crf.pack(np.zeros((1, 3, 2)), np.zeros((2, 2)), np.zeros(2), np.zeros(2), None)
    >>> print(f"{float(crf_loss(np.array([[0, 1, 1]]), potentials)[0]):.4f}")  # log(2**3)
    2.0794
    """
    emissions, tags, transitions, keywords = _unpacked(y_true, y_pred)
    return -crf.log_likelihood(emissions, tags, transitions, **keywords)


def _check_cost(cost):
    return _validation.non_negative_float("cost", cost)


@keras.saving.register_keras_serializable(package="keras_losses")
def structured_hinge_loss(y_true, y_pred, *, cost=1.0):
    """Structured SVM loss of the gold tags under the potentials of `y_pred`.

        loss = max over y' of [score(y') + cost * hamming(y_true, y')] - score(y_true)

    (see `keras_losses.crf.structured_hinge`).

    Args:
        y_true: integer tags `(batch, T)`; any value at masked steps.
        y_pred: the potentials of `keras_losses.layers.CRF`.
        cost: non-negative float, the margin per wrong tag.

    Returns:
        Float `(batch,)`, non-negative.

    Example:

    >>> import numpy as np
    >>> from keras_losses import crf
    >>> emissions = np.array([[[3.0, 0.0], [0.0, 0.5]]])
    >>> potentials = crf.pack(emissions, np.zeros((2, 2)), np.zeros(2), np.zeros(2), None)
    >>> print(f"{float(structured_hinge_loss(np.array([[0, 1]]), potentials)[0]):.2f}")
    0.50
    """
    cost = _check_cost(cost)
    emissions, tags, transitions, keywords = _unpacked(y_true, y_pred)
    return crf.structured_hinge(emissions, tags, transitions, cost=cost, **keywords)


class _SequenceLoss(Loss):
    sparse_labels = True  # tags are class ids: a 16-bit loss dtype must hold them exactly
    per_example = True


@keras.saving.register_keras_serializable(package="keras_losses")
class CRFLoss(_SequenceLoss):
    """Negative log-likelihood of a linear-chain CRF; see `crf_loss`.

    Train with the potentials of `keras_losses.layers.CRF` (which holds the
    transition weights) as the model output, and decode with the same layer in an
    inference model:

    Example:

    >>> import keras, numpy as np
    >>> from keras_losses.layers import CRF
    >>> tokens = keras.Input((None,), dtype="int32")
    >>> hidden = keras.layers.Embedding(100, 16, mask_zero=True)(tokens)  # 0 pads
    >>> emissions = keras.layers.Dense(5)(hidden)
    >>> crf_layer = CRF(5)
    >>> training = keras.Model(tokens, crf_layer(emissions))  # potentials
    >>> training.compile(optimizer="adam", loss=CRFLoss())
    >>> tagger = keras.Model(tokens, crf_layer(emissions, decode=True))  # Viterbi tags
    >>> x = np.array([[5, 6, 7, 0], [8, 9, 0, 0]])
    >>> y = np.array([[1, 2, 3, 0], [4, 4, 0, 0]])
    >>> _ = training.fit(x, y, epochs=1, verbose=0)
    >>> tagger.predict(x, verbose=0).shape
    (2, 4)

    References:
        Lafferty, McCallum and Pereira, 2001, "Conditional Random Fields:
        Probabilistic Models for Segmenting and Labeling Sequence Data".
    """

    function = staticmethod(crf_loss)

    def __init__(self, reduction="sum_over_batch_size", name="crf_loss", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


@keras.saving.register_keras_serializable(package="keras_losses")
class StructuredHingeLoss(_SequenceLoss):
    """Margin-rescaled structured SVM loss of a linear-chain model; see `structured_hinge_loss`.

    Used like `CRFLoss`, with the potentials of `keras_losses.layers.CRF`. Where the
    CRF loss pushes up the probability of the gold sequence against all others, this
    one only asks that the gold sequence beat every other by `cost` per wrong tag,
    and is 0 (no gradient) once it does.

    Args:
        cost: non-negative float, the margin per wrong tag. 0 gives the structured
            perceptron.

    Example:

    >>> loss = StructuredHingeLoss(cost=0.5)
    >>> loss.cost
    0.5

    References:
        Taskar, Guestrin and Koller, 2003, "Max-Margin Markov Networks".
        Tsochantaridis, Joachims, Hofmann and Altun, 2005, "Large Margin Methods for
        Structured and Interdependent Output Variables".
    """

    function = staticmethod(structured_hinge_loss)

    def __init__(self, cost=1.0, reduction="sum_over_batch_size", name="structured_hinge_loss", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.cost = _check_cost(cost)
