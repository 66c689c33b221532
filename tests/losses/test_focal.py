import json

import hypothesis
import hypothesis.extra.numpy as hnp
import keras
import numpy as np
import pytest
from hypothesis import strategies as st

import keras_losses
from keras_losses import BinaryFocalLoss
from keras_losses import CategoricalFocalLoss
from keras_losses import SparseCategoricalFocalLoss
from keras_losses import binary_focal_loss
from keras_losses import categorical_focal_loss
from keras_losses import sparse_categorical_focal_loss
from keras_losses.testing.reference import focal as reference
from tests import harness

test_reference_equality = harness.reference_equality_test("focal")

BACKEND = keras.backend.backend()

# Probabilities worked by hand with gamma 2, alpha 0.25 (positives 0.25, negatives 0.75):
#   y=1, p=0.8: 0.25 * 0.2**2 * -log(0.8) = 0.0022314355
#   y=0, p=0.4: 0.75 * 0.4**2 * -log(0.6) = 0.0612990749   row mean 0.0317652552
#   y=1, p=0.3: 0.25 * 0.7**2 * -log(0.3) = 0.1474866685
#   y=1, p=0.9: 0.25 * 0.1**2 * -log(0.9) = 0.0002634013   row mean 0.0738750349
BINARY_TRUE = np.array([[1.0, 0.0], [1.0, 1.0]])
BINARY_PROBABILITIES = np.array([[0.8, 0.4], [0.3, 0.9]])
BINARY_EXPECTED = np.array([0.0317652552, 0.0738750349])

# Logits (0, log 3) give p = (0.25, 0.75). With gamma 2:
#   true class 1 (p_t = 0.75): 0.25**2 * -log(0.75) = 0.0179801295
#   true class 0 (p_t = 0.25): 0.75**2 * -log(0.25) = 0.7797905781
CATEGORICAL_LOGITS = np.array([[0.0, np.log(3.0)], [0.0, np.log(3.0)]])
CATEGORICAL_LABELS = np.array([1, 0])
CATEGORICAL_EXPECTED = np.array([0.0179801295, 0.7797905781])


# JAX compiles every primitive of an eager call for each new shape: one jit is cheaper.
PROPERTY_MODE = "jax.jit" if BACKEND == "jax" else "eager"


def _value_and_grad(fn, x, dtype="float32", mode=PROPERTY_MODE):
    """Value of `fn(x)` and the gradient of its sum, with `x` of `dtype`."""
    x = harness.backends.to_tensor(np.asarray(x, np.float32), dtype)
    value, grad = harness.backends.run(
        lambda x: fn(x), {"x": x}, "x", np.ones(np.shape(keras.ops.convert_to_numpy(fn(x)))), mode=mode
    )
    return value, grad


def _keras_grad(loss, y_true, y_pred):
    return _value_and_grad(lambda x: loss(y_true, x), y_pred)


def test_function_twins_are_exported_beside_classes():
    for name in ("binary_focal_loss", "categorical_focal_loss", "sparse_categorical_focal_loss"):
        assert callable(getattr(keras_losses, name))
        assert getattr(keras_losses.losses, name) is getattr(keras_losses, name)


