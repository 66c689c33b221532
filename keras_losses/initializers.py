"""Initializers: `PriorProbability`, the bias start of a focal-loss classifier."""

import math

import keras
from keras import ops

from keras_losses import _config
from keras_losses import _validation


@keras.saving.register_keras_serializable(package="keras_losses")
class PriorProbability(_config.Configurable, keras.initializers.Initializer):
    """Bias initializer that starts a sigmoid output at `probability`.

    Fills the bias with `-log((1 - probability) / probability)`, the logit of
    `probability`. RetinaNet starts its classification head this way (with 0.01),
    so that at the first step the many background anchors do not swamp the loss
    with large, confident errors.

    Args:
        probability: float in (0, 1), the starting output of `sigmoid`. Default 0.01.

    Example:

    >>> import keras
    >>> layer = keras.layers.Dense(1, bias_initializer=PriorProbability(0.01))
    >>> layer.build((None, 4))
    >>> print(f"{float(layer.bias[0]):.4f}")  # -log(0.99 / 0.01)
    -4.5951

    References:
        Lin, Goyal, Girshick, He and Dollar, 2017, "Focal Loss for Dense Object
        Detection", section 4.1, https://arxiv.org/abs/1708.02002
    """

    def __init__(self, probability=0.01):
        self.probability = _validation.unit_interval(
            "probability", probability, open_low=True, open_high=True
        )

    @property
    def value(self):
        """The bias value, `-log((1 - probability) / probability)`."""
        return -math.log((1.0 - self.probability) / self.probability)

    def __call__(self, shape, dtype=None):
        dtype = keras.backend.standardize_dtype(dtype)
        return ops.full(shape, self.value, dtype=dtype)
