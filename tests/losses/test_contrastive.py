import json
import math
import os
import subprocess
import sys

import hypothesis
import keras
import numpy as np
import pytest
from hypothesis import strategies as st

from keras_losses import CLIPLoss
from keras_losses import ContrastiveLogits
from keras_losses import SigLIPLoss
from keras_losses import clip_loss
from keras_losses import siglip_loss
from keras_losses.testing.reference import contrastive as reference
from tests import harness

test_reference_equality = harness.reference_equality_test("contrastive")

# Two pairs scored 2 on the diagonal and 0 off it. By hand:
#   CLIP, each row and each column: -log_softmax([2, 0])[0] = log(1 + e**-2) = 0.126928
#   SigLIP, each row: softplus(-2) + softplus(0) = 0.126928 + log(2) = 0.820075
DIAGONAL = np.array([[2.0, 0.0], [0.0, 2.0]])
CLIP_DIAGONAL = math.log1p(math.exp(-2.0))
SIGLIP_DIAGONAL = CLIP_DIAGONAL + math.log(2.0)
# Had the ids been merged (2**24 + 1 becomes 2**24 in float32), every cell would match:
#   CLIP: logsumexp([2, 0]) - mean([2, 0]) = log(e**2 + 1) - 1 = 1.126928
#   SigLIP: softplus(-2) + softplus(-0) = 0.820075 as well, so the test uses other logits.
LARGE_IDS = np.array([2**24, 2**24 + 1], dtype="int64")

# Three examples, the first two sharing an id. By hand, with L below:
#   example 0 (and 1): row [1, 1, 0], half the target on each of its two matches:
#       logsumexp([1, 1, 0]) - (1 + 1) / 2 = log(2e + 1) - 1 = 0.862009; L is symmetric,
#       so its column gives the same.
#   example 2: row [0, 0, 1]: log(2 + e) - 1 = 0.551445
REPEATED_IDS = np.array([5, 5, 7])
REPEATED_LOGITS = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
CLIP_REPEATED = np.array(
    [math.log(2 * math.e + 1) - 1, math.log(2 * math.e + 1) - 1, math.log(2 + math.e) - 1]
)


def _random_pairs(n=6, seed=0, repeated=False):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 3, n) if repeated else rng.permutation(n) + 1000
    return ids, rng.normal(0.0, 2.0, (n, n))


def _fixed_logits_model(loss, logit_scale, bias=None):
    """Inputs `x`; logits `logit_scale * cos(x_i, x_j) (+ bias)`, nothing trainable
    but the bias (SGD at rate 0 leaves it as it is)."""
    inputs = keras.Input((2,))
    layer = ContrastiveLogits(logit_scale=logit_scale, learn_scale=False, logit_bias=bias)
    model = keras.Model(inputs, layer([inputs, inputs]))
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss=loss)
    return model