class TestBinaryFocalLoss:
    def test_config(self):
        loss = BinaryFocalLoss(gamma=1.5, alpha=None, from_logits=True, label_smoothing=0.1, axis=1, name="bfl")
        assert loss.get_config() == {
            "name": "bfl",
            "reduction": "sum_over_batch_size",
            "dtype": None,
            "gamma": 1.5,
            "alpha": None,
            "from_logits": True,
            "label_smoothing": 0.1,
            "axis": 1,
        }
        assert BinaryFocalLoss.from_config(loss.get_config()).get_config() == loss.get_config()

    def test_worked_by_hand(self):
        values = BinaryFocalLoss(reduction=None)(BINARY_TRUE, BINARY_PROBABILITIES)
        np.testing.assert_allclose(values, BINARY_EXPECTED, rtol=1e-6)

    def test_logits_equal_probabilities(self):
        logits = np.log(BINARY_PROBABILITIES / (1 - BINARY_PROBABILITIES))
        values = binary_focal_loss(BINARY_TRUE, logits, from_logits=True)
        np.testing.assert_allclose(values, BINARY_EXPECTED, rtol=1e-5)

    def test_unweighted(self):
        np.testing.assert_allclose(
            BinaryFocalLoss()(BINARY_TRUE, BINARY_PROBABILITIES), BINARY_EXPECTED.mean(), rtol=1e-6
        )

    def test_sample_weighted(self):
        loss = BinaryFocalLoss()(BINARY_TRUE, BINARY_PROBABILITIES, sample_weight=np.array([2.0, 1.0]))
        np.testing.assert_allclose(loss, (2 * BINARY_EXPECTED[0] + BINARY_EXPECTED[1]) / 2, rtol=1e-6)

    def test_zero_weighted(self):
        loss = BinaryFocalLoss()(BINARY_TRUE, BINARY_PROBABILITIES, sample_weight=np.zeros(2))
        assert float(loss) == 0.0

    def test_no_reduction(self):
        assert tuple(BinaryFocalLoss(reduction=None)(BINARY_TRUE, BINARY_PROBABILITIES).shape) == (2,)

    def test_sum_reduction(self):
        np.testing.assert_allclose(
            BinaryFocalLoss(reduction="sum")(BINARY_TRUE, BINARY_PROBABILITIES), BINARY_EXPECTED.sum(), rtol=1e-6
        )

    def test_dtype_arg(self):
        loss = BinaryFocalLoss(dtype="bfloat16")(BINARY_TRUE, BINARY_PROBABILITIES)
        assert keras.backend.standardize_dtype(loss.dtype) == "bfloat16"

    def test_axis(self):
        # axis=0 takes the mean over the batch axis instead: columns of the table above
        values = binary_focal_loss(BINARY_TRUE, BINARY_PROBABILITIES, axis=0)
        np.testing.assert_allclose(values, [(0.0022314355 + 0.1474866685) / 2, (0.0612990749 + 0.0002634013) / 2], rtol=1e-6)

    def test_alpha_none_turns_the_weight_off(self):
        # alpha = 0.5 weighs both classes by 0.5: exactly half the unweighted loss
        plain = binary_focal_loss(BINARY_TRUE, BINARY_PROBABILITIES, alpha=None)
        half = binary_focal_loss(BINARY_TRUE, BINARY_PROBABILITIES, alpha=0.5)
        np.testing.assert_allclose(half, 0.5 * np.asarray(plain), rtol=1e-6)

    @hypothesis.given(
        hnp.arrays(np.float32, (4, 3), elements=st.floats(-30, 30, width=32)),
        hnp.arrays(np.float32, (4, 3), elements=st.sampled_from([0.0, 1.0])),
    )
    def test_gamma_zero_is_binary_crossentropy(self, logits, labels):
        ours = binary_focal_loss(labels, logits, gamma=0.0, alpha=None, from_logits=True)
        theirs = keras.losses.BinaryCrossentropy(from_logits=True, reduction=None)(labels, logits)
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)

    @pytest.mark.parametrize("gamma", [2.0, 0.5])
    @pytest.mark.parametrize("dtype,size", [("float32", 1e4), ("float16", 65504.0)])
    def test_finite_values_and_gradients_at_huge_logits(self, gamma, dtype, size):
        labels = np.array([[1.0, 1.0, 0.0, 0.0]])
        logits = np.array([[size, -size, size, -size]])
        value, grad = _value_and_grad(
            lambda x: binary_focal_loss(labels, x, gamma=gamma, from_logits=True), logits, dtype
        )
        assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))
        # The wrong ones learn at full rate: d/dx of alpha_t * |x| / 4 (mean of 4 entries)
        np.testing.assert_allclose(grad[0, [1, 2]], [-0.25 / 4, 0.75 / 4], rtol=1e-3)
        # The right ones are done: p_t = 1 to float32 precision
        np.testing.assert_array_equal(grad[0, [0, 3]], 0.0)

    @pytest.mark.parametrize("gamma", [0.2, 0.5])
    def test_gamma_below_one_keeps_a_finite_gradient_where_p_t_is_one(self, gamma):
        labels = np.array([[1.0, 0.0, 1.0]])
        value, grad = _value_and_grad(
            lambda x: binary_focal_loss(labels, x, gamma=gamma, from_logits=True), [[200.0, -200.0, 0.0]]
        )
        assert np.all(np.isfinite(grad))
        probabilities = np.array([[1.0, 0.0, 0.5]])
        value, grad = _value_and_grad(
            lambda p: binary_focal_loss(labels, p, gamma=gamma), probabilities
        )
        assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))

    def test_gradient_at_zero_logit_is_exact(self):
        # d/dx at x = 0, y = 1, gamma 0, no alpha: sigmoid(0) - 1 = -0.5
        _, grad = _value_and_grad(
            lambda x: binary_focal_loss(np.ones((1, 1)), x, gamma=0.0, alpha=None, from_logits=True), [[0.0]]
        )
        np.testing.assert_allclose(grad, [[-0.5]], rtol=1e-6)

    def test_label_smoothing_with_huge_logits_stays_finite(self):
        labels = np.array([[1.0, 0.0, 1.0, 0.0]])
        logits = np.array([[1e4, 1e4, -1e4, -1e4]])
        value, grad = _value_and_grad(
            lambda x: binary_focal_loss(labels, x, from_logits=True, label_smoothing=0.1), logits
        )
        expected = reference.binary_focal(labels, logits, from_logits=True, label_smoothing=0.1)
        np.testing.assert_allclose(value, expected, rtol=1e-5)
        assert np.all(np.isfinite(grad)) and np.all(grad != 0)

    def test_probabilities_of_exactly_zero_and_one_stay_finite(self):
        value, grad = _value_and_grad(
            lambda p: binary_focal_loss(np.array([[1.0, 0.0]]), p, gamma=2.0), [[0.0, 1.0]]
        )
        assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))

    def test_16_bit_inputs_are_computed_in_float32(self):
        logits = np.array([[3.0, -2.0], [0.5, 40.0]])
        full = binary_focal_loss(BINARY_TRUE, logits, from_logits=True)
        for dtype in ("float16", "bfloat16"):
            half = binary_focal_loss(BINARY_TRUE, keras.ops.cast(logits, dtype), from_logits=True)
            assert keras.backend.standardize_dtype(half.dtype) == "float32"
            np.testing.assert_allclose(half, full, rtol=1e-6)

    def test_explicit_16_bit_dtype_stays_finite_at_large_logits(self):
        labels = np.array([[1.0, 0.0, 1.0, 0.0]])
        logits = np.array([[3e4, -3e4, -3e4, 3e4]])
        for loss in (
            BinaryFocalLoss(from_logits=True, dtype="float16"),
            CategoricalFocalLoss(from_logits=True, dtype="float16"),
        ):
            value = loss(labels, logits)
            assert keras.backend.standardize_dtype(value.dtype) == "float16"
            assert np.isfinite(float(value))
        value = SparseCategoricalFocalLoss(from_logits=True, dtype="bfloat16")(np.array([3]), logits)
        assert np.isfinite(float(value))

    @pytest.mark.parametrize(
        "argument,value",
        [("gamma", -1), ("gamma", float("nan")), ("alpha", 1.5), ("alpha", -0.1), ("alpha", [0.5]),
         ("label_smoothing", 2.0), ("label_smoothing", -0.1), ("from_logits", "yes")],
    )
    def test_invalid_arguments(self, argument, value):
        with pytest.raises(ValueError, match=f"Invalid value for argument `{argument}`"):
            BinaryFocalLoss(**{argument: value})
        with pytest.raises(ValueError, match=f"Invalid value for argument `{argument}`"):
            binary_focal_loss(BINARY_TRUE, BINARY_PROBABILITIES, **{argument: value})

    def test_error_message_form(self):
        with pytest.raises(ValueError) as info:
            BinaryFocalLoss(gamma=-1)
        assert str(info.value) == (
            "Invalid value for argument `gamma`: expected a non-negative float. Received: gamma=-1"
        )

    def test_incompatible_shapes_name_both(self):
        with pytest.raises(ValueError, match=r"\(2, 2\).*\(2, 3\)"):
            BinaryFocalLoss()(BINARY_TRUE, np.full((2, 3), 0.5))

    @pytest.mark.skipif(BACKEND == "tensorflow", reason="the TensorFlow built-in reads the logits back")
    def test_builtin_binary_form_all_but_stops_where_ours_learns(self):
        labels, logits = np.ones((1, 1)), np.array([[-30.0]])
        builtin = keras.losses.BinaryFocalCrossentropy(from_logits=True, apply_class_balancing=True)
        _, theirs = _keras_grad(builtin, labels, logits)
        _, ours = _keras_grad(BinaryFocalLoss(from_logits=True), labels, logits)
        # Its clipped cross-entropy passes nothing back; only the focal factor does, ~1e-12
        assert abs(float(theirs[0, 0])) < 1e-9
        np.testing.assert_allclose(ours, [[-0.25]], rtol=1e-4)  # alpha * d(-log sigmoid(x))/dx


