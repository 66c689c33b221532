"""What the shared base class adds to keras.losses.Loss, tested through real losses."""

import keras
import numpy as np
import pytest

from keras_losses import MeanSquaredLogarithmicError
from keras_losses import SparseMulticlassHinge
from keras_losses import sparse_multiclass_hinge
from keras_losses.losses.base import Loss


def _segmentation(batch=3, size=3, classes=4, seed=0):
    """Batch size equal to the spatial size: where Keras alone mixes up the axes."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, classes, (batch, size, size)), rng.normal(size=(batch, size, size, classes))


class TestPerExampleWeightsOnPerPositionLosses:
    def test_batch_weight_weighs_whole_images(self):
        labels, scores = _segmentation()
        weights = np.array([1.0, 2.0, 0.0])
        per_pixel = np.asarray(sparse_multiclass_hinge(labels, scores))
        expected = np.sum(per_pixel * weights[:, None, None]) / per_pixel.size
        loss = SparseMulticlassHinge()(labels, scores, sample_weight=weights)
        np.testing.assert_allclose(loss, expected, rtol=1e-6)

    def test_keras_alone_broadcasts_the_weight_along_the_wrong_axis(self):
        # The reason the base class spreads the weight itself: the same loss through
        # the bare keras.losses.Loss machinery weighs pixel columns, not images.
        labels, scores = _segmentation()
        weights = np.array([1.0, 2.0, 0.0])

        class Bare(keras.losses.Loss):
            def call(self, y_true, y_pred):
                return sparse_multiclass_hinge(y_true, y_pred)

        per_pixel = np.asarray(sparse_multiclass_hinge(labels, scores))
        wrong = np.sum(per_pixel * weights[None, None, :]) / per_pixel.size
        np.testing.assert_allclose(Bare()(labels, scores, sample_weight=weights), wrong, rtol=1e-6)

    def test_batch_weight_with_trailing_axis(self):
        labels, scores = _segmentation()
        weights = np.array([[1.0], [2.0], [0.0]])
        ours = SparseMulticlassHinge()(labels, scores, sample_weight=weights)
        flat = SparseMulticlassHinge()(labels, scores, sample_weight=weights[:, 0])
        np.testing.assert_allclose(ours, flat, rtol=1e-6)

    def test_per_pixel_weights_weigh_pixels(self):
        labels, scores = _segmentation()
        weights = np.random.default_rng(1).uniform(size=labels.shape)
        per_pixel = np.asarray(sparse_multiclass_hinge(labels, scores))
        loss = SparseMulticlassHinge()(labels, scores, sample_weight=weights)
        np.testing.assert_allclose(loss, np.sum(per_pixel * weights) / per_pixel.size, rtol=1e-6)

    def test_mean_with_sample_weight_divides_by_the_weight_of_every_pixel(self):
        labels, scores = _segmentation()
        weights = np.array([1.0, 3.0, 0.0])
        per_pixel = np.asarray(sparse_multiclass_hinge(labels, scores))
        spread = np.broadcast_to(weights[:, None, None], per_pixel.shape)
        loss = SparseMulticlassHinge(reduction="mean_with_sample_weight")(
            labels, scores, sample_weight=weights
        )
        np.testing.assert_allclose(loss, np.sum(per_pixel * spread) / np.sum(spread), rtol=1e-6)

    def test_in_compiled_fit(self):
        labels, _ = _segmentation(batch=4)
        x = np.random.default_rng(2).normal(size=(4, 3, 3, 2)).astype("float32")
        weights = np.array([1.0, 1.0, 0.0, 0.0])
        model = keras.Sequential([keras.Input((3, 3, 2)), keras.layers.Dense(4)])
        model.compile(optimizer="sgd", loss=SparseMulticlassHinge())
        loss = model.evaluate(x, labels, sample_weight=weights, batch_size=4, verbose=0)
        per_pixel = np.asarray(sparse_multiclass_hinge(labels, model.predict(x, verbose=0)))
        np.testing.assert_allclose(loss, per_pixel[:2].sum() / per_pixel.size, rtol=1e-5)


class TestKerasMasks:
    def test_mask_on_predictions_excludes_positions_from_the_mean(self):
        y_true = np.array([[1.0], [2.0], [3.0]])
        y_pred = keras.ops.convert_to_tensor(np.array([[2.0], [2.0], [30.0]]))
        from keras_losses import _backend

        _backend.set_mask(y_pred, keras.ops.convert_to_tensor([True, True, False]))
        masked = MeanSquaredLogarithmicError()(y_true, y_pred)
        values = np.asarray(MeanSquaredLogarithmicError(reduction=None)(y_true, np.array([[2.0], [2.0], [30.0]])))
        np.testing.assert_allclose(masked, values[:2].mean(), rtol=1e-6)


class TestDtypes:
    def test_default_dtype_is_float32_under_mixed_precision(self):
        keras.config.set_dtype_policy("mixed_float16")
        loss = MeanSquaredLogarithmicError()
        assert loss.dtype == "float32"
        value = loss(np.ones((2, 2)), keras.ops.cast(np.full((2, 2), 3.0), "float16"))
        assert keras.backend.standardize_dtype(value.dtype) == "float32"

    def test_dtype_policy_round_trips(self):
        loss = MeanSquaredLogarithmicError(dtype=keras.DTypePolicy("mixed_bfloat16"))
        restored = MeanSquaredLogarithmicError.from_config(loss.get_config())
        assert restored.dtype == "bfloat16"
        restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
        assert restored.dtype == "bfloat16"

    def test_explicit_16_bit_dtype_stays_finite_on_large_values(self):
        # log1p(6e4) is fine in float32 maths; only the reduced value is float16.
        value = MeanSquaredLogarithmicError(dtype="float16")(np.zeros((2, 2)), np.full((2, 2), 6e4))
        assert np.isfinite(float(value))

    @pytest.mark.parametrize("dtype,limit", [("float16", 2048), ("bfloat16", 256)])
    def test_16_bit_dtype_class_limit(self, dtype, limit):
        SparseMulticlassHinge(dtype=dtype)(np.array([0, limit - 1]), np.zeros((2, limit)))
        with pytest.raises(ValueError, match=f"beyond {limit}"):
            SparseMulticlassHinge(dtype=dtype)(np.array([0, 1]), np.zeros((2, limit + 1)))

    def test_class_labels_beyond_float16_are_exact_in_float32(self):
        classes = 2**14 + 1
        scores = np.zeros((1, classes))
        scores[0, classes - 1] = 5.0  # the label's own score: no violation from it
        value = SparseMulticlassHinge(reduction=None, margin=1.0)(np.array([classes - 1]), scores)
        # every other class sits 5 below: max(0, 0 - 5 + 1) = 0
        assert float(value[0]) == 0.0


class TestSubclassing:
    def test_config_holds_every_init_argument(self):
        @keras.saving.register_keras_serializable(package="tests")
        class Scaled(Loss):
            def __init__(self, scale=2.0, reduction="sum_over_batch_size", name="scaled", dtype=None):
                super().__init__(reduction=reduction, name=name, dtype=dtype)
                self.scale = scale

            def call(self, y_true, y_pred):
                return self.scale * keras.ops.mean(keras.ops.abs(y_true - y_pred), axis=-1)

        loss = Scaled(scale=3.0, dtype="float16")
        assert loss.get_config() == {"name": "scaled", "reduction": "sum_over_batch_size", "dtype": "float16", "scale": 3.0}
        assert repr(loss) == "Scaled(reduction='sum_over_batch_size', scale=3.0)"
