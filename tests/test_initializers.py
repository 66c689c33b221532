import math

import keras
import numpy as np
import pytest

import keras_losses
from keras_losses import PriorProbability
from keras_losses import initializers


class TestPriorProbability:
    def test_config(self):
        initializer = PriorProbability(probability=0.2)
        assert initializer.get_config() == {"probability": 0.2}
        assert PriorProbability.from_config(initializer.get_config()).probability == 0.2

    def test_exported(self):
        assert keras_losses.PriorProbability is initializers.PriorProbability
        assert keras_losses.initializers.PriorProbability is PriorProbability

    def test_serialize_keras_object_round_trip(self):
        serialized = keras.saving.serialize_keras_object(PriorProbability(0.05))
        assert serialized["registered_name"] == "keras_losses>PriorProbability"
        restored = keras.initializers.get(serialized)
        assert isinstance(restored, PriorProbability) and restored.probability == 0.05

    def test_value(self):
        # RetinaNet's start: b = -log((1 - 0.01) / 0.01) = -log(99) = -4.59512
        values = PriorProbability()(shape=(2, 3))
        assert tuple(values.shape) == (2, 3)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(values), -math.log(99.0), rtol=1e-6)

    @pytest.mark.parametrize("probability", [0.01, 0.5, 0.9])
    def test_sigmoid_of_the_value_is_the_probability(self, probability):
        values = PriorProbability(probability)(shape=(4,), dtype="float32")
        np.testing.assert_allclose(keras.ops.convert_to_numpy(keras.ops.sigmoid(values)), probability, rtol=1e-6)

    def test_dtype(self):
        values = PriorProbability()(shape=(2,), dtype="float16")
        assert keras.backend.standardize_dtype(values.dtype) == "float16"

    def test_fresh_model_starts_at_the_prior(self):
        # A RetinaNet-style head: small random kernel, prior bias. Its mean sigmoid
        # output over many inputs is the prior (to the spread the kernel adds).
        rng = np.random.default_rng(0)
        x = rng.normal(size=(512, 16)).astype("float32")
        model = keras.Sequential(
            [
                keras.Input((16,)),
                keras.layers.Dense(
                    20,
                    activation="sigmoid",
                    kernel_initializer=keras.initializers.RandomNormal(stddev=0.01, seed=0),
                    bias_initializer=PriorProbability(0.01),
                ),
            ]
        )
        outputs = model.predict(x, verbose=0)
        np.testing.assert_allclose(outputs.mean(), 0.01, rtol=0.02)
        # With a zero kernel every output is exactly the prior.
        model.layers[0].kernel.assign(np.zeros((16, 20), "float32"))
        np.testing.assert_allclose(model.predict(x, verbose=0), 0.01, rtol=1e-5)

    @pytest.mark.parametrize("probability", [0.0, 1.0, -0.1, 1.5, float("nan"), "0.1", None])
    def test_invalid_probability(self, probability):
        with pytest.raises(ValueError, match=r"Invalid value for argument `probability`: expected a float in \(0, 1\)"):
            PriorProbability(probability)