class TestCategoricalFocalLoss:
    one_hot = np.eye(2)[CATEGORICAL_LABELS]

    def test_config(self):
        loss = CategoricalFocalLoss(gamma=1.0, alpha=[0.25, 0.75], from_logits=True, label_smoothing=0.1)
        config = loss.get_config()
        assert {k: config[k] for k in ("gamma", "alpha", "from_logits", "label_smoothing", "axis")} == {
            "gamma": 1.0,
            "alpha": [0.25, 0.75],
            "from_logits": True,
            "label_smoothing": 0.1,
            "axis": -1,
        }
        assert json.loads(json.dumps(config)) == config
        assert CategoricalFocalLoss.from_config(config).get_config() == config

    def test_alpha_array_is_stored_as_a_list(self):
        assert CategoricalFocalLoss(alpha=np.array([1.0, 2.0])).alpha == [1.0, 2.0]

    def test_worked_by_hand(self):
        values = CategoricalFocalLoss(from_logits=True, reduction=None)(self.one_hot, CATEGORICAL_LOGITS)
        np.testing.assert_allclose(values, CATEGORICAL_EXPECTED, rtol=1e-6)
        probabilities = np.array([[0.25, 0.75], [0.25, 0.75]])
        np.testing.assert_allclose(
            categorical_focal_loss(self.one_hot, probabilities), CATEGORICAL_EXPECTED, rtol=1e-6
        )

    def test_unweighted(self):
        loss = CategoricalFocalLoss(from_logits=True)(self.one_hot, CATEGORICAL_LOGITS)
        np.testing.assert_allclose(loss, CATEGORICAL_EXPECTED.mean(), rtol=1e-6)

    def test_sample_weighted(self):
        loss = CategoricalFocalLoss(from_logits=True)(
            self.one_hot, CATEGORICAL_LOGITS, sample_weight=np.array([0.0, 3.0])
        )
        np.testing.assert_allclose(loss, 3 * CATEGORICAL_EXPECTED[1] / 2, rtol=1e-6)

    def test_zero_weighted(self):
        loss = CategoricalFocalLoss(from_logits=True)(self.one_hot, CATEGORICAL_LOGITS, sample_weight=np.zeros(2))
        assert float(loss) == 0.0

    def test_no_reduction(self):
        assert tuple(CategoricalFocalLoss(reduction=None)(self.one_hot, np.full((2, 2), 0.5)).shape) == (2,)

    def test_sum_reduction(self):
        loss = CategoricalFocalLoss(from_logits=True, reduction="sum")(self.one_hot, CATEGORICAL_LOGITS)
        np.testing.assert_allclose(loss, CATEGORICAL_EXPECTED.sum(), rtol=1e-6)

    def test_dtype_arg(self):
        loss = CategoricalFocalLoss(dtype="float16")(self.one_hot, np.full((2, 2), 0.5))
        assert keras.backend.standardize_dtype(loss.dtype) == "float16"

    def test_alpha(self):
        # a float multiplies every class; a list weighs each example by its class
        logits, one_hot = CATEGORICAL_LOGITS, self.one_hot
        np.testing.assert_allclose(
            categorical_focal_loss(one_hot, logits, alpha=0.25, from_logits=True), 0.25 * CATEGORICAL_EXPECTED, rtol=1e-6
        )
        np.testing.assert_allclose(
            categorical_focal_loss(one_hot, logits, alpha=[2.0, 3.0], from_logits=True),
            [3.0 * CATEGORICAL_EXPECTED[0], 2.0 * CATEGORICAL_EXPECTED[1]],
            rtol=1e-6,
        )

    @hypothesis.given(
        hnp.arrays(np.float32, (4, 3), elements=st.floats(-30, 30, width=32)),
        st.lists(st.integers(0, 2), min_size=4, max_size=4),
    )
    def test_gamma_zero_is_categorical_crossentropy(self, logits, labels):
        one_hot = np.eye(3)[labels]
        ours = categorical_focal_loss(one_hot, logits, gamma=0.0, from_logits=True)
        theirs = keras.losses.CategoricalCrossentropy(from_logits=True, reduction=None)(one_hot, logits)
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)

    @pytest.mark.parametrize("lead", [17.0, 20.0, 100.0, 1e4])
    def test_keeps_learning_where_the_builtin_saturates(self, lead):
        # The wrong class (1) leads the true class (0) by `lead` logits.
        one_hot = np.array([[1.0, 0.0, 0.0]])
        logits = np.array([[0.0, lead, 0.0]])
        builtin = keras.losses.CategoricalFocalCrossentropy(from_logits=True)  # alpha 0.25, gamma 2
        theirs, theirs_grad = _keras_grad(builtin, one_hot, logits)
        # Keras clips p_t at 1e-7: 0.25 * (1 - 1e-7)**2 * -log(1e-7) = 4.0295, frozen
        np.testing.assert_allclose(theirs, 4.0295, rtol=1e-4)
        np.testing.assert_array_equal(theirs_grad, 0.0)
        ours, ours_grad = _keras_grad(CategoricalFocalLoss(alpha=0.25, from_logits=True), one_hot, logits)
        expected = reference.categorical_focal(one_hot, logits, alpha=0.25, from_logits=True)
        np.testing.assert_allclose(ours, expected, rtol=1e-5)
        # d/dx of 0.25 * -log p_t is 0.25 * (p - y): about (-0.25, +0.25, 0) this far out
        np.testing.assert_allclose(ours_grad[0, :2], [-0.25, 0.25], rtol=1e-3)

    @pytest.mark.parametrize("gamma", [2.0, 0.5])
    @pytest.mark.parametrize("dtype,size", [("float32", 1e4), ("float16", 65504.0)])
    def test_finite_values_and_gradients_at_huge_logits(self, gamma, dtype, size):
        one_hot = np.eye(3)[[0, 1, 2, 0]]
        logits = np.array([[size, -size, 0.0], [size, -size, 0.0], [-size, -size, size], [0.0, size, size]])
        value, grad = _value_and_grad(
            lambda x: categorical_focal_loss(one_hot, x, gamma=gamma, from_logits=True, label_smoothing=0.1),
            logits,
            dtype,
        )
        assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))
        assert np.all(np.abs(grad[1]) > 0)  # the wrong class leads: it still learns

    def test_axis(self):
        rng = np.random.default_rng(0)
        one_hot = np.eye(4)[rng.integers(0, 4, (2, 3))]  # (2, 3, 4)
        logits = rng.normal(size=(2, 3, 4))
        last = categorical_focal_loss(one_hot, logits, from_logits=True)
        first = CategoricalFocalLoss(from_logits=True, axis=1, reduction=None)(
            np.moveaxis(one_hot, -1, 1), np.moveaxis(logits, -1, 1)
        )
        np.testing.assert_allclose(first, last, rtol=1e-6)

    @pytest.mark.parametrize("alpha", [-1.0, [1.0, -0.5], [], "0.5", [1.0, float("nan")], True])
    def test_invalid_alpha(self, alpha):
        with pytest.raises(ValueError, match="Invalid value for argument `alpha`"):
            CategoricalFocalLoss(alpha=alpha)

    def test_alpha_of_the_wrong_length_is_refused_once_the_classes_are_known(self):
        loss = CategoricalFocalLoss(alpha=[1.0, 2.0, 3.0])
        with pytest.raises(ValueError, match=r"argument `alpha`: expected one weight per class \(2 classes"):
            loss(self.one_hot, np.full((2, 2), 0.5))

    @pytest.mark.parametrize("argument,value", [("gamma", -0.5), ("label_smoothing", 1.5)])
    def test_invalid_arguments(self, argument, value):
        with pytest.raises(ValueError, match=f"Invalid value for argument `{argument}`"):
            CategoricalFocalLoss(**{argument: value})

    def test_one_class_is_refused(self):
        with pytest.raises(ValueError, match="at least 2 classes"):
            categorical_focal_loss(np.ones((2, 1)), np.ones((2, 1)), from_logits=True)


