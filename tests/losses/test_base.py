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
        assert repr(loss) == "Scaled(scale=3.0, dtype='float16')"  # the non-default arguments


# -- issue 12 ------------------------------------------------------------------------

import keras_losses as kl  # noqa: E402


def _spatial_cases():
    """Every loss that gives one value per position, on `(batch, 2, 2, classes)` outputs."""
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, (2, 2, 2))
    labels[0, 0, 0] = 3  # ignored by the ignore_class case
    scores = rng.normal(size=(2, 2, 2, 4)).astype("float32")
    one_hot = np.eye(4, dtype="float32")[labels]
    binary = (scores > 0).astype("float32")
    return [
        ("SparseCategoricalFocalLoss(ignore_class)", kl.SparseCategoricalFocalLoss, {"from_logits": True, "ignore_class": 3}, labels, scores),
        ("SparseMulticlassHinge", kl.SparseMulticlassHinge, {}, np.minimum(labels, 2), scores),
        ("CategoricalFocalLoss", kl.CategoricalFocalLoss, {"from_logits": True}, one_hot, scores),
        ("MulticlassHinge", kl.MulticlassHinge, {}, one_hot, scores),
        ("BinaryFocalLoss", kl.BinaryFocalLoss, {"from_logits": True}, binary, scores),
        ("Hinge", kl.Hinge, {}, binary, scores),
    ]


class TestFloat32BatchWeightsOnSpatialOutputs:
    """Issue 12, item 2: PyTorch refused a float32 `(batch,)` weight (an in-place product
    on a broadcast view); float64 weights hid it by making a copy."""

    @pytest.mark.parametrize("name,cls,kwargs,y_true,y_pred", _spatial_cases(), ids=lambda v: v if isinstance(v, str) else "")
    def test_eager(self, name, cls, kwargs, y_true, y_pred):
        weights = np.array([2.0, 0.5], "float32")
        values = np.asarray(keras.ops.convert_to_numpy(cls(reduction=None, **kwargs)(y_true, y_pred)))
        kept = np.ones(values.shape, bool)
        if "ignore_class" in kwargs:
            kept = y_true != kwargs["ignore_class"]
        spread = weights.reshape((2,) + (1,) * (values.ndim - 1)) * np.ones(values.shape)
        expected = np.sum(values * spread * kept) / np.sum(kept)
        loss = cls(**kwargs)(y_true, y_pred, sample_weight=weights)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(loss), expected, rtol=1e-5)

    def test_in_fit(self):
        labels = np.random.default_rng(4).integers(0, 4, (2, 3, 3))
        model = keras.Sequential([keras.Input((3, 3, 2)), keras.layers.Dense(4)])
        model.compile(optimizer="sgd", loss=kl.SparseCategoricalFocalLoss(from_logits=True, ignore_class=3))
        x = np.ones((2, 3, 3, 2), "float32")
        history = model.fit(x, labels, sample_weight=np.array([1.0, 2.0], "float32"), epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0])


class TestExplicit16BitDtype:
    """Issue 12, item 13: float32 maths and reduction, only the result 16-bit."""

    @pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
    def test_siglip_mean_beyond_float16_partial_sums(self, dtype):
        logits = -3e4 * np.eye(3, dtype="float32")  # every positive pair at -3e4
        # row i: -log_sigmoid(-3e4) + 2 * -log_sigmoid(-0) ~= 3e4 + 2 log 2 (float32 gives 30001.4)
        value = kl.SigLIPLoss(dtype=dtype)(np.arange(3), logits)
        assert keras.backend.standardize_dtype(value.dtype) == dtype
        np.testing.assert_allclose(float(keras.ops.cast(value, "float32")), 3e4 + 2 * np.log(2), rtol=1e-2)

    def test_binary_focal_from_logits_beyond_float16(self):
        # true value 0: the logit 1e5 would be inf in float16
        value = kl.BinaryFocalLoss(from_logits=True, dtype="float16")([[1.0]], np.array([[1e5]], "float32"))
        assert float(value) == 0.0

    def test_sum_of_large_values_is_float32_then_cast(self):
        # each value 4e4 fits float16; their sum (1.2e5) does not, their mean does
        y_pred = np.full((3, 1), 4e4 + 1.0, "float32")
        value = kl.Hinge(dtype="float16")(np.ones((3, 1), "float32"), -y_pred)
        np.testing.assert_allclose(float(value), 4e4 + 2.0, rtol=1e-3)


class TestConstructorArguments:
    """Issue 12, item 14."""

    @pytest.mark.parametrize("dtype", ["int32", "int64", "bool", "uint8"])
    @pytest.mark.parametrize("cls", [kl.Hinge, kl.BinaryFocalLoss, kl.CLIPLoss, kl.MeanSquaredLogarithmicError])
    def test_non_float_dtype_is_refused(self, cls, dtype):
        # kl.Hinge(dtype="int32") gave 1.0 where float32 gives 0.45
        with pytest.raises(ValueError, match="Invalid value for argument `dtype`: expected a float dtype"):
            cls(dtype=dtype)

    @pytest.mark.parametrize("name", [5, 1.0, ["hinge"], b"hinge"])
    def test_non_string_name_is_refused_at_construction(self, name):
        with pytest.raises(ValueError, match="Invalid value for argument `name`"):
            kl.Hinge(name=name)

    def test_float_dtypes_and_policies_are_accepted(self):
        for dtype in ["float16", "bfloat16", "float32", "float64", keras.DTypePolicy("mixed_float16")]:
            kl.Hinge(dtype=dtype)
        assert kl.Hinge(name=None).name  # Keras names it
