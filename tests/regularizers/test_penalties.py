import math

import hypothesis
import hypothesis.extra.numpy as hnp
import keras
import numpy as np
import pytest
from hypothesis import strategies as st

import keras_losses
from keras_losses.regularizers import L1
from keras_losses.regularizers import L2
from keras_losses.regularizers import ElasticNet
from keras_losses.regularizers import GroupLasso
from keras_losses.regularizers import MaxNormPenalty
from keras_losses.testing import backends
from keras_losses.testing.reference import regularizers as reference
from tests import harness

test_reference_equality = harness.reference_equality_test("regularizers")

# A 3 x 2 kernel worked by hand throughout:
#   sum |w| = 3 + 4 + 0 + 0 + 1 + 2 = 10
#   sum w^2 = 9 + 16 + 0 + 0 + 1 + 4 = 30
#   row norms (axis=1): 5, 0, sqrt(5);  column norms (axis=0): sqrt(10), sqrt(20)
W = np.array([[3.0, -4.0], [0.0, 0.0], [1.0, 2.0]], dtype="float32")

BAD_STRENGTHS = [-1, -1e-9, float("nan"), float("inf"), -float("inf"), "0.1", None, True]
ALL = [L1, L2, ElasticNet, MaxNormPenalty, GroupLasso]
TINY = float(np.float32(1e-20))  # its square underflows float32


def value(regularizer, w=W):
    return float(keras.ops.convert_to_numpy(regularizer(keras.ops.convert_to_tensor(w))))


def _strength_arguments(cls):
    return {
        L1: ["l1"],
        L2: ["l2"],
        ElasticNet: ["l1", "l2"],
        MaxNormPenalty: ["max_value", "strength"],
        GroupLasso: ["strength"],
    }[cls]


class TestCommon:
    @pytest.mark.parametrize("cls", ALL)
    def test_is_a_keras_regularizer(self, cls):
        assert isinstance(cls(), keras.regularizers.Regularizer)

    @pytest.mark.parametrize("cls", ALL)
    def test_exported_at_top_level_and_in_submodule(self, cls):
        assert getattr(keras_losses, cls.__name__) is cls
        assert getattr(keras_losses.regularizers, cls.__name__) is cls

    @pytest.mark.parametrize("cls", ALL)
    def test_defaults_penalize(self, cls):
        # Keras's L1L2() defaults to zero factors; none of ours is zero by default.
        big = 10.0 * np.ones((4, 4), "float32")  # every norm (20) above max_value 3
        assert value(cls(), big) > 0

    @pytest.mark.parametrize("cls", ALL)
    def test_dict_form_resolves_to_our_class(self, cls):
        # Keras has an L1 and an L2 of its own: the registered name must win.
        regularizer = cls()
        restored = keras.regularizers.get(keras.regularizers.serialize(regularizer))
        assert type(restored) is cls
        assert restored.get_config() == regularizer.get_config()

    @pytest.mark.parametrize("cls", ALL)
    def test_layer_argument(self, cls):
        layer = keras.layers.Dense(2, kernel_initializer="ones", kernel_regularizer=cls())
        layer.build((None, 3))
        assert len(layer.losses) == 1
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(layer.losses[0]), value(cls(), np.ones((3, 2))), rtol=1e-6
        )

    @pytest.mark.parametrize(
        "cls,argument",
        [(cls, arg) for cls in ALL for arg in _strength_arguments(cls)],
    )
    @pytest.mark.parametrize("bad", BAD_STRENGTHS)
    def test_invalid_strength(self, cls, argument, bad):
        with pytest.raises(ValueError, match=f"Invalid value for argument `{argument}`"):
            cls(**{argument: bad})

    def test_error_message_form(self):
        with pytest.raises(ValueError) as info:
            L2(l2=-1)
        assert str(info.value) == (
            "Invalid value for argument `l2`: expected a non-negative float. Received: l2=-1"
        )

    @pytest.mark.parametrize("cls", [L1, L2, ElasticNet])
    def test_zero_strength_is_allowed_and_zero(self, cls):
        arguments = {name: 0.0 for name in _strength_arguments(cls)}
        assert value(cls(**arguments)) == 0.0

    @pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
    @pytest.mark.parametrize("cls", ALL)
    def test_16_bit_weights_give_a_finite_float32_value(self, cls, dtype):
        # sum(w**2) = 40000 * 100 = 4e6 overflows float16 (max 65504); the penalty
        # is computed in float32.
        w = keras.ops.cast(10.0 * np.ones((200, 200), "float32"), dtype)
        result = cls()(w)
        assert keras.backend.standardize_dtype(result.dtype) == "float32"
        assert np.isfinite(keras.ops.convert_to_numpy(result))

    def test_builtin_overflows_where_ours_does_not(self):
        w = keras.ops.cast(10.0 * np.ones((200, 200), "float32"), "float16")
        builtin = float(keras.ops.convert_to_numpy(keras.ops.cast(keras.regularizers.L2(0.01)(w), "float32")))
        assert math.isinf(builtin)  # what a float16 penalty gives
        np.testing.assert_allclose(value(L2(0.01), w), 0.01 * 4e6, rtol=1e-6)

    @pytest.mark.parametrize("cls", ALL)
    def test_float64_weights_stay_float64(self, cls):
        if keras.backend.backend() != "torch":
            pytest.skip("keras.ops.convert_to_tensor turns float64 NumPy into float32 here")
        import torch

        result = cls()(torch.ones((3, 3), dtype=torch.float64))
        assert result.dtype == torch.float64