class TestSparseCategoricalFocalLoss:
    def test_config(self):
        loss = SparseCategoricalFocalLoss(gamma=0.5, alpha=[1.0, 2.0], from_logits=True, ignore_class=255, axis=1)
        config = loss.get_config()
        assert {k: config[k] for k in ("gamma", "alpha", "from_logits", "ignore_class", "axis")} == {
            "gamma": 0.5,
            "alpha": [1.0, 2.0],
            "from_logits": True,
            "ignore_class": 255,
            "axis": 1,
        }
        assert config["name"] == "sparse_categorical_focal_loss"
        assert SparseCategoricalFocalLoss.from_config(config).get_config() == config

    def test_worked_by_hand(self):
        values = SparseCategoricalFocalLoss(from_logits=True, reduction=None)(CATEGORICAL_LABELS, CATEGORICAL_LOGITS)
        np.testing.assert_allclose(values, CATEGORICAL_EXPECTED, rtol=1e-6)

    def test_unweighted(self):
        loss = SparseCategoricalFocalLoss(from_logits=True)(CATEGORICAL_LABELS, CATEGORICAL_LOGITS)
        np.testing.assert_allclose(loss, CATEGORICAL_EXPECTED.mean(), rtol=1e-6)

    def test_sample_weighted(self):
        loss = SparseCategoricalFocalLoss(from_logits=True)(
            CATEGORICAL_LABELS, CATEGORICAL_LOGITS, sample_weight=np.array([1.0, 0.5])
        )
        np.testing.assert_allclose(loss, (CATEGORICAL_EXPECTED[0] + 0.5 * CATEGORICAL_EXPECTED[1]) / 2, rtol=1e-6)

    def test_zero_weighted(self):
        loss = SparseCategoricalFocalLoss(from_logits=True)(
            CATEGORICAL_LABELS, CATEGORICAL_LOGITS, sample_weight=np.zeros(2)
        )
        assert float(loss) == 0.0

    def test_no_reduction(self):
        loss = SparseCategoricalFocalLoss(reduction=None)(CATEGORICAL_LABELS, np.full((2, 2), 0.5))
        assert tuple(loss.shape) == (2,)

    def test_sum_reduction(self):
        loss = SparseCategoricalFocalLoss(from_logits=True, reduction="sum")(CATEGORICAL_LABELS, CATEGORICAL_LOGITS)
        np.testing.assert_allclose(loss, CATEGORICAL_EXPECTED.sum(), rtol=1e-6)

    def test_dtype_arg(self):
        loss = SparseCategoricalFocalLoss(dtype="bfloat16")(CATEGORICAL_LABELS, np.full((2, 2), 0.5))
        assert keras.backend.standardize_dtype(loss.dtype) == "bfloat16"

    def test_equals_the_one_hot_form(self):
        rng = np.random.default_rng(0)
        labels, logits = rng.integers(0, 5, 6), rng.normal(0, 3, (6, 5))
        for kwargs in ({"gamma": 2.0}, {"gamma": 0.5, "alpha": [1.0, 2.0, 0.5, 0.0, 3.0]}):
            np.testing.assert_allclose(
                sparse_categorical_focal_loss(labels, logits, from_logits=True, **kwargs),
                categorical_focal_loss(np.eye(5)[labels], logits, from_logits=True, **kwargs),
                rtol=1e-5,
            )

    def test_labels_with_trailing_axis(self):
        values = sparse_categorical_focal_loss(CATEGORICAL_LABELS[:, None], CATEGORICAL_LOGITS, from_logits=True)
        np.testing.assert_allclose(values, CATEGORICAL_EXPECTED, rtol=1e-6)

    @pytest.mark.parametrize("dtype,size", [("float32", 1e4), ("float16", 65504.0)])
    def test_finite_values_and_gradients_at_huge_logits(self, dtype, size):
        labels = np.array([0, 1, 2])
        logits = np.array([[size, -size, 0.0], [size, -size, 0.0], [-size, size, size]])
        for gamma in (2.0, 0.5):
            value, grad = _value_and_grad(
                lambda x: sparse_categorical_focal_loss(labels, x, gamma=gamma, from_logits=True), logits, dtype
            )
            assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))
            assert np.all(np.abs(grad[1, :2]) > 0)


