"""Layers that hold the state of a loss: learned temperatures, node weights.

Every layer imported below is in `__all__`, which `keras_losses` re-exports.
"""

from keras_losses.layers.contrastive_logits import ContrastiveLogits
from keras_losses.layers.hierarchical_softmax import HierarchicalSoftmax
from keras_losses.layers.crf import CRF
from keras_losses.layers.linear_cross_entropy import LinearCrossEntropyHead

__all__ = sorted(name for name, value in globals().items() if isinstance(value, type))
