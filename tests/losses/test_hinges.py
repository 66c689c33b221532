import hypothesis
import hypothesis.extra.numpy as hnp
import keras
import numpy as np
import pytest
from hypothesis import strategies as st

from keras_losses import Hinge
from keras_losses import MulticlassHinge
from keras_losses import SparseMulticlassHinge
from keras_losses import SquaredHinge
from keras_losses import hinge
from keras_losses import multiclass_hinge
from keras_losses import sparse_multiclass_hinge
from keras_losses import squared_hinge
from tests import harness

test_reference_equality = harness.reference_equality_test("hinge")

# The CS231n worked example: three classes (cat, car, frog), scores of three images.
CS231N_SCORES = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
CS231N_LABELS = np.array([0, 1, 2])
# By hand, margin 1:
#   image 0: max(0, 5.1 - 3.2 + 1) + max(0, -1.7 - 3.2 + 1) = 2.9 + 0 = 2.9
#   image 1: max(0, 1.3 - 4.9 + 1) + max(0, 2.0 - 4.9 + 1) = 0
#   image 2: max(0, 2.2 + 3.1 + 1) + max(0, 2.5 + 3.1 + 1) = 6.3 + 6.6 = 12.9
CS231N_WW = np.array([2.9, 0.0, 12.9])
#   Crammer-Singer keeps only the strongest rival: 2.9, 0, 6.6
CS231N_CS = np.array([2.9, 0.0, 6.6])


class TestHinge:
    y_true = np.array([[1.0, 0.0], [1.0, 1.0]])
    y_pred = np.array([[0.5, -2.0], [2.0, -1.0]])
    # By hand: [(0.5 + 0) / 2, (0 + 2) / 2]
    expected = np.array([0.25, 1.0])

    def test_config(self):
        config = Hinge(margin=0.5, name="h").get_config()
        assert config == {"name": "h", "reduction": "sum_over_batch_size", "dtype": None, "margin": 0.5}
        assert Hinge.from_config(config).margin == 0.5

    def test_worked_by_hand(self):
        np.testing.assert_allclose(Hinge(reduction=None)(self.y_true, self.y_pred), self.expected)

    def test_minus_one_labels_equal_zero_labels(self):
        signed = np.where(self.y_true == 0, -1.0, 1.0)
        np.testing.assert_allclose(hinge(signed, self.y_pred), hinge(self.y_true, self.y_pred))

    def test_margin(self):
        # margin 2: [(1.5 + 0) / 2, (0 + 3) / 2]
        np.testing.assert_allclose(hinge(self.y_true, self.y_pred, margin=2.0), [0.75, 1.5])

    def test_unweighted(self):
        np.testing.assert_allclose(Hinge()(self.y_true, self.y_pred), self.expected.mean())

    def test_sample_weighted(self):
        loss = Hinge()(self.y_true, self.y_pred, sample_weight=np.array([4.0, 1.0]))
        np.testing.assert_allclose(loss, (4 * 0.25 + 1.0) / 2)

    def test_zero_weighted(self):
        assert float(Hinge()(self.y_true, self.y_pred, sample_weight=np.zeros(2))) == 0.0

    def test_no_reduction(self):
        assert tuple(Hinge(reduction=None)(self.y_true, self.y_pred).shape) == (2,)

    def test_sum_reduction(self):
        np.testing.assert_allclose(Hinge(reduction="sum")(self.y_true, self.y_pred), 1.25)

    def test_dtype_arg(self):
        loss = Hinge(dtype="bfloat16")(self.y_true, self.y_pred)
        assert keras.backend.standardize_dtype(loss.dtype) == "bfloat16"

    @pytest.mark.parametrize("margin", [-1, float("nan"), float("inf"), "1", True])
    def test_invalid_margin(self, margin):
        with pytest.raises(ValueError, match="Invalid value for argument `margin`"):
            Hinge(margin=margin)

    def test_error_message_form(self):
        with pytest.raises(ValueError) as info:
            Hinge(margin=-1)
        assert str(info.value) == (
            "Invalid value for argument `margin`: expected a non-negative float. Received: margin=-1"
        )

    @hypothesis.given(
        hnp.arrays(np.float64, (4, 3), elements=st.sampled_from([-1.0, 1.0])),
        hnp.arrays(np.float64, (4, 3), elements=st.floats(1.0, 1e4)),
    )
    def test_zero_when_every_margin_is_met(self, labels, magnitude):
        np.testing.assert_array_equal(hinge(labels, labels * magnitude), 0.0)
        np.testing.assert_array_equal(squared_hinge(labels, labels * magnitude), 0.0)


