import keras
import numpy as np
import pytest

from keras_losses import CRFLoss
from keras_losses import StructuredHingeLoss
from keras_losses import crf
from keras_losses import crf_loss
from keras_losses import structured_hinge_loss
from keras_losses.testing.reference import crf as brute

# Three sequences of up to 4 steps over 3 tags: lengths 4, 2 and 0.
RNG = np.random.default_rng(0)
EMISSIONS = RNG.normal(0, 1.5, (3, 4, 3)).astype("float32")
TRANSITIONS = RNG.normal(0, 1, (3, 3)).astype("float32")
START = RNG.normal(0, 1, 3).astype("float32")
END = RNG.normal(0, 1, 3).astype("float32")
MASK = np.arange(4)[None, :] < np.array([4, 2, 0])[:, None]
TAGS = np.where(MASK, RNG.integers(0, 3, (3, 4)), -1)
POTENTIALS = np.asarray(keras.ops.convert_to_numpy(crf.pack(EMISSIONS, TRANSITIONS, START, END, MASK)))
NLL = -brute.log_likelihood(EMISSIONS, TAGS, TRANSITIONS, START, END, MASK)
HINGE = brute.structured_hinge(EMISSIONS, TAGS, TRANSITIONS, START, END, MASK, cost=0.5)
WEIGHTS = np.array([2.0, 0.5, 3.0])


def numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


CLASSES = [(CRFLoss, {}, NLL), (StructuredHingeLoss, {"cost": 0.5}, HINGE)]
IDS = ["CRFLoss", "StructuredHingeLoss"]


@pytest.mark.parametrize("cls,kwargs,expected", CLASSES, ids=IDS)
class TestSequenceLosses:
    def test_config(self, cls, kwargs, expected):
        loss = cls(**kwargs, reduction="sum", name="my_loss", dtype="float32")
        config = loss.get_config()
        assert config["reduction"] == "sum" and config["name"] == "my_loss" and config["dtype"] == "float32"
        for key, value in kwargs.items():
            assert config[key] == value
        assert cls.from_config(config).get_config() == config

    def test_no_reduction(self, cls, kwargs, expected):
        values = numpy(cls(**kwargs, reduction=None)(TAGS, POTENTIALS))
        np.testing.assert_allclose(values, expected, rtol=1e-5, atol=1e-6)
        assert values[2] == 0  # the empty sequence

    def test_unweighted(self, cls, kwargs, expected):
        # sum_over_batch_size: the mean over the three sequences, the empty one included.
        np.testing.assert_allclose(numpy(cls(**kwargs)(TAGS, POTENTIALS)), expected.mean(), rtol=1e-5)

    def test_sum_reduction(self, cls, kwargs, expected):
        np.testing.assert_allclose(numpy(cls(**kwargs, reduction="sum")(TAGS, POTENTIALS)), expected.sum(), rtol=1e-5)

    def test_sample_weighted(self, cls, kwargs, expected):
        value = cls(**kwargs)(TAGS, POTENTIALS, sample_weight=WEIGHTS)
        np.testing.assert_allclose(numpy(value), np.sum(expected * WEIGHTS) / 3, rtol=1e-5)

    def test_mean_with_sample_weight(self, cls, kwargs, expected):
        value = cls(**kwargs, reduction="mean_with_sample_weight")(TAGS, POTENTIALS, sample_weight=WEIGHTS)
        np.testing.assert_allclose(numpy(value), np.sum(expected * WEIGHTS) / WEIGHTS.sum(), rtol=1e-5)

    def test_zero_weighted(self, cls, kwargs, expected):
        assert float(numpy(cls(**kwargs)(TAGS, POTENTIALS, sample_weight=np.zeros(3)))) == 0.0

    def test_per_step_sample_weight_is_refused(self, cls, kwargs, expected):
        with pytest.raises(ValueError, match="sample_weight"):
            cls(**kwargs)(TAGS, POTENTIALS, sample_weight=np.ones((3, 4)))

    def test_dtype_arg(self, cls, kwargs, expected):
        value = cls(**kwargs, dtype="float16", reduction=None)(TAGS, POTENTIALS)
        assert str(numpy(value).dtype) == "float16"
        np.testing.assert_allclose(numpy(value).astype(float), expected, rtol=2e-3, atol=2e-3)

    def test_trailing_axis_of_one_on_tags(self, cls, kwargs, expected):
        values = numpy(cls(**kwargs, reduction=None)(TAGS[..., None], POTENTIALS))
        np.testing.assert_allclose(values, expected, rtol=1e-5, atol=1e-6)

    def test_function_twin(self, cls, kwargs, expected):
        fn = crf_loss if cls is CRFLoss else structured_hinge_loss
        np.testing.assert_allclose(numpy(fn(TAGS, POTENTIALS, **kwargs)), expected, rtol=1e-5, atol=1e-6)
        assert keras.saving.get_registered_object(f"keras_losses>{fn.__name__}") is fn

    def test_not_potentials(self, cls, kwargs, expected):
        with pytest.raises(ValueError, match="potentials"):
            cls(**kwargs)(TAGS, EMISSIONS[:, :, :2].reshape(3, 8))

    def test_tags_out_of_range(self, cls, kwargs, expected):
        tags = TAGS.copy()
        tags[0, 0] = 3
        with pytest.raises(ValueError, match="argument `tags`"):
            cls(**kwargs)(tags, POTENTIALS)


class TestStructuredHingeLoss:
    def test_negative_cost(self):
        with pytest.raises(ValueError, match="Invalid value for argument `cost`"):
            StructuredHingeLoss(cost=-1)

    def test_never_negative(self):
        assert np.all(numpy(StructuredHingeLoss(cost=0.0, reduction=None)(TAGS, POTENTIALS)) >= 0)