class TestL1:
    def test_config(self):
        assert L1(l1=0.3).get_config() == {"l1": 0.3}
        assert L1.from_config({"l1": 0.3}).l1 == 0.3
        assert L1().l1 == 0.01

    def test_worked_by_hand(self):
        assert value(L1(0.1)) == pytest.approx(0.1 * 10)

    def test_equals_builtin(self):
        np.testing.assert_allclose(value(L1(0.3)), float(keras.regularizers.L1(0.3)(W)), rtol=1e-6)

    def test_int_strength_is_stored_as_float(self):
        assert L1(l1=1).get_config() == {"l1": 1.0}


class TestL2:
    def test_config(self):
        assert L2(l2=0.3, half=True).get_config() == {"l2": 0.3, "half": True}
        assert L2().get_config() == {"l2": 0.01, "half": False}

    def test_worked_by_hand(self):
        assert value(L2(0.1)) == pytest.approx(0.1 * 30)
        assert value(L2(0.1, half=True)) == pytest.approx(0.1 * 30 / 2)

    def test_half_with_twice_the_strength_equals_full(self):
        assert value(L2(0.2, half=True)) == pytest.approx(value(L2(0.1)))

    def test_equals_builtin(self):
        np.testing.assert_allclose(value(L2(0.3)), float(keras.regularizers.L2(0.3)(W)), rtol=1e-6)

    def test_half_equals_tf_nn_l2_loss(self):
        if keras.backend.backend() != "tensorflow":
            pytest.skip("tf.nn.l2_loss is TensorFlow's")
        import tensorflow as tf

        np.testing.assert_allclose(value(L2(0.3, half=True)), float(0.3 * tf.nn.l2_loss(W)), rtol=1e-6)

    def test_half_gradient_is_strength_times_weight(self):
        # d/dw (l2 * sum(w^2) / 2) = l2 * w: the CS231n convention.
        _, grad = harness.value_and_grad(L2(0.3, half=True), W)
        np.testing.assert_allclose(grad, 0.3 * W, rtol=1e-6)

    @pytest.mark.parametrize("half", [1, "yes", None])
    def test_invalid_half(self, half):
        with pytest.raises(ValueError, match="Invalid value for argument `half`"):
            L2(half=half)


class TestElasticNet:
    def test_config(self):
        assert ElasticNet(l1=0.2, l2=0.05).get_config() == {"l1": 0.2, "l2": 0.05}

    def test_worked_by_hand(self):
        assert value(ElasticNet(l1=0.1, l2=0.2)) == pytest.approx(0.1 * 10 + 0.2 * 30)

    def test_equals_builtin_l1l2(self):
        builtin = keras.regularizers.L1L2(l1=0.2, l2=0.05)
        np.testing.assert_allclose(value(ElasticNet(l1=0.2, l2=0.05)), float(builtin(W)), rtol=1e-6)

    def test_is_l1_plus_l2(self):
        assert value(ElasticNet(0.2, 0.05)) == pytest.approx(value(L1(0.2)) + value(L2(0.05)))


