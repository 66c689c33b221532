"""Optimizers for tables of which a step reads a few rows: hierarchical softmax kernels, embeddings."""

from keras_losses.optimizers.lazy_adam import LazyAdam
from keras_losses.optimizers.sparse_updates import sparse_updates