class TestSquaredHinge:
    def test_config(self):
        config = SquaredHinge(margin=2.0).get_config()
        assert config["margin"] == 2.0 and config["name"] == "squared_hinge"

    def test_worked_by_hand(self):
        values = SquaredHinge(reduction=None)(TestHinge.y_true, TestHinge.y_pred)
        np.testing.assert_allclose(values, [0.125, 2.0])  # [(0.25 + 0) / 2, (0 + 4) / 2]

    def test_sample_weighted(self):
        loss = SquaredHinge()(TestHinge.y_true, TestHinge.y_pred, sample_weight=np.array([2.0, 0.0]))
        np.testing.assert_allclose(loss, 0.125)

    def test_invalid_margin(self):
        with pytest.raises(ValueError, match="margin"):
            SquaredHinge(margin=-0.5)


class TestMulticlassHinge:
    one_hot = np.eye(3)[CS231N_LABELS]

    def test_config(self):
        loss = MulticlassHinge(margin=0.5, squared=True, variant="crammer_singer")
        config = loss.get_config()
        assert {k: config[k] for k in ("margin", "squared", "variant")} == {
            "margin": 0.5,
            "squared": True,
            "variant": "crammer_singer",
        }
        assert MulticlassHinge.from_config(config).get_config() == config

    def test_cs231n_example_weston_watkins(self):
        values = MulticlassHinge(reduction=None)(self.one_hot, CS231N_SCORES)
        np.testing.assert_allclose(values, CS231N_WW, rtol=1e-6)
        # CS231n reports the mean over the three images: 5.27
        np.testing.assert_allclose(MulticlassHinge()(self.one_hot, CS231N_SCORES), 5.2667, atol=1e-4)

    def test_cs231n_example_crammer_singer(self):
        values = multiclass_hinge(self.one_hot, CS231N_SCORES, variant="crammer_singer")
        np.testing.assert_allclose(values, CS231N_CS, rtol=1e-6)

    def test_squared(self):
        values = multiclass_hinge(self.one_hot, CS231N_SCORES, squared=True)
        np.testing.assert_allclose(values, [2.9**2, 0.0, 6.3**2 + 6.6**2], rtol=1e-6)

    def test_sample_weighted(self):
        loss = MulticlassHinge()(self.one_hot, CS231N_SCORES, sample_weight=np.array([1.0, 5.0, 0.0]))
        np.testing.assert_allclose(loss, 2.9 / 3, rtol=1e-6)

    def test_invalid_variant(self):
        with pytest.raises(ValueError, match="Invalid value for argument `variant`"):
            MulticlassHinge(variant="one_vs_rest")

    def test_invalid_squared(self):
        with pytest.raises(ValueError, match="squared"):
            MulticlassHinge(squared="yes")

    @hypothesis.given(hnp.arrays(np.float64, (5, 2), elements=st.floats(-100, 100)), st.integers(0, 1))
    def test_variants_agree_at_two_classes(self, scores, label):
        one_hot = np.eye(2)[np.full(5, label)]
        np.testing.assert_allclose(
            multiclass_hinge(one_hot, scores),
            multiclass_hinge(one_hot, scores, variant="crammer_singer"),
            rtol=1e-6,
            atol=1e-6,
        )

    def test_crammer_singer_equals_categorical_hinge_where_a_rival_is_non_negative(self):
        scores = CS231N_SCORES + 4.0  # every score positive
        ours = multiclass_hinge(self.one_hot, scores, variant="crammer_singer")
        theirs = keras.losses.CategoricalHinge(reduction=None)(self.one_hot, scores)
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)

    def test_zero_when_margins_met_and_gradient_finite_at_large_scores(self):
        scores = np.where(self.one_hot > 0, 1e4, -1e4)
        value, grad = harness.value_and_grad(lambda s: multiclass_hinge(self.one_hot, s), scores)
        np.testing.assert_array_equal(value, 0.0)
        assert np.all(np.isfinite(grad))


