"""The one config/repr mechanism (`keras_losses._config`) and the thin loss class pattern.

Every expectation here is written out by hand: none is rebuilt from the signatures
that `_config` introspects.
"""

import keras
import numpy as np
import pytest

from keras_losses import _config
from keras_losses.losses.base import Loss
from keras_losses.trees import Tree


class Box(_config.Configurable):
    def __init__(self, size=1.0, label="box", init=None, tree=None, **kwargs):
        self.size = size
        self.label = label
        self.init = keras.initializers.get(init) if init is not None else None
        self.tree = tree


class Penalty(_config.Configurable, keras.regularizers.Regularizer):
    def __init__(self, strength=0.5):
        self.strength = strength

    def __call__(self, x):
        return self.strength * keras.ops.sum(x)


def scaled_error(y_true, y_pred, *, scale=1.0):
    return scale * keras.ops.mean(keras.ops.abs(y_true - y_pred), axis=-1)


class Scaled(Loss):
    function = staticmethod(scaled_error)

    def __init__(self, scale=1.0, reduction="sum_over_batch_size", name="scaled", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.scale = scale


class TestConfig:
    def test_every_init_argument_from_its_attribute(self):
        config = Box(size=2.0, init="ones", tree=Tree.balanced(4), extra=1).get_config()
        assert config == {
            "size": 2.0,
            "label": "box",
            "init": {"module": "keras.initializers", "class_name": "Ones", "config": {}, "registered_name": None},
            "tree": {"kind": "balanced", "num_classes": 4, "class_counts": None, "paths": None, "codes": None},
        }

    def test_merged_into_the_keras_base_config(self):
        assert Scaled(scale=3.0, reduction="sum").get_config() == {
            "name": "scaled", "reduction": "sum", "scale": 3.0, "dtype": None,
        }

    def test_a_regularizer_has_no_base_config(self):
        # Keras's Regularizer.get_config raises NotImplementedError
        assert Penalty(0.25).get_config() == {"strength": 0.25}

    def test_from_config_rebuilds_serialized_objects(self):
        box = Box.from_config(Box(init="ones", size=4.0).get_config())
        assert isinstance(box.init, keras.initializers.Ones)
        assert box.size == 4.0

    def test_dtype_policy_round_trips(self):
        loss = Scaled(dtype=keras.DTypePolicy("bfloat16"))
        config = loss.get_config()
        assert config["dtype"]["class_name"] == "DTypePolicy"
        assert Scaled.from_config(config).dtype == "bfloat16"


class TestRepr:
    def test_only_arguments_that_differ_from_their_defaults(self):
        assert repr(Box()) == "Box()"
        assert repr(Box(size=2.0, label="crate")) == "Box(size=2.0, label='crate')"
        assert repr(Box(init="ones")).startswith("Box(init=<keras.src.initializers")
        assert repr(Scaled(reduction="sum", dtype="float16")) == "Scaled(reduction='sum', dtype='float16')"

    def test_float32_values_show_as_written(self):
        # an optimizer keeps its learning rate in float32: 1e-3 reads back 0.0010000000474974513
        from keras_losses.optimizers import LazyAdam

        assert repr(LazyAdam(learning_rate=0.001)) == "LazyAdam()"
        assert repr(LazyAdam(learning_rate=0.01)) == "LazyAdam(learning_rate=0.01)"

    def test_objects_show_as_themselves(self):
        assert repr(Box(tree=Tree.balanced(4))) == (
            "Box(tree=Tree(kind='balanced', num_classes=4, depth=2, mean_path_length=2.00))"
        )

    def test_layers_keep_the_keras_repr(self):
        from keras_losses.layers import CRF

        assert repr(CRF(3, name="tagger")) == "<CRF name=tagger, built=False>"


class TestThinLossClass:
    def test_call_forwards_the_hyperparameters_to_the_function(self):
        y_true, y_pred = np.array([[0.0, 1.0]]), np.array([[1.0, 3.0]])
        loss = Scaled(scale=3.0, reduction=None)
        assert loss.hyperparameters() == {"scale": 3.0}
        # 3 * mean(|0 - 1|, |1 - 3|) = 3 * 1.5
        np.testing.assert_allclose(loss(y_true, y_pred), [4.5])
