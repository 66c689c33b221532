"""Attaching regularizers to the layers of a model that is already built.

In Keras 3 a weight penalty lives on the variable (`variable.regularizer`), set when
the layer creates its weights from its `kernel_regularizer` argument, and it is
saved from that argument in the layer's config. Setting `layer.kernel_regularizer`
on a built layer therefore changes neither the loss nor the saved model, and
`Model.add_loss` is not available on functional models. `apply` rebuilds the model
from its layers' configs with the regularizers written in, and copies every weight
across: the result trains with the penalties and saves them in its `.keras` file.
"""

import warnings

import keras

from keras_losses import _backend
from keras_losses import _validation

# The config entry that holds each kind of weight's regularizer.
_KERNEL_KEYS = ("kernel_regularizer", "embeddings_regularizer")
_BIAS_KEYS = ("bias_regularizer",)


def apply(model, kernel=None, bias=None, layer_types=None):
    """Returns a copy of a built model with weight penalties on its layers.

    Every layer that takes a `kernel_regularizer` (Dense, EinsumDense, the
    convolutions, the recurrent layers, MultiHeadAttention, ...) gets `kernel` on
    its main weight, and `Embedding` gets it on its embeddings; with `bias` given,
    every layer that takes a `bias_regularizer` gets it on its bias. Biases are
    left alone by default: a bias does not multiply an input, so shrinking it does
    not make the model smoother, and penalizing it can only cost fit (CS231n
    advises the same). A regularizer given here replaces one the layer already
    had; with `kernel=None` (or `bias=None`) those weights keep whatever they had.

    The copy has the original's weights (its predictions are identical), its
    layer names and structure, nested Functional and Sequential models included
    (layers inside `TimeDistributed` and `Bidirectional` too), and is compiled as
    the original was, from its compile config, with a fresh optimizer state. The
    penalties show in `model.losses`, are added to the loss of `fit` and
    `evaluate`, and are saved in the layers' configs, so a `.keras` file keeps
    them. The original model is not changed.

    Subclassed models (a `keras.Model` subclass with its own `call`) create their
    layers in their own `__init__`, which this function cannot rebuild: they raise
    `ValueError`; pass `kernel_regularizer=` to their layers there. A custom layer
    that builds Dense layers internally without taking a `kernel_regularizer`
    itself cannot be reached either: it is copied as it is, with a warning.

    Args:
        model: a built Functional or Sequential `keras.Model`.
        kernel: a `keras.regularizers.Regularizer` (ours or Keras's, or its
            serialized dict) for the kernels and embeddings, or `None`.
        bias: a regularizer for the biases, or `None` (the default).
        layer_types: a layer class or tuple of layer classes; only layers of
            these types are regularized (`None`: every layer that qualifies).

    Returns:
        A new `keras.Model` of the same kind.

    Raises:
        ValueError: `model` is not a Keras model, or is a subclassed model;
            neither `kernel` nor `bias` is given; a regularizer or `layer_types`
            is not valid.

    Example:

    >>> import keras, numpy as np
    >>> from keras_losses.regularizers import L2, apply
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, kernel_initializer="ones")])
    >>> regularized = apply(model, kernel=L2(0.1))
    >>> print(f"{float(sum(regularized.losses)):.2f}")  # 0.1 * six weights of 1
    0.60
    >>> bool(np.all(regularized.predict(np.ones((1, 3)), verbose=0) == 3.0))
    True
    """
    if not isinstance(model, keras.Model):
        raise ValueError(
            "`apply` takes a Keras model (a keras.Model: Functional or Sequential). "
            f"Received: model of type {type(model).__name__}"
        )
    _check_graph_model(model, "model")
    kernel = _regularizer("kernel", kernel)
    bias = _regularizer("bias", bias)
    if kernel is None and bias is None:
        raise ValueError(
            "`apply` needs a regularizer to attach: pass `kernel=` (for kernels and "
            "embeddings) and/or `bias=`. Received: kernel=None, bias=None"
        )
    layer_types = _check_layer_types(layer_types)
    rebuild = _Rebuild(kernel, bias, layer_types)
    regularized = rebuild.model(model)
    rebuild.copy_weights()
    return regularized


def _check_graph_model(model, where):
    if not _backend.is_graph_model(model):
        raise ValueError(
            f"`apply` cannot rebuild {where} {model.name!r}: it is a subclassed model "
            f"({type(model).__name__}), whose layers are created in its own `__init__`. "
            "Pass `kernel_regularizer=` (and `bias_regularizer=`) to those layers "
            "there, or build the model with the functional or Sequential API."
        )


def _regularizer(name, value):
    if value is None:
        return None
    if isinstance(value, dict):
        value = keras.regularizers.deserialize(value)
    if not isinstance(value, keras.regularizers.Regularizer):
        raise _validation.invalid(
            name,
            "a keras.regularizers.Regularizer instance (such as "
            "keras_losses.regularizers.L2(1e-4)), its serialized dict, or None",
            value,
        )
    return value