class TestSparseMulticlassHinge:
    def test_config(self):
        config = SparseMulticlassHinge(margin=2.0).get_config()
        assert config["margin"] == 2.0 and config["name"] == "sparse_multiclass_hinge"

    def test_equals_one_hot_form(self):
        for variant in ("weston_watkins", "crammer_singer"):
            np.testing.assert_allclose(
                sparse_multiclass_hinge(CS231N_LABELS, CS231N_SCORES, variant=variant),
                multiclass_hinge(np.eye(3)[CS231N_LABELS], CS231N_SCORES, variant=variant),
            )

    def test_labels_with_trailing_axis(self):
        values = SparseMulticlassHinge(reduction=None)(CS231N_LABELS[:, None], CS231N_SCORES)
        np.testing.assert_allclose(values, CS231N_WW, rtol=1e-6)

    def test_out_of_range_label_raises_in_eager_mode(self):
        with pytest.raises(ValueError, match=r"\[0, 3\).*\[3\]"):
            SparseMulticlassHinge()(np.array([0, 3, 1]), CS231N_SCORES)
        with pytest.raises(ValueError, match=r"\[-1\]"):
            sparse_multiclass_hinge(np.array([0, -1, 1]), CS231N_SCORES)

    @pytest.mark.parametrize("mode", [m for m in harness.backends.modes() if m != "eager"])
    def test_out_of_range_label_is_nan_when_compiled(self, mode):
        values = harness.run_in_mode(
            lambda y, s: sparse_multiclass_hinge(y, s),
            mode,
            keras.ops.convert_to_tensor(np.array([0, 3, 1])),
            keras.ops.convert_to_tensor(CS231N_SCORES),
        )
        assert np.isnan(values[1]) and np.isfinite(values[[0, 2]]).all()

    def test_wrong_label_rank(self):
        with pytest.raises(ValueError, match=r"\(3, 2\).*\(3, 3\)"):
            SparseMulticlassHinge()(np.zeros((3, 2)), CS231N_SCORES)

    def test_spatial_outputs_with_per_image_weights(self):
        rng = np.random.default_rng(0)
        labels = rng.integers(0, 3, (2, 3, 3))
        scores = rng.normal(size=(2, 3, 3, 3))
        per_pixel = np.asarray(sparse_multiclass_hinge(labels, scores))
        loss = SparseMulticlassHinge()(labels, scores, sample_weight=np.array([1.0, 0.0]))
        # Image 1 weighs nothing; the mean is over all 18 pixels.
        np.testing.assert_allclose(loss, np.sum(per_pixel[0]) / 18, rtol=1e-6)

    def test_float16_dtype_refuses_more_classes_than_it_holds_exactly(self):
        scores = np.zeros((2, 3000))
        with pytest.raises(ValueError, match="3000 classes"):
            SparseMulticlassHinge(dtype="float16")(np.array([0, 2999]), scores)
        # float32 (the default, also under mixed precision) holds them exactly
        SparseMulticlassHinge()(np.array([0, 2999]), scores)


class TestFunctionArguments:
    """The functions check their hyperparameters as the classes do (`_validation`'s rule)."""

    @pytest.mark.parametrize("function", [hinge, squared_hinge, multiclass_hinge])
    @pytest.mark.parametrize("margin", [-1, float("nan"), "1"])
    def test_invalid_margin(self, function, margin):
        with pytest.raises(ValueError, match="Invalid value for argument `margin`"):
            function(np.array([[1.0, 0.0]]), np.array([[0.3, -2.0]]), margin=margin)

    def test_sparse_invalid_margin(self):
        with pytest.raises(ValueError, match="Invalid value for argument `margin`"):
            sparse_multiclass_hinge(np.array([0]), np.array([[0.3, -2.0]]), margin=-1)

    @pytest.mark.parametrize("squared", [1, "yes", None])
    def test_invalid_squared(self, squared):
        with pytest.raises(ValueError, match="Invalid value for argument `squared`"):
            multiclass_hinge(np.array([[1.0, 0.0]]), np.array([[0.3, -2.0]]), squared=squared)