class TestCLIPLoss:
    def test_config(self):
        config = CLIPLoss(across_replicas=True, name="c").get_config()
        assert config == {
            "name": "c",
            "reduction": "sum_over_batch_size",
            "dtype": None,
            "across_replicas": True,
            "tiled": False,
            "tile_size": 256,
        }
        assert CLIPLoss.from_config(config).across_replicas is True
        assert CLIPLoss().name == "clip_loss"

    def test_worked_by_hand(self):
        values = CLIPLoss(reduction=None)(np.array([3, 8]), DIAGONAL)
        np.testing.assert_allclose(values, [CLIP_DIAGONAL] * 2, rtol=1e-6)

    def test_repeated_ids_worked_by_hand(self):
        values = CLIPLoss(reduction=None)(REPEATED_IDS, REPEATED_LOGITS)
        np.testing.assert_allclose(values, CLIP_REPEATED, rtol=1e-6)

    def test_equals_two_built_in_cross_entropies_for_unique_ids(self):
        ids, logits = _random_pairs()
        cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        arange = np.arange(len(ids))
        expected = (cross_entropy(arange, logits) + cross_entropy(arange, logits.T)) / 2
        np.testing.assert_allclose(CLIPLoss()(ids, logits), expected, rtol=1e-6)

    @hypothesis.given(
        # Few sizes: JAX's eager mode compiles every op again for each new shape.
        st.sampled_from([1, 2, 7]), st.floats(-50.0, 50.0), st.booleans(), st.integers(0, 2**31 - 1)
    )
    def test_equal_logits_give_log_n(self, n, value, repeated, seed):
        # Every row's softmax is uniform: -sum(t * log(1/n)) = log(n) whatever the targets.
        ids = np.random.default_rng(seed).integers(0, 2 if repeated else 10**6, n)
        values = clip_loss(ids, np.full((n, n), value))
        np.testing.assert_allclose(values, np.full(n, math.log(n)), rtol=1e-5, atol=1e-6)

    def test_ids_above_float32_precision_stay_distinct(self):
        values = CLIPLoss(reduction=None)(LARGE_IDS, DIAGONAL)
        np.testing.assert_allclose(values, [CLIP_DIAGONAL] * 2, rtol=1e-6)
        # The trap it avoids: the same ids through a float32 cast merge into one.
        merged = clip_loss(LARGE_IDS.astype("float32"), DIAGONAL)
        np.testing.assert_allclose(merged, [math.log(math.e**2 + 1) - 1] * 2, rtol=1e-6)

    @pytest.mark.filterwarnings("ignore:The model does not have any trainable weights")
    def test_ids_above_float32_precision_in_compiled_fit_and_evaluate(self):
        # x = identity rows, scale 2: the model outputs DIAGONAL.
        model = _fixed_logits_model(CLIPLoss(), logit_scale=2.0)
        x = np.eye(2, dtype="float32")
        history = model.fit(x, LARGE_IDS, batch_size=2, epochs=1, verbose=0)
        np.testing.assert_allclose(history.history["loss"][0], CLIP_DIAGONAL, rtol=1e-5)
        np.testing.assert_allclose(model.evaluate(x, LARGE_IDS, verbose=0), CLIP_DIAGONAL, rtol=1e-5)

    def test_ids_with_trailing_axis(self):
        ids, logits = _random_pairs(repeated=True)
        np.testing.assert_allclose(clip_loss(ids[:, None], logits), clip_loss(ids, logits))

    def test_unweighted(self):
        ids, logits = _random_pairs(repeated=True)
        expected = reference.clip_soft_targets(ids, logits).mean()
        np.testing.assert_allclose(CLIPLoss()(ids, logits), expected, rtol=1e-6)

    def test_sample_weighted(self):
        weights = np.array([2.0, 0.0, 1.0])
        loss = CLIPLoss()(REPEATED_IDS, REPEATED_LOGITS, sample_weight=weights)
        np.testing.assert_allclose(loss, np.sum(weights * CLIP_REPEATED) / 3, rtol=1e-6)

    def test_zero_weighted(self):
        loss = CLIPLoss()(REPEATED_IDS, REPEATED_LOGITS, sample_weight=np.zeros(3))
        assert float(loss) == 0.0

    def test_no_reduction(self):
        assert tuple(CLIPLoss(reduction=None)(REPEATED_IDS, REPEATED_LOGITS).shape) == (3,)

    def test_sum_reduction(self):
        loss = CLIPLoss(reduction="sum")(REPEATED_IDS, REPEATED_LOGITS)
        np.testing.assert_allclose(loss, CLIP_REPEATED.sum(), rtol=1e-6)

    def test_dtype_arg(self):
        loss = CLIPLoss(dtype="bfloat16")(REPEATED_IDS, REPEATED_LOGITS)
        assert keras.backend.standardize_dtype(loss.dtype) == "bfloat16"
        assert np.isfinite(float(keras.ops.cast(loss, "float32")))

    @pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
    def test_16_bit_logits_are_computed_in_float32(self, dtype):
        logits = keras.ops.cast(np.full((3, 3), 60.0) + np.eye(3), dtype)  # exp(60) overflows float16
        values = clip_loss(np.arange(3), logits)
        assert keras.backend.standardize_dtype(values.dtype) == "float32"
        # -log_softmax([61, 60, 60])[0] = log(1 + 2 / e)
        np.testing.assert_allclose(values, [math.log1p(2 / math.e)] * 3, rtol=1e-5)

    def test_gradient_finite_at_large_logits(self):
        ids, _ = _random_pairs(n=4)
        logits = np.where(np.eye(4) > 0, 1e4, -1e4) * np.array([1, -1, 1, -1])
        value, grad = harness.value_and_grad(lambda x: clip_loss(ids, x), logits)
        assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))

    def test_gradient_is_softmax_minus_targets(self):
        # d loss_sum / d L_ij = (softmax_rows(L)_ij - t_ij + softmax_columns(L)_ij - t_ij) / 2
        logits = REPEATED_LOGITS + np.array([[0.0, 0.5, -1.0], [0.0, 0.0, 0.0], [2.0, 0.0, 0.0]])
        rows = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        columns = np.exp(logits) / np.exp(logits).sum(0, keepdims=True)
        targets = np.array([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
        _, grad = harness.value_and_grad(lambda x: clip_loss(REPEATED_IDS, x), logits)
        np.testing.assert_allclose(grad, (rows + columns) / 2 - targets, atol=1e-6)

    @pytest.mark.parametrize("shape", [(3, 4), (4, 3)])
    def test_non_square_logits_raise(self, shape):
        with pytest.raises(ValueError, match=r"\(3,\).*\(%d, %d\).*square" % shape):
            CLIPLoss()(np.arange(3), np.zeros(shape))

    def test_ids_of_another_length_raise(self):
        with pytest.raises(ValueError, match=r"`y_true` \(4,\) and `y_pred` \(3, 3\)"):
            CLIPLoss()(np.arange(4), np.zeros((3, 3)))
        with pytest.raises(ValueError, match=r"\(3, 2\)"):
            clip_loss(np.zeros((3, 2)), np.zeros((3, 3)))

    def test_across_replicas_block_of_the_wrong_width_raises(self):
        with pytest.raises(ValueError, match=r"\(3,\).*\(3, 5\).*n_global"):
            CLIPLoss(across_replicas=True)(np.arange(3), np.zeros((3, 5)))

    @pytest.mark.parametrize("across_replicas", [1, "yes", None])
    def test_invalid_across_replicas(self, across_replicas):
        with pytest.raises(ValueError, match="Invalid value for argument `across_replicas`"):
            CLIPLoss(across_replicas=across_replicas)

    @pytest.mark.parametrize("repeated", [False, True])
    def test_across_replicas_equals_plain_form_with_one_replica(self, repeated):
        ids, logits = _random_pairs(repeated=repeated)
        block = np.concatenate([logits, logits.T], axis=1)  # what the layer returns here
        np.testing.assert_allclose(
            CLIPLoss(reduction=None, across_replicas=True)(ids, block),
            CLIPLoss(reduction=None)(ids, logits),
            rtol=1e-6,
        )


class TestSigLIPLoss:
    def test_config(self):
        config = SigLIPLoss(across_replicas=True).get_config()
        assert config["across_replicas"] is True and config["name"] == "siglip_loss"
        assert SigLIPLoss.from_config(config).get_config() == config

    def test_worked_by_hand(self):
        values = SigLIPLoss(reduction=None)(np.array([3, 8]), DIAGONAL)
        np.testing.assert_allclose(values, [SIGLIP_DIAGONAL] * 2, rtol=1e-6)

    def test_repeated_ids_worked_by_hand(self):
        # Row 0 of REPEATED_LOGITS, matches at columns 0 and 1:
        #   softplus(-1) + softplus(-1) + softplus(0) = 2 * 0.313262 + 0.693147
        # Row 2: softplus(0) + softplus(0) + softplus(-1) = 2 * 0.693147 + 0.313262
        sp1, sp0 = math.log1p(math.exp(-1.0)), math.log(2.0)
        values = SigLIPLoss(reduction=None)(REPEATED_IDS, REPEATED_LOGITS)
        np.testing.assert_allclose(values, [2 * sp1 + sp0, 2 * sp1 + sp0, 2 * sp0 + sp1], rtol=1e-6)

    def test_equals_n_times_binary_cross_entropy_per_row(self):
        ids, logits = _random_pairs()
        n = len(ids)
        expected = n * keras.losses.BinaryCrossentropy(from_logits=True, reduction=None)(np.eye(n), logits)
        np.testing.assert_allclose(siglip_loss(ids, logits), expected, rtol=1e-5)

    def test_ids_above_float32_precision_stay_distinct(self):
        logits = np.array([[2.0, -3.0], [-3.0, 2.0]])
        # By hand: softplus(-2) + softplus(-3) = 0.126928 + 0.048587 per row; merged ids
        # would give softplus(-2) + softplus(3) = 0.126928 + 3.048587.
        expected = CLIP_DIAGONAL + math.log1p(math.exp(-3.0))
        np.testing.assert_allclose(SigLIPLoss(reduction=None)(LARGE_IDS, logits), [expected] * 2, rtol=1e-6)

    def test_ids_above_float32_precision_in_compiled_fit(self):
        # Scale 5, bias -3 on identity rows: logits [[2, -3], [-3, 2]], as above.
        model = _fixed_logits_model(SigLIPLoss(), logit_scale=5.0, bias=-3.0)
        history = model.fit(np.eye(2, dtype="float32"), LARGE_IDS, batch_size=2, verbose=0)
        expected = CLIP_DIAGONAL + math.log1p(math.exp(-3.0))
        np.testing.assert_allclose(history.history["loss"][0], expected, rtol=1e-5)

    def test_sample_weighted(self):
        ids, logits = _random_pairs(repeated=True)
        weights = np.linspace(0.0, 2.0, len(ids))
        expected = np.sum(weights * reference.siglip(ids, logits)) / len(ids)
        np.testing.assert_allclose(SigLIPLoss()(ids, logits, sample_weight=weights), expected, rtol=1e-6)

    def test_zero_weighted(self):
        assert float(SigLIPLoss()(REPEATED_IDS, REPEATED_LOGITS, sample_weight=np.zeros(3))) == 0.0

    def test_no_reduction(self):
        assert tuple(SigLIPLoss(reduction=None)(REPEATED_IDS, REPEATED_LOGITS).shape) == (3,)

    def test_sum_reduction(self):
        loss = SigLIPLoss(reduction="sum")(REPEATED_IDS, REPEATED_LOGITS)
        np.testing.assert_allclose(loss, reference.siglip(REPEATED_IDS, REPEATED_LOGITS).sum(), rtol=1e-6)

    def test_dtype_arg(self):
        loss = SigLIPLoss(dtype="float16")(REPEATED_IDS, REPEATED_LOGITS)
        assert keras.backend.standardize_dtype(loss.dtype) == "float16"

    def test_gradient_finite_at_large_logits(self):
        ids, _ = _random_pairs(n=4, repeated=True)
        logits = np.random.default_rng(1).choice([-1e4, 1e4], (4, 4))
        value, grad = harness.value_and_grad(lambda x: siglip_loss(ids, x), logits)
        assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))

    def test_non_square_logits_raise(self):
        with pytest.raises(ValueError, match=r"\(2,\).*\(2, 3\)"):
            SigLIPLoss()(np.arange(2), np.zeros((2, 3)))

    def test_across_replicas_equals_plain_form_with_one_replica(self):
        ids, logits = _random_pairs(repeated=True)
        block = np.concatenate([logits, logits.T], axis=1)
        np.testing.assert_allclose(
            siglip_loss(ids, block, across_replicas=True), siglip_loss(ids, logits), rtol=1e-6
        )


