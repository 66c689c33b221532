"""Layers for Keras 3."""

from keras_losses.layers.hierarchical_softmax import HierarchicalSoftmax