def _check_layer_types(layer_types):
    if layer_types is None:
        return None
    if isinstance(layer_types, type):
        layer_types = (layer_types,)
    if (
        not isinstance(layer_types, (tuple, list))
        or not layer_types
        or not all(isinstance(t, type) and issubclass(t, keras.layers.Layer) for t in layer_types)
    ):
        raise _validation.invalid(
            "layer_types", "a keras.layers.Layer subclass or a non-empty tuple of them", layer_types
        )
    return tuple(layer_types)


class _Rebuild:
    """Clones a model layer by layer with the regularizers in the configs."""

    def __init__(self, kernel, bias, layer_types):
        self.entries = {}
        if kernel is not None:
            self.entries.update({key: kernel for key in _KERNEL_KEYS})
        if bias is not None:
            self.entries.update({key: bias for key in _BIAS_KEYS})
        self.layer_types = layer_types
        self.clones = {}  # id(original layer) -> its clone; a shared layer is cloned once
        self.pairs = []  # (original, clone) of every layer that is not a model

    def model(self, model):
        inputs = None
        if not isinstance(model, keras.Sequential):  # keep the inputs' names (Sequential does)
            inputs = keras.tree.map_structure(_new_input, model.input)
        clone = keras.models.clone_model(model, input_tensors=inputs, clone_function=self.layer)
        if not model.trainable:  # a frozen (nested) model stays frozen
            clone.trainable = False
        return clone

    def layer(self, layer):
        if id(layer) in self.clones:
            return self.clones[id(layer)]
        if isinstance(layer, keras.Model):
            _check_graph_model(layer, "the nested model")
            clone = self.model(layer)
        else:
            config = self.config(layer, layer.get_config())
            clone = layer.__class__.from_config(config)
            self.pairs.append((layer, clone))
        self.clones[id(layer)] = clone
        return clone

    def matches(self, layer):
        return self.layer_types is None or isinstance(layer, self.layer_types)

    def config(self, layer, config):
        """`layer`'s config with the regularizers written in (wrapped layers too)."""
        config = dict(config)
        reached = False
        if self.matches(layer):
            for key, regularizer in self.entries.items():
                if key in config:
                    config[key] = keras.regularizers.serialize(regularizer)
                    reached = reached or key in _KERNEL_KEYS
        for key, inner in _wrapped(layer):
            if isinstance(config.get(key), dict) and "config" in config[key]:
                config[key] = {**config[key], "config": self.config(inner, config[key]["config"])}
                reached = True
        if not reached and self.matches(layer) and any(k in _KERNEL_KEYS for k in self.entries):
            self.warn_if_unreachable(layer)
        return config

    def warn_if_unreachable(self, layer):
        hidden = []
        for sublayer in _backend.sublayers(layer):
            try:
                config = sublayer.get_config()
            except Exception:  # a layer without a config cannot be rebuilt anyway
                continue
            if any(key in config for key in _KERNEL_KEYS):
                hidden.append(f"{sublayer.name} ({type(sublayer).__name__})")
        if hidden:
            warnings.warn(
                f"keras_losses.regularizers.apply: layer {layer.name!r} "
                f"({type(layer).__name__}) holds layers with kernels ({', '.join(hidden)}) "
                "but takes no `kernel_regularizer` itself, so they are copied without "
                "the penalty. Give the layer a `kernel_regularizer` argument that it "
                "passes on, to regularize them.",
                stacklevel=4,
            )

    def copy_weights(self):
        for original, clone in self.pairs:
            if not original.weights:
                continue
            if len(clone.weights) != len(original.weights):
                raise ValueError(
                    f"`apply` could not copy the weights of layer {original.name!r}: the "
                    f"rebuilt layer has {len(clone.weights)} weights, the original "
                    f"{len(original.weights)}. Build the model (call it on data or "
                    "start it with keras.Input) before applying regularizers."
                )
            clone.set_weights(original.get_weights())


def _new_input(tensor):
    """A new `keras.Input` like the one that made `tensor`, under the same name."""
    layer = _backend.input_layer(tensor)
    return keras.Input(
        batch_shape=tensor.shape,
        dtype=tensor.dtype,
        sparse=tensor.sparse,
        name=layer.name,
        optional=getattr(layer, "optional", False),
    )


def _wrapped(layer):
    """(config key, layer) of the layers a wrapper holds in its config."""
    if isinstance(layer, keras.layers.Bidirectional):
        return [("layer", layer.forward_layer), ("backward_layer", layer.backward_layer)]
    if isinstance(layer, keras.layers.Wrapper):
        return [("layer", layer.layer)]
    return []