def test_one_replica_outside_a_strategy():
    # Outside tf.distribute (and on JAX and PyTorch) the replica helpers are no-ops.
    from keras_losses import _backend

    x = keras.ops.convert_to_tensor(np.arange(6.0).reshape(3, 2))
    assert _backend.replica_count() == 1
    assert _backend.all_gather(x) is x


def _paired_views(rng, n, latent_dim=4, noise=0.05):
    """Two views of the same latent variables: a linear and a saturating map."""
    latent = rng.normal(size=(n, latent_dim))
    image_map, text_map = rng.normal(size=(latent_dim, 12)), rng.normal(size=(latent_dim, 10))
    images = latent @ image_map + noise * rng.normal(size=(n, 12))
    texts = np.tanh(latent @ text_map) + noise * rng.normal(size=(n, 10))
    return images.astype("float32"), texts.astype("float32")


@pytest.mark.slow
@pytest.mark.parametrize("loss_class", [CLIPLoss, SigLIPLoss])
def test_two_tower_model_learns_to_retrieve_its_partner(loss_class):
    if loss_class is SigLIPLoss and keras.backend.backend() != "tensorflow":
        # CI time: CLIP covers training on this backend; SigLIP's values and
        # gradients are checked in every mode by test_reference_equality.
        pytest.skip("SigLIP end to end runs on the TensorFlow backend")
    keras.utils.set_random_seed(0)
    train, held_out = 1024, 128
    # One draw, so that training and held-out pairs share the two maps.
    images, texts = _paired_views(np.random.default_rng(0), train + held_out)

    image_in, text_in = keras.Input((12,)), keras.Input((10,))
    image_tower = keras.Sequential([keras.layers.Dense(32, activation="relu"), keras.layers.Dense(8)])
    text_tower = keras.Sequential([keras.layers.Dense(32, activation="relu"), keras.layers.Dense(8)])
    siglip = loss_class is SigLIPLoss
    layer = ContrastiveLogits(logit_scale=10.0 if siglip else 1 / 0.07, logit_bias=-10.0 if siglip else None)
    model = keras.Model([image_in, text_in], layer([image_tower(image_in), text_tower(text_in)]))
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=loss_class())
    ids = np.arange(train, dtype="int64") + 2**30
    model.fit([images[:train], texts[:train]], ids, batch_size=128, epochs=6, verbose=0)

    # Retrieval on held-out pairs from each tower's embeddings: nearest text by cosine.
    a = keras.ops.convert_to_numpy(image_tower(images[train:]))
    b = keras.ops.convert_to_numpy(text_tower(texts[train:]))
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    top1 = np.mean(np.argmax(a @ b.T, axis=1) == np.arange(held_out))
    # Chance is 1 / 128 = 0.008; require 50%, 64 times chance (about 0.8 is typical).
    assert top1 > 0.5, top1


