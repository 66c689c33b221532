"""Layers that hold the state of a loss: learned temperatures, node weights."""

from keras_losses.layers.contrastive_logits import ContrastiveLogits
from keras_losses.layers.hierarchical_softmax import HierarchicalSoftmax
from keras_losses.layers.crf import CRF
from keras_losses.layers.linear_cross_entropy import LinearCrossEntropyHead
