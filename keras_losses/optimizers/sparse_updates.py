"""`sparse_updates(model)`: row-sparse training steps on JAX and PyTorch as on TensorFlow."""

import keras

from keras_losses import _backend


def sparse_updates(model):
    """Makes `model.fit` update only the rows of a table that a step read.

    The hierarchical softmax's fast path (`HierarchicalSoftmax(tree)([hidden, labels])`)
    reads about `batch * depth` rows of its `(num_nodes, d)` kernel per step. On
    TensorFlow their gradient is a `tf.IndexedSlices` and Keras's trainer hands it to
    the optimizer as it is, so the step costs `O(batch * depth * d)` whatever `V`. On
    JAX and PyTorch Keras's trainers differentiate with respect to whole variables:
    the gradient is a dense `(num_nodes, d)` array and the step costs `O(V * d)`.
    `sparse_updates(model)` replaces the model's train step on those backends so that
    the rows read through the layer's gather get a row-sparse gradient (JAX: the
    gradient with respect to the gathered block, with its row ids; PyTorch: a sparse
    COO gradient), which the optimizer applies to those rows only.

    It changes the update only with an optimizer that applies row-sparse gradients:
    `keras_losses.optimizers.LazyAdam`, and `keras.optimizers.SGD` without momentum,
    weight decay or clipping (a scatter-add of `-learning_rate * gradient`, exactly
    what SGD does to a dense gradient that is zero elsewhere). With any other
    optimizer (Adam, SGD with momentum, `LossScaleOptimizer`, gradient accumulation)
    the step is Keras's own, dense and correct. A table with a regularizer stays
    dense too: the penalty reads every row. On TensorFlow it does nothing (the step
    is row-sparse already). It returns the model, so it can wrap its construction.

    Call it once per model object, before `fit`; a model loaded from a file needs it
    again (the train step is not saved). A table read through the fast path must not
    also be read whole in the same step (weight tying): on JAX that other gradient
    would be lost, so tie weights only with the dense step.

    Args:
        model: a `keras.Model` (functional, sequential or subclassed).

    Returns:
        `model`.

    Example:

    >>> import keras, numpy as np
    >>> import keras_losses
    >>> tree = keras_losses.Tree.balanced(1000)
    >>> hidden = keras.Input((16,))
    >>> labels = keras.Input((), dtype="int32")
    >>> outputs = keras_losses.HierarchicalSoftmax(tree)([hidden, labels])
    >>> model = keras_losses.optimizers.sparse_updates(keras.Model([hidden, labels], outputs))
    >>> model.compile(keras_losses.optimizers.LazyAdam(1e-3),
    ...               keras_losses.HierarchicalSoftmaxLoss(from_path_logits=True))
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(size=(64, 16)).astype("float32"), rng.integers(0, 1000, 64)
    >>> history = model.fit([x, y], y, batch_size=32, verbose=0)
    >>> len(history.history["loss"])
    1
    """
    if not isinstance(model, keras.Model):
        raise ValueError(
            "`sparse_updates` expects a `keras.Model`. "
            f"Received: model={model!r} of type {type(model).__name__}"
        )
    _backend.install_sparse_train_step(model)
    return model
