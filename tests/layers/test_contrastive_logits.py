import math

import keras
import numpy as np
import pytest

from keras_losses import CLIPLoss
from keras_losses import SigLIPLoss
from keras_losses.layers import ContrastiveLogits
from tests import harness

A = np.array([[3.0, 0.0], [0.0, 1.0]])
B = np.array([[2.0, 0.0], [1.0, 1.0]])
# By hand, cosine similarities of A's rows with B's rows: [[1, 1/sqrt(2)], [0, 1/sqrt(2)]]
COSINES = np.array([[1.0, 1 / math.sqrt(2)], [0.0, 1 / math.sqrt(2)]])


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


def _two_tower(layer, loss, dim=4):
    images, texts = keras.Input((3,)), keras.Input((5,))
    towers = [keras.layers.Dense(dim, name="image_tower")(images), keras.layers.Dense(dim, name="text_tower")(texts)]
    model = keras.Model([images, texts], layer(towers))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss)
    return model


def _separable_pairs(n=16, seed=0):
    """Paired views that a linear tower can match perfectly: the loss keeps asking
    for a larger scale."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, 3)).astype("float32")
    texts = np.concatenate([latent, latent[:, :2]], axis=1)
    return [latent, texts], np.arange(n, dtype="int64")


class TestContrastiveLogits:
    def test_config(self):
        layer = ContrastiveLogits(logit_scale=10.0, max_logit_scale=50.0, learn_scale=False,
                                  logit_bias=-5.0, across_replicas=True, name="logits")
        config = layer.get_config()
        assert {k: config[k] for k in ("logit_scale", "max_logit_scale", "learn_scale", "logit_bias", "across_replicas")} == {
            "logit_scale": 10.0,
            "max_logit_scale": 50.0,
            "learn_scale": False,
            "logit_bias": -5.0,
            "across_replicas": True,
        }
        assert ContrastiveLogits.from_config(config).get_config() == config

    def test_defaults_are_clips(self):
        layer = ContrastiveLogits()
        layer.build([(None, 2), (None, 2)])
        np.testing.assert_allclose(float(_numpy(layer.log_scale)), math.log(1 / 0.07), rtol=1e-6)
        assert layer.bias is None and layer.max_logit_scale == 100.0

    def test_scaled_cosine_similarities(self):
        logits = ContrastiveLogits(logit_scale=10.0)([A, B])
        np.testing.assert_allclose(_numpy(logits), 10.0 * COSINES, rtol=1e-6, atol=1e-6)

    def test_bias(self):
        logits = ContrastiveLogits(logit_scale=10.0, logit_bias=-10.0)([A, B])
        np.testing.assert_allclose(_numpy(logits), 10.0 * COSINES - 10.0, rtol=1e-6, atol=1e-5)

    def test_batches_of_different_sizes_for_zero_shot(self):
        # n images against k class prompts: (n, k) logits with the learned scale.
        rng = np.random.default_rng(0)
        logits = ContrastiveLogits()([rng.normal(size=(5, 4)), rng.normal(size=(3, 4))])
        assert tuple(logits.shape) == (5, 3)

    def test_zero_embedding_is_finite_with_finite_gradient(self):
        a = np.array([[0.0, 0.0], [1.0, 2.0]])
        layer = ContrastiveLogits()
        value, grad = harness.value_and_grad(lambda x: layer([x, B]), a)
        np.testing.assert_array_equal(value[0], [0.0, 0.0])
        assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))

    def test_forward_never_uses_more_than_the_maximum(self):
        layer = ContrastiveLogits(logit_scale=10.0, max_logit_scale=20.0)
        layer([A, B])
        layer.log_scale.assign(math.log(1000.0))  # as if set from outside the optimizer
        np.testing.assert_allclose(_numpy(layer([A, B])), 20.0 * COSINES, rtol=1e-6, atol=1e-5)
        np.testing.assert_allclose(float(_numpy(layer.scale)), 20.0, rtol=1e-6)

    def test_scale_constraint_holds_after_training_at_a_high_learning_rate(self):
        # Both inputs are the same vectors: every pair already matches best, so the
        # loss only ever asks for a larger scale, and SGD at 100 overshoots at once.
        layer = ContrastiveLogits(logit_scale=10.0, max_logit_scale=20.0)
        inputs = keras.Input((3,))
        model = keras.Model(inputs, layer([inputs, inputs]))
        model.compile(optimizer=keras.optimizers.SGD(100.0), loss=CLIPLoss())
        x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
        for _ in range(3):
            model.fit(x, np.arange(16), batch_size=16, epochs=1, verbose=0)
            # The constraint runs after every update: the variable itself is clipped,
            # not only the scale the forward pass uses.
            np.testing.assert_allclose(float(_numpy(layer.log_scale)), math.log(20.0), rtol=1e-6)
        np.testing.assert_allclose(float(_numpy(layer.scale)), 20.0, rtol=1e-5)

    def test_learn_scale_false_keeps_the_scale(self):
        layer = ContrastiveLogits(logit_scale=5.0, learn_scale=False)
        model = _two_tower(layer, CLIPLoss())
        x, y = _separable_pairs()
        model.fit(x, y, batch_size=16, epochs=2, verbose=0)
        np.testing.assert_allclose(float(_numpy(layer.scale)), 5.0, rtol=1e-6)
        assert len(layer.trainable_weights) == 0

    def test_scale_and_bias_are_learned(self):
        layer = ContrastiveLogits(logit_scale=5.0, logit_bias=-10.0)
        model = _two_tower(layer, SigLIPLoss())
        x, y = _separable_pairs()
        model.fit(x, y, batch_size=16, epochs=2, verbose=0)
        assert float(_numpy(layer.scale)) != pytest.approx(5.0)
        assert float(_numpy(layer.bias)) != pytest.approx(-10.0)

    def test_reload_keeps_the_learned_scale(self, tmp_path):
        keras.utils.set_random_seed(0)
        layer = ContrastiveLogits(logit_scale=5.0, logit_bias=-2.0, name="logits")
        model = _two_tower(layer, CLIPLoss())
        x, y = _separable_pairs()
        model.fit(x, y, batch_size=16, epochs=3, verbose=0)
        learned = float(_numpy(layer.scale))
        assert learned != pytest.approx(5.0)
        path = str(tmp_path / "two_tower.keras")
        model.save(path)
        restored = keras.saving.load_model(path)
        np.testing.assert_allclose(float(_numpy(restored.get_layer("logits").scale)), learned, rtol=1e-6)
        np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)

    @pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
    def test_mixed_precision_gives_float32_logits_and_finite_losses(self, policy):
        keras.config.set_dtype_policy(policy)
        layer = ContrastiveLogits(logit_bias=-10.0)
        # Embeddings whose squared norm (64 * 300**2 = 5.8e6) overflows float16.
        a = keras.ops.cast(np.full((4, 64), 300.0) + np.arange(4)[:, None], "float16")
        logits = layer([a, a])
        assert keras.backend.standardize_dtype(logits.dtype) == "float32"
        assert np.all(np.isfinite(_numpy(logits)))
        for loss in (CLIPLoss(), SigLIPLoss()):
            value = loss(np.arange(4), logits)
            assert keras.backend.standardize_dtype(value.dtype) == "float32"
            assert np.isfinite(float(_numpy(value)))

    def test_mixed_precision_training(self):
        keras.config.set_dtype_policy("mixed_bfloat16")
        model = _two_tower(ContrastiveLogits(), CLIPLoss())
        x, y = _separable_pairs()
        history = model.fit(x, y, batch_size=16, epochs=2, verbose=0)
        assert np.all(np.isfinite(history.history["loss"]))

    def test_across_replicas_outside_a_strategy_returns_both_directions(self):
        plain = _numpy(ContrastiveLogits(logit_scale=10.0)([A, B]))
        block = ContrastiveLogits(logit_scale=10.0, across_replicas=True)([A, B])
        np.testing.assert_allclose(_numpy(block), np.concatenate([plain, plain.T], axis=1), rtol=1e-6, atol=1e-6)

    def test_across_replicas_needs_batches_of_one_size(self):
        with pytest.raises(ValueError, match=r"\(2, 2\) and \(3, 2\)"):
            ContrastiveLogits(across_replicas=True)([A, np.zeros((3, 2))])

    def test_functional_output_spec(self):
        images, texts = keras.Input((4,), batch_size=8), keras.Input((4,), batch_size=8)
        assert tuple(ContrastiveLogits()([images, texts]).shape) == (8, 8)
        assert tuple(ContrastiveLogits(across_replicas=True)([images, texts]).shape) == (8, None)

    @pytest.mark.parametrize("inputs", [[A], [A, B, B], [A, np.zeros((2, 3))], [A[0], B]])
    def test_wrong_inputs_raise(self, inputs):
        with pytest.raises(ValueError, match="ContrastiveLogits takes"):
            ContrastiveLogits()(inputs)

    @pytest.mark.parametrize(
        "kwargs,argument",
        [
            ({"logit_scale": 200.0}, "logit_scale"),
            ({"logit_scale": 0.0}, "logit_scale"),
            ({"logit_scale": -1.0}, "logit_scale"),
            ({"logit_scale": float("nan")}, "logit_scale"),
            ({"logit_scale": float("inf")}, "logit_scale"),
            ({"max_logit_scale": 0.0}, "max_logit_scale"),
            ({"max_logit_scale": float("inf")}, "max_logit_scale"),
            ({"max_logit_scale": float("nan")}, "max_logit_scale"),
            ({"logit_scale": 20.0, "max_logit_scale": 10.0}, "logit_scale"),
            ({"learn_scale": 1}, "learn_scale"),
            ({"logit_bias": float("nan")}, "logit_bias"),
            ({"logit_bias": "-10"}, "logit_bias"),
            ({"across_replicas": "no"}, "across_replicas"),
        ],
    )
    def test_invalid_arguments(self, kwargs, argument):
        with pytest.raises(ValueError, match=f"Invalid value for argument `{argument}`"):
            ContrastiveLogits(**kwargs)

    def test_error_message_form(self):
        with pytest.raises(ValueError) as info:
            ContrastiveLogits(logit_scale=200)
        assert str(info.value) == (
            "Invalid value for argument `logit_scale`: expected a positive float at most "
            "max_logit_scale=100.0. Received: logit_scale=200"
        )


class TestIssue12:
    """Issue 12, item 15."""

    @pytest.mark.parametrize("magnitude", [1e-30, 1e-7, 1.0, 1e20, 1e37])
    def test_direction_only_at_tiny_and_huge_norms(self, magnitude):
        # the same direction at any scale: cosine 1 with [3, 4], so the logit is the
        # scale 10 (was 0.10 at 1e-7 and 0.0 at 1e20)
        layer = ContrastiveLogits(logit_scale=10.0)
        a = np.array([[3.0, 4.0], [4.0, -3.0]], "float32") * np.float32(magnitude)
        logits = keras.ops.convert_to_numpy(layer([a, np.array([[3.0, 4.0]], "float32")]))
        np.testing.assert_allclose(logits, [[10.0], [0.0]], atol=1e-5)

    def test_gradient_of_a_huge_embedding_is_finite_and_tangent(self):
        layer = ContrastiveLogits(logit_scale=10.0)
        b = np.array([[1.0, 0.0]], "float32")
        a = np.array([[1e20, 1e20]], "float32")
        value, grad = harness.value_and_grad(lambda x: layer([x, b]), a)
        np.testing.assert_allclose(value, [[10.0 / math.sqrt(2)]], rtol=1e-5)
        assert np.all(np.isfinite(grad))
        # d/da of 10 * a_0 / |a| at a = (t, t): 10 * (1/|a| - a_0^2 / |a|^3) = 10 / (2 sqrt(2) t)
        np.testing.assert_allclose(grad[0, 0], 10 / (2 * math.sqrt(2) * 1e20), rtol=1e-4)

    def test_zero_embedding_still_gives_zeros(self):
        logits = ContrastiveLogits()([np.zeros((1, 2), "float32"), np.ones((1, 2), "float32")])
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(logits), [[0.0]])

    def test_one_input_says_two_are_needed(self):
        # was TypeError: 'int' object is not iterable
        with pytest.raises(ValueError, match=r"list of two embedding tensors \[a, b\]; received one input of shape \(2, 3\)"):
            ContrastiveLogits()(np.ones((2, 3), "float32"))
        with pytest.raises(ValueError, match="list of two embedding tensors"):
            ContrastiveLogits()([np.ones((2, 3), "float32")])

    @pytest.mark.parametrize("value", [1e300, 1e39, float(np.finfo("float32").max)])
    def test_max_logit_scale_beyond_float32_is_refused(self, value):
        with pytest.raises(ValueError, match="Invalid value for argument `max_logit_scale`"):
            ContrastiveLogits(max_logit_scale=value)

    def test_logit_bias_beyond_float32_is_refused(self):
        with pytest.raises(ValueError, match="Invalid value for argument `logit_bias`"):
            ContrastiveLogits(logit_bias=-1e300)

    def test_largest_accepted_scale_and_bias_give_finite_logits(self):
        largest = float(np.finfo("float32").max) / 2
        layer = ContrastiveLogits(logit_scale=largest * 0.99, max_logit_scale=largest, logit_bias=largest * 0.99)
        logits = keras.ops.convert_to_numpy(layer([np.eye(2, dtype="float32"), np.eye(2, dtype="float32")]))
        assert np.all(np.isfinite(logits))

    def test_a_tampered_config_is_refused_on_load(self):
        config = ContrastiveLogits().get_config()
        config["max_logit_scale"] = 1e300
        # Keras's Layer.from_config wraps the ValueError in a TypeError that quotes it
        with pytest.raises((ValueError, TypeError), match="Invalid value for argument `max_logit_scale`"):
            ContrastiveLogits.from_config(config)