class TestMaxNormPenalty:
    def test_config(self):
        config = MaxNormPenalty(max_value=2.0, strength=0.5, axis=[0, 1, 2]).get_config()
        assert config == {"max_value": 2.0, "strength": 0.5, "axis": [0, 1, 2]}
        assert MaxNormPenalty().get_config() == {"max_value": 3.0, "strength": 0.01, "axis": 0}

    def test_worked_by_hand(self):
        # column norms sqrt(10) = 3.162, sqrt(20) = 4.472; above 3: 0.162 and 1.472
        expected = 0.5 * ((math.sqrt(10) - 3) ** 2 + (math.sqrt(20) - 3) ** 2)
        assert value(MaxNormPenalty(max_value=3.0, strength=0.5)) == pytest.approx(expected, rel=1e-6)
        # row norms 5, 0, 2.236: only the first exceeds 3
        assert value(MaxNormPenalty(3.0, 0.5, axis=1)) == pytest.approx(0.5 * 4.0, rel=1e-6)

    def test_zero_within_the_bound(self):
        assert value(MaxNormPenalty(max_value=5.0)) == 0.0

    def test_max_value_zero_is_l2(self):
        # max(0, norm - 0)**2 = norm**2: the sum of squares over every group
        assert value(MaxNormPenalty(max_value=0.0, strength=0.1)) == pytest.approx(value(L2(0.1)), rel=1e-6)

    def test_same_axis_convention_as_the_maxnorm_constraint(self):
        # keras.constraints.MaxNorm(axis=0) rescales the columns whose norm exceeds
        # the bound; after it, the penalty along the same axis is zero.
        constrained = keras.constraints.MaxNorm(max_value=3.0, axis=0)(keras.ops.convert_to_tensor(W))
        assert value(MaxNormPenalty(max_value=3.0 + 1e-4), keras.ops.convert_to_numpy(constrained)) == 0.0

    @pytest.mark.parametrize("axis", [1.0, "0", [], [0, 0], [0, "1"], None, True])
    def test_invalid_axis(self, axis):
        with pytest.raises(ValueError, match="Invalid value for argument `axis`"):
            MaxNormPenalty(axis=axis)


class TestGroupLasso:
    def test_config(self):
        assert GroupLasso(strength=0.3, axis=0).get_config() == {"strength": 0.3, "axis": 0}
        assert GroupLasso().get_config() == {"strength": 0.01, "axis": 1}

    def test_worked_by_hand(self):
        # rows: 5 + 0 + sqrt(5)
        assert value(GroupLasso(0.1)) == pytest.approx(0.1 * (5 + math.sqrt(5)), rel=1e-6)
        # columns: sqrt(10) + sqrt(20)
        assert value(GroupLasso(0.1, axis=0)) == pytest.approx(0.1 * (math.sqrt(10) + math.sqrt(20)), rel=1e-6)

    def test_negative_axis(self):
        assert value(GroupLasso(0.1, axis=-1)) == pytest.approx(value(GroupLasso(0.1, axis=1)))

    def test_groups_of_one_are_l1(self):
        column = W[:, :1]  # (3, 1): each row is one weight
        assert value(GroupLasso(0.1), column) == pytest.approx(value(L1(0.1), column))

    def test_gradient_of_a_row_is_its_direction(self):
        # d ||r|| / d r = r / ||r||; 0 for the zero row (a subgradient)
        _, grad = harness.value_and_grad(GroupLasso(1.0), W)
        expected = np.array([[0.6, -0.8], [0.0, 0.0], [1.0, 2.0] / np.sqrt(5)])
        np.testing.assert_allclose(grad, expected, rtol=1e-6)


class TestAxisTheWeightLacks:
    @pytest.mark.parametrize(
        "regularizer",
        [GroupLasso(axis=1), GroupLasso(axis=-2), MaxNormPenalty(axis=[0, 2]), MaxNormPenalty(axis=3)],
        ids=repr,
    )
    def test_raises_naming_axis_and_shape(self, regularizer):
        bias = np.ones((4,), "float32")
        with pytest.raises(ValueError, match=r"shape \(4,\) has no axis"):
            regularizer(bias)

    def test_same_axis_twice(self):
        with pytest.raises(ValueError, match="twice"):
            GroupLasso(axis=[1, -1])(W)

    def test_in_a_layer_it_raises_when_the_weight_is_made(self):
        layer = keras.layers.Dense(2, bias_regularizer=GroupLasso(axis=1))
        layer.build((None, 3))
        with pytest.raises(ValueError, match="axis=1"):
            layer.losses


@pytest.mark.parametrize("mode", harness.mode_params())
@pytest.mark.parametrize(
    "regularizer",
    [GroupLasso(), GroupLasso(axis=0), MaxNormPenalty(max_value=0.0), MaxNormPenalty(axis=[0, 1])],
    ids=repr,
)
def test_gradient_finite_at_zero(regularizer, mode):
    value_, grad = harness.value_and_grad(regularizer, np.zeros((3, 4), "float32"), mode=mode)
    assert value_ == 0.0
    np.testing.assert_array_equal(grad, 0.0)


@hypothesis.given(
    hnp.arrays(
        np.float32,
        (4, 3),
        elements=st.one_of(st.just(0.0), st.floats(-TINY, TINY, width=32), st.floats(-1e3, 1e3, width=32)),
    )
)
def test_gradients_finite_everywhere(weights):
    for regularizer in (GroupLasso(), GroupLasso(axis=0), MaxNormPenalty(max_value=0.0), MaxNormPenalty(1.0, axis=1)):
        value_, grad = harness.value_and_grad(regularizer, weights)
        assert np.isfinite(value_) and np.all(np.isfinite(grad)), regularizer


