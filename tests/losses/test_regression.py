import hypothesis
import hypothesis.extra.numpy as hnp
import keras
import numpy as np
import pytest
from hypothesis import strategies as st

from keras_losses import MeanSquaredLogarithmicError
from keras_losses import mean_squared_logarithmic_error
from keras_losses.testing.reference import regression as reference
from tests import harness

test_reference_equality = harness.reference_equality_test("regression")

Y_TRUE = np.array([[1.0, 9.0], [0.0, 3.0]])
Y_PRED = np.array([[3.0, 9.0], [1.0, 0.0]])
# By hand: example 0: ((log 4 - log 2)**2 + 0) / 2 = (log 2)**2 / 2
#          example 1: ((log 2 - 0)**2 + (0 - log 4)**2) / 2 = 5 (log 2)**2 / 2
LN2_SQ = np.log(2.0) ** 2
EXPECTED = np.array([LN2_SQ / 2, 5 * LN2_SQ / 2])


class TestMeanSquaredLogarithmicError:
    def test_config(self):
        loss = MeanSquaredLogarithmicError(reduction="sum", name="msle", dtype="float16")
        config = loss.get_config()
        assert config == {"name": "msle", "reduction": "sum", "dtype": "float16"}
        restored = MeanSquaredLogarithmicError.from_config(config)
        assert restored.dtype == "float16" and restored.reduction == "sum"

    def test_worked_by_hand(self):
        values = MeanSquaredLogarithmicError(reduction=None)(Y_TRUE, Y_PRED)
        np.testing.assert_allclose(values, EXPECTED, rtol=1e-6)

    def test_unweighted(self):
        loss = MeanSquaredLogarithmicError()(Y_TRUE, Y_PRED)
        np.testing.assert_allclose(loss, EXPECTED.mean(), rtol=1e-6)

    def test_sample_weighted(self):
        loss = MeanSquaredLogarithmicError()(Y_TRUE, Y_PRED, sample_weight=np.array([2.0, 0.5]))
        np.testing.assert_allclose(loss, (2 * EXPECTED[0] + 0.5 * EXPECTED[1]) / 2, rtol=1e-6)

    def test_zero_weighted(self):
        loss = MeanSquaredLogarithmicError()(Y_TRUE, Y_PRED, sample_weight=np.zeros(2))
        assert float(loss) == 0.0

    def test_no_reduction(self):
        values = MeanSquaredLogarithmicError(reduction="none")(Y_TRUE, Y_PRED)
        assert tuple(values.shape) == (2,)

    def test_sum_reduction(self):
        loss = MeanSquaredLogarithmicError(reduction="sum")(Y_TRUE, Y_PRED)
        np.testing.assert_allclose(loss, EXPECTED.sum(), rtol=1e-6)

    def test_mean_with_sample_weight(self):
        weights = np.array([3.0, 1.0])
        loss = MeanSquaredLogarithmicError(reduction="mean_with_sample_weight")(
            Y_TRUE, Y_PRED, sample_weight=weights
        )
        np.testing.assert_allclose(loss, (weights * EXPECTED).sum() / weights.sum(), rtol=1e-6)

    def test_dtype_arg(self):
        loss = MeanSquaredLogarithmicError(dtype="float16")(Y_TRUE, Y_PRED)
        assert keras.backend.standardize_dtype(loss.dtype) == "float16"
        np.testing.assert_allclose(float(loss), EXPECTED.mean(), rtol=1e-3)

    def test_matches_builtin_with_keras_shapes(self):
        # (batch,) labels against (batch, 1) predictions, as Keras reconciles them.
        y_true, y_pred = np.array([1.0, 2.0, 3.0]), np.array([[1.5], [2.0], [0.5]])
        ours = MeanSquaredLogarithmicError(reduction=None)(y_true, y_pred)
        theirs = keras.losses.MeanSquaredLogarithmicError(reduction=None)(y_true, y_pred)
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)

    def test_rank_1_inputs_are_one_output_per_example(self):
        values = MeanSquaredLogarithmicError(reduction=None)(np.array([1.0, 3.0]), np.array([3.0, 1.0]))
        np.testing.assert_allclose(values, [LN2_SQ, LN2_SQ], rtol=1e-6)

    def test_incompatible_shapes(self):
        with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 2\)"):
            MeanSquaredLogarithmicError()(np.ones((4, 3)), np.ones((4, 2)))

    def test_negative_inputs_clip_to_zero(self):
        # Documented: negative values count as 0 (as the built-in, which clips to 1e-7).
        ours = mean_squared_logarithmic_error(np.array([[-3.0, 2.0]]), np.array([[0.0, -1.0]]))
        np.testing.assert_allclose(ours, [np.log(3.0) ** 2 / 2], rtol=1e-6)

    def test_function_twin_equals_class(self):
        np.testing.assert_allclose(
            mean_squared_logarithmic_error(Y_TRUE, Y_PRED),
            MeanSquaredLogarithmicError(reduction=None)(Y_TRUE, Y_PRED),
        )

    def test_float16_inputs_are_computed_in_float32(self):
        y_pred = keras.ops.cast(Y_PRED, "float16")
        values = mean_squared_logarithmic_error(Y_TRUE, y_pred)
        assert keras.backend.standardize_dtype(values.dtype) == "float32"

    @hypothesis.given(hnp.arrays(np.float64, (3, 4), elements=st.floats(0, 1e6)))
    def test_zero_when_equal(self, y):
        np.testing.assert_array_equal(mean_squared_logarithmic_error(y, y), 0.0)

    @hypothesis.given(
        hnp.arrays(np.float64, (3, 4), elements=st.floats(0, 1e6)),
        hnp.arrays(np.float64, (3, 4), elements=st.floats(0, 1e6)),
    )
    def test_matches_numpy_and_has_finite_gradient(self, y_true, y_pred):
        value, grad = harness.value_and_grad(
            lambda p: mean_squared_logarithmic_error(y_true, p), y_pred.astype("float32")
        )
        np.testing.assert_allclose(
            value,
            reference.mean_squared_logarithmic_error(y_true.astype("float32"), y_pred.astype("float32")),
            rtol=1e-4,
            atol=1e-5,
        )
        assert np.all(np.isfinite(grad))