@pytest.mark.slow
@pytest.mark.subprocess
def test_global_batch_negatives_equal_one_device_run():
    """2 replicas with across_replicas=True train exactly like one device on the
    concatenated batch: the same losses and weights after 4 SGD steps (rtol and atol
    1e-5; float32 rounding differences are about 5e-7), for CLIP and SigLIP. Without
    across_replicas (local negatives) they differ."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("tf.distribute runs on the TensorFlow backend")
    script = os.path.join(os.path.dirname(__file__), "contrastive_replicas.py")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run(
        [sys.executable, script, "--replicas", "2"],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads(result.stdout.strip().splitlines()[-1])
    assert results["replicas"] == 2
    # Each replica holds its 8 rows against 2 * 16 columns.
    assert results["logits_shapes"] == [[8, 32], [8, 32]]
    for run in results["runs"]:
        # The tiled form too, on 2 replicas and on one device under XLA.
        for form in ("replicated", "tiled_replicated", "tiled_single"):
            np.testing.assert_allclose(run[f"{form}_loss"], run["single_loss"], rtol=1e-5)
            moved = 0.0
            for single, replicated, initial in zip(
                run["single_weights"], run[f"{form}_weights"], run["initial_weights"]
            ):
                np.testing.assert_allclose(replicated, single, rtol=1e-5, atol=1e-5, err_msg=form)
                moved = max(moved, np.max(np.abs(np.array(single) - np.array(initial))))
            assert moved > 0.1, "the weights barely moved: the comparison would prove little"
    # The test can tell: with each replica's own negatives only, the loss differs.
    clip = results["runs"][0]
    assert not np.allclose(clip["local_negatives_loss"], clip["single_loss"], rtol=1e-3)


# -- the tiled forms ------------------------------------------------------------------


def _packed_pairs(n=7, d=3, seed=0, repeated=False, scale=4.0, bias=-1.0):
    """Ids, the packed input `[a, b, scale, bias]` and the logits it stands for."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 3, n) if repeated else rng.permutation(n) + 2**40
    a, b = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    packed = np.concatenate([a, b, np.full((n, 1), scale), np.full((n, 1), bias)], 1)
    return ids, packed.astype("float32"), (scale * a @ b.T + bias).astype("float32")