@hypothesis.given(hnp.arrays(np.float64, (3, 5), elements=st.floats(-10, 10)))
def test_values_equal_numpy_formulas(weights):
    x = weights.astype("float32")
    seen = x.astype(np.float64)
    checks = [
        (L1(0.3), reference.l1_penalty(seen, 0.3)),
        (L2(0.3, half=True), reference.l2_penalty(seen, 0.3, half=True)),
        (ElasticNet(0.1, 0.2), reference.elastic_net_penalty(seen, 0.1, 0.2)),
        (MaxNormPenalty(2.0, 0.5, axis=1), reference.max_norm_penalty(seen, 2.0, 0.5, axis=1)),
        (GroupLasso(0.3, axis=0), reference.group_lasso_penalty(seen, 0.3, axis=0)),
    ]
    for regularizer, expected in checks:
        np.testing.assert_allclose(value(regularizer, x), expected, rtol=2e-5, atol=1e-6)


class TestGroupLassoSelectsFeatures:
    """Only 3 of 12 input features matter: the others' rows are driven towards zero."""

    RELEVANT = 3
    FEATURES = 12
    FRACTION = 0.05  # irrelevant row norms end below 5% of the smallest relevant one

    def data(self):
        rng = np.random.default_rng(0)
        x = rng.normal(size=(64, self.FEATURES)).astype("float32")
        true_kernel = rng.uniform(0.5, 1.5, (self.RELEVANT, 4)) * rng.choice([-1, 1], (self.RELEVANT, 4))
        y = x[:, : self.RELEVANT] @ true_kernel + 0.3 * rng.normal(size=(64, 4))
        return x, y.astype("float32")

    def row_norms(self, regularizer):
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [keras.Input((self.FEATURES,)), keras.layers.Dense(4, kernel_regularizer=regularizer)]
        )
        model.compile(optimizer=keras.optimizers.SGD(0.2), loss="mse")
        x, y = self.data()
        # 60 full-batch SGD steps, as one epoch (an epoch of fit has a fixed cost)
        steps = 60
        model.fit(np.tile(x, (steps, 1)), np.tile(y, (steps, 1)), batch_size=64, shuffle=False, verbose=0)
        kernel = keras.ops.convert_to_numpy(model.layers[-1].kernel)
        return np.linalg.norm(kernel, axis=1)

    @pytest.mark.slow
    def test_irrelevant_rows_shrink_towards_zero(self):
        norms = self.row_norms(GroupLasso(strength=0.1))
        relevant, irrelevant = norms[: self.RELEVANT], norms[self.RELEVANT :]
        assert np.max(irrelevant) < self.FRACTION * np.min(relevant), norms
        # Subgradient steps overshoot around zero rather than land on it.
        assert np.all(irrelevant > 0), norms
        # Without the penalty, the noise keeps them well away from zero.
        unregularized = self.row_norms(None)[self.RELEVANT :]
        assert np.mean(irrelevant) < 0.25 * np.mean(unregularized), (irrelevant, unregularized)


class TestIssue12:
    """Issue 12, item 16: norms scaled before squaring; gradients finite at 0 and 1e20."""

    def test_group_lasso_of_a_huge_weight(self):
        # 0.01 * |2e19| = 2e17 (the sum of squares 4e38 overflowed float32 to inf)
        value = GroupLasso(0.01)(np.full((1, 1), 2e19, "float32"))
        np.testing.assert_allclose(float(value), 2e17, rtol=1e-6)

    def test_group_lasso_of_a_tiny_weight(self):
        # 1e-30 squared underflows float32 to 0: the norm was 0, it is 5e-30
        value = GroupLasso(1.0)(np.array([[3e-30, 4e-30]], "float32"))
        np.testing.assert_allclose(float(value), 5e-30, rtol=1e-6)

    @pytest.mark.parametrize("penalty", [GroupLasso(0.01), MaxNormPenalty(max_value=3.0, strength=0.01, axis=1)], ids=repr)
    @pytest.mark.parametrize("magnitude", [0.0, 1e-30, 1e20])
    def test_gradient_is_finite(self, penalty, magnitude):
        w = np.full((2, 2), magnitude, "float32")
        w[0, 1] = 0.0
        value, grad = harness.value_and_grad(lambda x: penalty(x), w)
        assert np.all(np.isfinite(grad)), grad
        assert np.isfinite(value)

    def test_max_norm_penalty_at_1e20(self):
        # 0.01 * (1e20 - 3)**2 = 1e38: finite in float32 (1e20**2 alone is not)
        w = np.array([[1e20]], "float32")
        value, grad = harness.value_and_grad(lambda x: MaxNormPenalty(3.0, 0.01)(x), w)
        np.testing.assert_allclose(value, 1e38, rtol=1e-5)
        # d/dw of 0.01 * (|w| - 3)**2 = 0.02 * (w - 3) = 2e18
        np.testing.assert_allclose(grad, [[2e18]], rtol=1e-5)
