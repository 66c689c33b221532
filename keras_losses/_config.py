"""`get_config`, `from_config` and `__repr__` of every serializable object, written once.

The rule: `__init__` stores each argument, validated, under its own name, and the
config returns every `__init__` argument from there (merged into the config of the
Keras base class: a loss's `name` and `reduction`, a layer's `name`, `trainable` and
`dtype`, an optimizer's learning rate). So a new argument needs no config code, and a
config cannot miss one.

An argument whose config form is not its Python value goes through `serialize`:
Keras objects (initializers, regularizers, losses, dtype policies) become their
serialized dicts, a `Tree` its own config. A class that does not keep an argument
as an attribute of that name overrides the one hook, `_argument(name)` (a loss's
`dtype`, a layer's stored tree). `from_config` turns serialized Keras objects back
into objects and calls the Keras base's `from_config` (or the class).

`repr` shows the arguments that differ from their defaults, as the call that would
make the object: `Hinge(margin=0.5)`. Only those, because a default says nothing
about this object, and a config can be long (per-class weights, a tree). Layers keep
Keras's repr (`<Dense name=dense, built=True>`): a layer is also its weights.

Keras is imported only where a value is a Keras object, so that `trees` (NumPy only)
uses the same mechanism.
"""

import functools
import inspect
import sys

import numpy as np


@functools.lru_cache(maxsize=None)
def init_parameters(cls):
    """The named parameters of `cls.__init__` (no `self`, `*args`, `**kwargs`), in order."""
    return tuple(
        p
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    )


def init_arguments(cls):
    """The names of `cls.__init__`'s arguments, in order."""
    return tuple(p.name for p in init_parameters(cls))


def serialize(value):
    """An argument's config form: a `Tree` as its config, Keras objects (initializers,
    regularizers, constraints, losses, dtype policies, functions) serialized."""
    if isinstance(value, Configurable) and not _is_keras_object(value):
        return value.get_config()  # a Tree
    if _is_keras_object(value) or callable(value) and not isinstance(value, type):
        import keras

        return keras.saving.serialize_keras_object(value)
    return value


def deserialize(value):
    """A config value back as an object, where it is a serialized Keras object."""
    if isinstance(value, dict) and "class_name" in value and "config" in value:
        import keras

        return keras.saving.deserialize_keras_object(value)
    return value


def _is_keras_object(value):
    keras = sys.modules.get("keras")  # nothing made by Keras exists before it is imported
    if keras is None:
        return False
    keras_types = (
        keras.initializers.Initializer,
        keras.regularizers.Regularizer,
        keras.constraints.Constraint,
        keras.losses.Loss,
        keras.DTypePolicy,
    )
    return isinstance(value, keras_types)


class Configurable:
    """Mixin giving `get_config`, `from_config` and `__repr__` by the rule above.

    Put it first among the bases: `class L1(Configurable, keras.regularizers.Regularizer)`.
    """

    def _argument(self, name):
        """The value of `__init__` argument `name`: the attribute of that name."""
        return getattr(self, name)

    def get_config(self):
        base = getattr(super(), "get_config", None)
        # The Keras base's config, merged; a Regularizer's only raises, a Callback has none.
        config = {} if base is None or _is_regularizer(self) else base()
        for name in init_arguments(type(self)):
            if name not in config:
                config[name] = serialize(self._argument(name))
        return config

    @classmethod
    def from_config(cls, config):
        # the arguments of this class; the Keras base deserializes its own (a layer's dtype)
        arguments = init_arguments(cls)
        config = {key: deserialize(v) if key in arguments else v for key, v in config.items()}
        base = getattr(super(), "from_config", None)
        return base(config) if base is not None else cls(**config)

    def __repr__(self):
        if _is_layer(self):
            return super().__repr__()
        config = self.get_config()
        values = {}
        for name in init_arguments(type(self)):
            value = config.get(name)
            # a serialized object (a Tree, a loss, a dtype policy) shows as itself
            values[name] = self._argument(name) if isinstance(value, dict) else value
        return call_repr(self, values)


def call_repr(obj, values):
    """`Name(argument=value, ...)` for the `values` that differ from their defaults."""
    defaults = {p.name: p.default for p in init_parameters(type(obj))}
    shown = ", ".join(
        f"{name}={_shown(value)}"
        for name, value in values.items()
        if not _same(value, defaults.get(name, inspect.Parameter.empty))
    )
    return f"{type(obj).__name__}({shown})"


def _from_float32(value):
    """Whether `value` is a Python float read from a float32 (an optimizer's learning rate)."""
    return isinstance(value, float) and float(np.float32(value)) == value


def _shown(value):
    # a float32 shows as the shortest decimal that is that float32: 0.001, not 0.0010000000474974513
    return str(np.float32(value)) if _from_float32(value) else repr(value)


def _same(value, default):
    if default is inspect.Parameter.empty:
        return False
    if _from_float32(value) and isinstance(default, float):
        return np.float32(value) == np.float32(default)
    try:
        return bool(value == default)
    except ValueError:  # an array of several values
        return False


def _is_regularizer(obj):
    keras = sys.modules.get("keras")
    return keras is not None and isinstance(obj, keras.regularizers.Regularizer)


def _is_layer(obj):
    keras = sys.modules.get("keras")
    return keras is not None and isinstance(obj, keras.layers.Layer)