@pytest.mark.parametrize("loss_class", [CLIPLoss, SigLIPLoss])
class TestTiled:
    def test_config(self, loss_class):
        loss = loss_class(tiled=True, tile_size=17)
        config = loss.get_config()
        assert (config["tiled"], config["tile_size"]) == (True, 17)
        restored = loss_class.from_config(config)
        assert (restored.tiled, restored.tile_size) == (True, 17)
        assert (loss_class().tiled, loss_class().tile_size) == (False, 256)

    @pytest.mark.parametrize("repeated", [False, True])
    @pytest.mark.parametrize("reduction", [None, "sum", "sum_over_batch_size", "mean_with_sample_weight"])
    def test_equals_dense_form_in_every_reduction_with_weights(self, loss_class, repeated, reduction):
        ids, packed, logits = _packed_pairs(repeated=repeated)
        weights = np.linspace(0.0, 2.0, len(ids)).astype("float32")
        tiled = loss_class(tiled=True, tile_size=3, reduction=reduction)
        dense = loss_class(reduction=reduction)
        np.testing.assert_allclose(
            tiled(ids, packed, sample_weight=weights),
            dense(ids, logits, sample_weight=weights),
            rtol=1e-5,
            atol=1e-6,
        )

    def test_function_twin(self, loss_class):
        twin = clip_loss if loss_class is CLIPLoss else siglip_loss
        ids, packed, logits = _packed_pairs(n=5, repeated=True)
        np.testing.assert_allclose(
            twin(ids, packed, tiled=True, tile_size=2), twin(ids, logits), rtol=1e-5, atol=1e-6
        )

    def test_ids_above_float32_precision_stay_distinct(self, loss_class):
        # 2**24 and 2**24 + 1 are one float32; as distinct ids the diagonal is the target.
        ids = LARGE_IDS
        _, packed, logits = _packed_pairs(n=2)
        np.testing.assert_allclose(
            loss_class(tiled=True, reduction=None)(ids, packed),
            loss_class(reduction=None)(np.array([0, 1]), logits),
            rtol=1e-5,
        )

    @pytest.mark.parametrize("tile_size", [0, -3, 2.5, None])
    def test_invalid_tile_size(self, loss_class, tile_size):
        with pytest.raises(ValueError, match="Invalid value for argument `tile_size`"):
            loss_class(tiled=True, tile_size=tile_size)

    @pytest.mark.parametrize("shape", [(4, 4), (4, 3), (4, 5, 2)])
    def test_input_that_is_not_packed_raises(self, loss_class, shape):
        # (4, 4) would be a dense logit matrix: 2 * d + 2 = 4 means d = 1, which is
        # accepted, so only odd or too narrow widths can be told apart.
        if shape == (4, 4):
            shape = (4, 2)
        with pytest.raises(ValueError, match=r"packed \(n, 2 \* d \+ 2\)"):
            loss_class(tiled=True)(np.arange(shape[0]), np.zeros(shape, "float32"))

    def test_gradient_finite_at_large_scale(self, loss_class):
        ids, packed, _ = _packed_pairs(n=6, scale=1e4)
        _, grad = harness.value_and_grad(lambda p: loss_class(tiled=True, tile_size=4, reduction=None)(ids, p), packed)
        assert np.all(np.isfinite(grad))

    def test_trains_like_the_dense_form_in_compiled_fit(self, loss_class):
        """The layer's packed output and the tiled loss train the same weights as the
        logit matrix and the dense loss (the scale and bias are learned too)."""
        rng = np.random.default_rng(3)
        images, texts = _paired_views(rng, 48)
        ids = np.arange(48, dtype="int64") + 2**30
        results = []
        for tiled in (False, True):
            keras.utils.set_random_seed(0)
            image_in, text_in = keras.Input((12,)), keras.Input((10,))
            layer = ContrastiveLogits(logit_scale=5.0, logit_bias=-2.0, tiled=tiled)
            model = keras.Model(
                [image_in, text_in],
                layer([keras.layers.Dense(4)(image_in), keras.layers.Dense(4)(text_in)]),
            )
            model.compile(
                optimizer=keras.optimizers.SGD(0.5),
                loss=loss_class(tiled=tiled, tile_size=5),
                # XLA on TensorFlow and JAX; torch.compile is not what this checks.
                jit_compile=keras.backend.backend() != "torch",
            )
            history = model.fit([images, texts], ids, batch_size=16, epochs=2, shuffle=False, verbose=0)
            results.append((history.history["loss"], model.get_weights()))
        (dense_loss, dense_weights), (tiled_loss, tiled_weights) = results
        np.testing.assert_allclose(tiled_loss, dense_loss, rtol=1e-5)
        for dense, tiled in zip(dense_weights, tiled_weights):
            np.testing.assert_allclose(tiled, dense, rtol=1e-4, atol=1e-5)