def _segmentation(batch=3, size=3, classes=4, seed=0, ignored=255):
    """Label maps with ignored pixels; the batch size equals the spatial size."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, (batch, size, size))
    labels = np.where(rng.random(labels.shape) < 0.3, ignored, labels)
    return labels, rng.normal(0, 2, (batch, size, size, classes))


class TestSegmentation:
    def test_ignore_class_matches_sparse_categorical_crossentropy(self):
        labels, logits = _segmentation()
        for reduction in ("sum_over_batch_size", "sum", "mean_with_sample_weight", None):
            ours = SparseCategoricalFocalLoss(gamma=0.0, from_logits=True, ignore_class=255, reduction=reduction)
            theirs = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255, reduction=reduction)
            np.testing.assert_allclose(ours(labels, logits), theirs(labels, logits), rtol=1e-5, err_msg=str(reduction))

    def test_ignored_pixels_neither_weigh_nor_count(self):
        labels, logits = _segmentation()
        kept = labels != 255
        per_pixel = reference.sparse_categorical_focal(labels, logits, from_logits=True, ignore_class=255)
        loss = SparseCategoricalFocalLoss(from_logits=True, ignore_class=255)(labels, logits)
        np.testing.assert_allclose(loss, per_pixel[kept].sum() / kept.sum(), rtol=1e-5)
        _, grad = _value_and_grad(
            lambda x: SparseCategoricalFocalLoss(from_logits=True, ignore_class=255)(labels, x), logits
        )
        np.testing.assert_array_equal(grad[~kept], 0.0)

    def test_batch_weights_weigh_whole_images(self):
        labels, logits = _segmentation()
        weights = np.array([1.0, 2.0, 0.0])
        kept = labels != 255
        per_pixel = reference.sparse_categorical_focal(labels, logits, from_logits=True, ignore_class=255)
        loss = SparseCategoricalFocalLoss(from_logits=True, ignore_class=255)(labels, logits, sample_weight=weights)
        expected = np.sum(per_pixel * weights[:, None, None]) / kept.sum()
        np.testing.assert_allclose(loss, expected, rtol=1e-5)

    def test_pixel_weights_weigh_pixels(self):
        labels, logits = _segmentation()
        weights = np.random.default_rng(1).uniform(size=labels.shape)
        kept = labels != 255
        per_pixel = reference.sparse_categorical_focal(labels, logits, from_logits=True, ignore_class=255)
        loss = SparseCategoricalFocalLoss(from_logits=True, ignore_class=255)(labels, logits, sample_weight=weights)
        np.testing.assert_allclose(loss, np.sum(per_pixel * weights) / kept.sum(), rtol=1e-5)

    def test_channels_first(self):
        labels, logits = _segmentation()
        last = sparse_categorical_focal_loss(labels, logits, from_logits=True, ignore_class=255)
        first = sparse_categorical_focal_loss(
            labels, np.moveaxis(logits, -1, 1), from_logits=True, ignore_class=255, axis=1
        )
        np.testing.assert_allclose(first, last, rtol=1e-6)

    def test_in_compiled_fit(self):
        labels, _ = _segmentation(batch=4)
        x = np.random.default_rng(2).normal(size=(4, 3, 3, 2)).astype("float32")
        model = keras.Sequential([keras.Input((3, 3, 2)), keras.layers.Dense(4)])
        model.compile(optimizer="sgd", loss=SparseCategoricalFocalLoss(from_logits=True, ignore_class=255))
        loss = model.evaluate(x, labels, batch_size=4, verbose=0)
        per_pixel = reference.sparse_categorical_focal(
            labels, model.predict(x, verbose=0), from_logits=True, ignore_class=255
        )
        np.testing.assert_allclose(loss, per_pixel.sum() / np.sum(labels != 255), rtol=1e-5)

    def test_out_of_range_label_raises_in_eager_mode(self):
        with pytest.raises(ValueError, match=r"\[0, 2\) or ignore_class=255.*\[2\]"):
            SparseCategoricalFocalLoss(ignore_class=255)(np.array([0, 2]), np.full((2, 2), 0.5))
        sparse_categorical_focal_loss(np.array([0, 255]), np.full((2, 2), 0.5), ignore_class=255)

    @pytest.mark.parametrize("mode", [m for m in harness.backends.modes() if m != "eager"])
    def test_out_of_range_label_is_nan_when_compiled(self, mode):
        values = harness.run_in_mode(
            lambda y, s: sparse_categorical_focal_loss(y, s, from_logits=True, ignore_class=255),
            mode,
            keras.ops.convert_to_tensor(np.array([0, 3, 255])),
            keras.ops.convert_to_tensor(CATEGORICAL_LOGITS[[0, 0, 0]]),
        )
        assert np.isnan(values[1]) and values[2] == 0.0 and np.isfinite(values[0])

    def test_wrong_label_rank_names_both_shapes(self):
        with pytest.raises(ValueError, match=r"\(3, 3\).*\(3, 3, 3, 4\)"):
            SparseCategoricalFocalLoss()(np.zeros((3, 3)), np.full((3, 3, 3, 4), 0.25))

    def test_alpha_of_the_wrong_length(self):
        with pytest.raises(ValueError, match=r"one weight per class \(4 classes"):
            sparse_categorical_focal_loss(np.zeros((3,)), np.full((3, 4), 0.25), alpha=[1.0, 2.0])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["binary", "categorical", "sparse"])
def test_trains_under_mixed_float16_with_loss_scaling(name):
    keras.config.set_dtype_policy("mixed_float16")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    rule = x @ rng.normal(size=(4, 3))
    if name == "binary":
        loss, units, y = BinaryFocalLoss(from_logits=True), 3, (rule > 0).astype("float32")
    elif name == "categorical":
        loss, units, y = CategoricalFocalLoss(from_logits=True), 3, np.eye(3, dtype="float32")[rule.argmax(-1)]
    else:
        loss, units, y = SparseCategoricalFocalLoss(from_logits=True), 3, rule.argmax(-1)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(units)])
    assert model.layers[-1].compute_dtype == "float16"
    optimizer = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(0.1))
    model.compile(optimizer=optimizer, loss=loss)
    history = model.fit(x, y, epochs=6, batch_size=32, verbose=0).history["loss"]
    assert np.all(np.isfinite(history)), history
    assert history[-1] < 0.6 * history[0], history


# -- issue 12 ------------------------------------------------------------------------


class TestIssue12:
    def test_float64_probabilities_at_zero_and_one(self):
        # item 9: the clamp compared in float32, where float64's tiny is 0: NaN and inf
        kl = keras_losses
        for dtype in (None, "float64"):
            zero = kl.BinaryFocalLoss(dtype=dtype)(np.array([[0.0]]), np.array([[0.0]]))
            assert float(zero) == 0.0  # y = 0, p = 0: nothing wrong, no loss (Keras: 0.0)
        value = kl.binary_focal_loss(np.array([[1.0]]), np.array([[0.0]], "float64"))
        if keras.backend.standardize_dtype(value.dtype) == "float64":
            # p = 0 moved to the float64 tiny: 0.25 * -log(2.2250738585072014e-308)
            np.testing.assert_allclose(float(value[0]), 0.25 * 708.3964185322641, rtol=1e-6)
        assert np.isfinite(float(value[0]))

    @pytest.mark.parametrize("alpha", [np.ones((2, 3)), np.ones((1, 3)), [[0.5, 1.0, 2.0]]])
    def test_two_dimensional_alpha_is_refused(self, alpha):
        # item 14: a (2, 3) array was flattened into six class weights
        for cls in (CategoricalFocalLoss, SparseCategoricalFocalLoss):
            with pytest.raises(ValueError, match="Invalid value for argument `alpha`"):
                cls(alpha=alpha)

    def test_one_dimensional_array_alpha_is_accepted(self):
        assert CategoricalFocalLoss(alpha=np.array([0.5, 1.0])).alpha == [0.5, 1.0]

    def test_categorical_from_logits_beyond_the_float_range(self):
        # item 16: log_softmax of -3e38 - 3e38 is -inf, and its label weight 0 made 0 * inf
        loss = CategoricalFocalLoss(from_logits=True, reduction=None)
        y_pred = np.array([[3e38, -3e38, 0.0]], "float32")
        np.testing.assert_array_equal(loss(np.array([[1.0, 0.0, 0.0]]), y_pred), [0.0])
        _, grad = harness.value_and_grad(lambda x: loss(np.array([[1.0, 0.0, 0.0]], "float32"), x), y_pred)
        assert np.all(np.isfinite(grad))


@pytest.mark.parametrize("axis", [1.5, "x", None, True])
def test_functions_check_axis(axis):
    """`axis` is checked by the functions as by the classes (`_validation`'s rule)."""
    logits = np.zeros((2, 3), "float32")
    one_hot = np.eye(3, dtype="float32")[[0, 1]]
    calls = [
        lambda: binary_focal_loss(one_hot, logits, axis=axis),
        lambda: categorical_focal_loss(one_hot, logits, axis=axis),
        lambda: sparse_categorical_focal_loss(np.array([0, 1]), logits, axis=axis),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="Invalid value for argument `axis`"):
            call()