def test_tiled_layer_output_is_packed_embeddings():
    a = np.array([[3.0, 0.0], [0.0, 2.0]], "float32")
    b = np.array([[1.0, 1.0], [0.0, -5.0]], "float32")
    layer = ContrastiveLogits(logit_scale=10.0, logit_bias=-3.0, tiled=True)
    packed = keras.ops.convert_to_numpy(layer([a, b]))
    assert packed.shape == (2, 6)
    s = 1 / math.sqrt(2)
    np.testing.assert_allclose(
        packed,
        [[1.0, 0.0, s, s, 10.0, -3.0], [0.0, 1.0, 0.0, -1.0, 10.0, -3.0]],
        rtol=1e-6,
        atol=1e-6,
    )
    assert layer.get_config()["tiled"] is True
    assert layer.compute_output_shape([(None, 2), (None, 2)]) == (None, 6)


def test_tiled_graph_holds_no_square_matrix():
    """No tensor of the traced forward or backward pass has n * n elements or more:
    the largest is a tile, (n, tile_size)."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the traced graph is inspected on TensorFlow")
    import tensorflow as tf

    n, d, tile = 64, 8, 8
    ids, packed, _ = _packed_pairs(n=n, d=d)

    @tf.function
    def step(packed):
        with tf.GradientTape() as tape:
            tape.watch(packed)
            loss = CLIPLoss(tiled=True, tile_size=tile)(ids, packed)
        return tape.gradient(loss, packed)

    graph = step.get_concrete_function(tf.TensorSpec(packed.shape, tf.float32)).graph
    sizes = _largest_tensor_sizes(graph)
    assert max(sizes) <= n * max(tile, 2 * d + 2), sorted(sizes)[-5:]
    # The check can fail: the dense form holds the (n, n) logits.

    @tf.function
    def dense_step(logits):
        with tf.GradientTape() as tape:
            tape.watch(logits)
            loss = CLIPLoss()(ids, logits)
        return tape.gradient(loss, logits)

    dense = dense_step.get_concrete_function(tf.TensorSpec((n, n), tf.float32)).graph
    assert max(_largest_tensor_sizes(dense)) >= n * n


def _largest_tensor_sizes(graph):
    """The static element counts of every tensor in `graph` and its loop bodies."""
    sizes = []
    graphs = [graph]
    while graphs:
        g = graphs.pop()
        for op in g.get_operations():
            for output in op.outputs:
                shape = output.shape
                if shape.rank is not None and shape.is_fully_defined():
                    sizes.append(int(np.prod(shape.as_list())) if shape.rank else 1)
            for attr in ("body", "cond", "then_branch", "else_branch", "f"):
                try:
                    function = op.get_attr(attr)
                except (ValueError, TypeError):
                    continue
                if hasattr(function, "name"):
                    graphs.append(g._get_function(function.name).graph)
    return sizes


@pytest.mark.slow
@pytest.mark.subprocess
def test_tiled_form_under_jax_data_parallel_equals_dense_on_one_device():
    """2 JAX CPU devices with DataParallel and the tiled losses train like one device
    with the dense losses: the same losses and weights after 4 SGD steps."""
    if keras.backend.backend() != "jax":
        pytest.skip("keras.distribution.DataParallel runs on the JAX backend")
    script = os.path.join(os.path.dirname(__file__), "contrastive_tiled_jax.py")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run(
        [sys.executable, script], capture_output=True, text=True, timeout=240, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for run in json.loads(result.stdout.strip().splitlines()[-1]):
        assert run["devices"] == 2
        np.testing.assert_allclose(run["tiled_loss"], run["dense_loss"], rtol=1e-5)
        moved = 0.0
        for dense, tiled, initial in zip(run["dense_weights"], run["tiled_weights"], run["initial_weights"]):
            np.testing.assert_allclose(tiled, dense, rtol=1e-5, atol=1e-5, err_msg=run["loss"])
            moved = max(moved, np.max(np.abs(np.array(dense) - np.array(initial))))
        assert moved > 0.1, "the weights barely moved: the comparison would prove little"


@pytest.mark.parametrize("twin", [clip_loss, siglip_loss])
@pytest.mark.parametrize(
    "argument,value", [("tile_size", 0), ("tile_size", 2.5), ("tiled", 1), ("across_replicas", "yes")]
)
def test_functions_check_every_argument(twin, argument, value):
    """Untiled too, the functions check what the classes check (`_validation`'s rule)."""
    with pytest.raises(ValueError, match=f"Invalid value for argument `{argument}`"):
        twin(np.arange(3), np.zeros((3, 3), "float32"), **{argument: value})
