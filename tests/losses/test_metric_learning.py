import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_losses import ContrastivePairLoss
from keras_losses import LiftedStructLoss
from keras_losses import MultiSimilarityLoss
from keras_losses import NPairsLoss
from keras_losses import SupervisedContrastiveLoss
from keras_losses import TripletLoss
from keras_losses import contrastive_pair_loss
from keras_losses import lifted_struct_loss
from keras_losses import multi_similarity_loss
from keras_losses import npairs_loss
from keras_losses import supervised_contrastive_loss
from keras_losses import triplet_loss
from keras_losses.testing.reference import metric_learning as oracle
from tests import harness

test_reference_equality = harness.reference_equality_test("metric_learning")

DISTANCES = ("euclidean", "squared_euclidean", "cosine")
MININGS = ("semi_hard", "hard", "all")
# (function, kwargs) of every mining loss on embeddings.
EMBEDDING_LOSSES = [
    *[(triplet_loss, {"mining": m, "distance": d}) for m in MININGS for d in DISTANCES],
    (triplet_loss, {"mining": "hard", "soft": True}),
    (lifted_struct_loss, {}),
    (multi_similarity_loss, {}),
    (supervised_contrastive_loss, {}),
]
LOSS_IDS = [f"{fn.__name__}-{'-'.join(map(str, kw.values()))}" for fn, kw in EMBEDDING_LOSSES]


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _mean_and_grad(fn, ids, x, **kwargs):
    return harness.value_and_grad(lambda e: keras.ops.mean(fn(ids, e, **kwargs)), x)


class TestTripletLoss:
    # A worked semi-hard example with TFA's fallback: ids [0, 0, 1], 1-D embeddings.
    #   pair (0, 1): d_ap = 3, the negative (2) is at 1 < 3: none farther, the
    #                farthest negative is taken: max(0, 1 + 3 - 1) = 3
    #   pair (1, 0): d_ap = 3, the negative at 2 < 3: fallback, 1 + 3 - 2 = 2
    #   mean over the 2 pairs: 2.5; per anchor [3 * 3/2, 2 * 3/2, 0] (mean 2.5)
    ids = np.array([0, 0, 1])
    x = np.array([[0.0], [3.0], [1.0]])

    def test_config(self):
        config = TripletLoss(margin=0.5, mining="all", distance="cosine", name="t").get_config()
        assert config == {
            "name": "t",
            "reduction": "sum_over_batch_size",
            "dtype": None,
            "margin": 0.5,
            "mining": "all",
            "distance": "cosine",
            "soft": False,
            "across_replicas": False,
        }
        assert TripletLoss.from_config(config).get_config() == config

    def test_semi_hard_fallback_by_hand(self):
        np.testing.assert_allclose(_np(triplet_loss(self.ids, self.x)), [4.5, 3.0, 0.0], rtol=1e-6)
        assert float(TripletLoss()(self.ids, self.x)) == pytest.approx(2.5)

    def test_semi_hard_takes_the_closest_farther_negative(self):
        # Anchor 0 at 0, positive at 1, negatives at 0.5 (closer: not semi-hard), 1.5
        # and 3: the chosen one is 1.5, loss 1 + 1 - 1.5 = 0.5 for pair (0, 1).
        ids = np.array([0, 0, 1, 1, 1])
        x = np.array([[0.0], [1.0], [0.5], [1.5], [3.0]])
        values = oracle.triplet_semi_hard(ids, x)
        np.testing.assert_allclose(_np(triplet_loss(ids, x)), values, rtol=1e-6)
        # pair (0, 1) contributes 0.5 of anchor 0's sum; 8 positive pairs in all.
        d = oracle.distance_matrix(x)
        assert d[0, 1] == 1.0 and values[0] == pytest.approx(5 * (0.5 + 0.0) / 8)

    def test_hard_by_hand(self):
        # Hard: anchor 0: 1 + 3 - 1 = 3; anchor 1: 1 + 3 - 2 = 2; anchor 2 has no positive.
        values = _np(triplet_loss(self.ids, self.x, mining="hard"))
        np.testing.assert_allclose(values, [3 * 3 / 2, 2 * 3 / 2, 0.0], rtol=1e-6)
        soft = _np(triplet_loss(self.ids, self.x, mining="hard", soft=True))
        expected = np.log1p(np.exp([3 - 1, 3 - 2]))
        np.testing.assert_allclose(np.mean(soft), np.mean(expected), rtol=1e-6)

    def test_all_by_hand(self):
        # Triplets (0, 1, 2): 1 + 3 - 1 = 3 and (1, 0, 2): 1 + 3 - 2 = 2, both positive.
        np.testing.assert_allclose(
            np.mean(_np(triplet_loss(self.ids, self.x, mining="all"))), 2.5, rtol=1e-6
        )

    @pytest.mark.parametrize("distance,tfa", [("euclidean", "L2"), ("squared_euclidean", "squared-L2"), ("cosine", "angular")])
    @pytest.mark.parametrize("mining", ["semi_hard", "hard"])
    def test_matches_tfa_on_its_test_inputs(self, distance, tfa, mining):
        # TFA's tests: 10 (semi-hard) or 20 (hard) random embeddings in [0, 1)^6 of 4
        # classes, against its NumPy loops (oracle.triplet_* are the same loops; they
        # agree with TFA whenever every anchor has a positive, as here).
        rng = np.random.default_rng(3)
        n = 10 if mining == "semi_hard" else 20
        ids = np.concatenate([[0, 0, 1, 1, 2, 2, 3, 3], rng.integers(0, 4, n - 8)])
        x = rng.random((n, 6))
        fn = oracle.triplet_semi_hard if mining == "semi_hard" else oracle.triplet_hard
        loss = TripletLoss(mining=mining, distance=distance)(ids, x.astype("float32"))
        assert float(loss) == pytest.approx(oracle.batch_loss(fn(ids, x, 1.0, distance)), rel=1e-5)

    def test_one_class_gives_zero_where_tfa_gives_margin_plus_distance(self):
        # TFA's docstring: triplet_semihard_loss([0, 0], [[0, 1], [1, 0]]) = 1 + sqrt(2),
        # triplet_hard_loss = 1.0: no negative exists, so no triplet: 0 here.
        ids, x = np.array([0, 0]), np.array([[0.0, 1.0], [1.0, 0.0]])
        for mining in MININGS:
            assert float(TripletLoss(mining=mining)(ids, x)) == 0.0

    def test_ids_compared_exactly_beyond_float32(self):
        # 2**24 and 2**24 + 1 are one float32; as classes they are two.
        ids = np.array([2**24, 2**24, 2**24 + 1, 2**24 + 1], dtype="int64")
        x = np.array([[0.0], [1.0], [0.5], [2.0]])
        expected = oracle.batch_loss(oracle.triplet_semi_hard(ids, x))
        assert expected > 0
        assert float(TripletLoss()(ids, x)) == pytest.approx(expected, rel=1e-6)

    def test_sample_weighted(self):
        weights = np.array([1.0, 0.5, 2.0])
        loss = TripletLoss()(self.ids, self.x, sample_weight=weights)
        # sum(w * v) / 3 = (4.5 + 1.5 + 0) / 3
        assert float(loss) == pytest.approx(2.0)

    def test_zero_weighted(self):
        assert float(TripletLoss()(self.ids, self.x, sample_weight=np.zeros(3))) == 0.0

    def test_no_reduction(self):
        values = TripletLoss(reduction=None)(self.ids, self.x)
        np.testing.assert_allclose(_np(values), [4.5, 3.0, 0.0], rtol=1e-6)

    def test_sum_reduction(self):
        assert float(TripletLoss(reduction="sum")(self.ids, self.x)) == pytest.approx(7.5)

    def test_dtype_arg_and_mixed_precision(self):
        x16 = keras.ops.convert_to_tensor(self.x, "float16")
        loss = TripletLoss()(self.ids, x16)
        assert keras.backend.standardize_dtype(loss.dtype) == "float32"
        assert float(loss) == pytest.approx(2.5, rel=1e-3)
        loss = TripletLoss(dtype="float16")(self.ids, x16)
        assert keras.backend.standardize_dtype(loss.dtype) == "float16"
        assert float(loss) == pytest.approx(2.5, rel=1e-3)

    @pytest.mark.parametrize(
        "kwargs,argument",
        [
            ({"margin": -1.0}, "margin"),
            ({"mining": "semihard"}, "mining"),
            ({"distance": "L2"}, "distance"),
            ({"soft": 1}, "soft"),
            ({"mining": "all", "soft": True}, "soft"),
            ({"across_replicas": "yes"}, "across_replicas"),
        ],
    )
    def test_invalid_arguments(self, kwargs, argument):
        with pytest.raises(ValueError, match=f"Invalid value for argument `{argument}`"):
            TripletLoss(**kwargs)
        with pytest.raises(ValueError, match=f"Invalid value for argument `{argument}`"):
            triplet_loss(self.ids, self.x, **kwargs)

    @pytest.mark.parametrize("cls", [TripletLoss, LiftedStructLoss, MultiSimilarityLoss, SupervisedContrastiveLoss])
    def test_bad_shapes(self, cls):
        with pytest.raises(ValueError, match="`y_true`"):
            cls()(np.zeros((3, 2), "int32"), self.x)
        with pytest.raises(ValueError, match="`y_pred`"):
            cls()(self.ids, np.zeros((3, 2, 2)))
        with pytest.raises(ValueError, match="one class id per row"):
            cls()(np.array([0, 1]), self.x)


@pytest.mark.parametrize("fn,kwargs", EMBEDDING_LOSSES, ids=LOSS_IDS)
class TestEveryMiningLoss:
    def test_no_valid_anchor_gives_zero_and_zero_gradient(self, fn, kwargs):
        x = np.random.default_rng(0).normal(size=(4, 3))
        for ids in (np.zeros(4, "int32"), np.arange(4)):  # one class; every class alone
            value, grad = _mean_and_grad(fn, ids, x, **kwargs)
            assert float(value) == 0.0
            np.testing.assert_array_equal(grad, np.zeros_like(x))

    def test_identical_and_zero_embeddings_give_finite_gradients(self, fn, kwargs):
        ids = np.array([0, 0, 1, 1, 2])
        x = np.array([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0], [0.0, 0.0], [0.0, 0.0]])
        value, grad = _mean_and_grad(fn, ids, x, **kwargs)
        assert np.isfinite(value) and np.all(np.isfinite(grad))

    def test_class_with_one_example_adds_nothing(self, fn, kwargs):
        # Adding a singleton class far away changes no anchor's positives; it is a
        # negative nobody is near, so no term changes, and it is no anchor itself.
        rng = np.random.default_rng(1)
        ids = np.array([0, 0, 1, 1, 2, 2])
        x = rng.normal(size=(6, 3))
        far = np.concatenate([x, [[40.0, -40.0, 40.0]]])
        if fn in (multi_similarity_loss, supervised_contrastive_loss) or kwargs.get("distance") == "cosine":
            pytest.skip("on the sphere no point is far from every other")
        if fn is lifted_struct_loss:
            pytest.skip("lifted sums over every negative: a far one still adds e^(m - D)")
        if kwargs.get("mining") == "semi_hard":
            pytest.skip("the far negative is the semi-hard fallback where none is farther")
        base = np.mean(_np(fn(ids, x, **kwargs)))
        more = _np(fn(np.append(ids, 3), far, **kwargs))
        assert more[-1] == 0.0
        # one value per anchor, scaled so that the mean is the loss: the same loss
        assert np.mean(more) == pytest.approx(base, rel=1e-5)


class TestContrastivePairLoss:
    # TFA's tests: y_true [0, 0, 1, 1, 0, 1], distances below; per example
    # [0.9^2, 0.7^2, 1.3^2, 0.7^2, 0, 0.5^2] = [0.81, 0.49, 1.69, 0.49, 0, 0.25]
    y_true = np.array([0, 0, 1, 1, 0, 1], "int64")
    y_pred = np.array([0.1, 0.3, 1.3, 0.7, 1.1, 0.5], "float32")
    expected = np.array([0.81, 0.49, 1.69, 0.49, 0.0, 0.25])

    def test_config(self):
        config = ContrastivePairLoss(margin=2.0, name="c").get_config()
        assert config == {"name": "c", "reduction": "sum_over_batch_size", "dtype": None, "margin": 2.0}

    def test_unweighted(self):
        assert float(ContrastivePairLoss()(self.y_true, self.y_pred)) == pytest.approx(0.621666, abs=1e-6)

    def test_sample_weighted(self):
        weights = np.array([1.2, 0.8, 0.5, 0.4, 1.5, 1.0])
        assert float(ContrastivePairLoss()(self.y_true, self.y_pred, sample_weight=weights)) == pytest.approx(0.4425, rel=1e-5)

    def test_non_default_margin(self):
        assert float(ContrastivePairLoss(margin=2.0)(self.y_true, self.y_pred)) == pytest.approx(1.623333, abs=1e-6)

    def test_no_reduction(self):
        np.testing.assert_allclose(_np(ContrastivePairLoss(reduction=None)(self.y_true, self.y_pred)), self.expected, rtol=1e-5, atol=1e-7)

    def test_sum_reduction(self):
        assert float(ContrastivePairLoss(reduction="sum")(self.y_true, self.y_pred)) == pytest.approx(3.73, rel=1e-5)

    def test_zero_weighted(self):
        assert float(ContrastivePairLoss()(self.y_true, self.y_pred, sample_weight=0.0)) == 0.0

    def test_negative_margin(self):
        with pytest.raises(ValueError, match="Invalid value for argument `margin`"):
            ContrastivePairLoss(margin=-0.5)

    def test_shape_mismatch(self):
        with pytest.raises(ValueError, match="incompatible"):
            contrastive_pair_loss(np.zeros(3), np.zeros(4))


class TestNPairsLoss:
    f = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])

    def test_tfa_value(self):
        # TFA: log(1 + 2 e^-2 + e^-4) = 0.253856 for every row.
        loss = NPairsLoss()(np.arange(4), self.f @ self.f.T)
        assert float(loss) == pytest.approx(0.253856, abs=1e-6)

    def test_repeated_classes_spread_the_target(self):
        ids = np.array([5, 5, 7, 7])
        s = self.f @ self.f.T
        np.testing.assert_allclose(_np(npairs_loss(ids, s)), oracle.npairs(ids, s), rtol=1e-6)

    def test_config(self):
        config = NPairsLoss(across_replicas=True).get_config()
        assert config["across_replicas"] is True and config["name"] == "npairs_loss"

    def test_not_square(self):
        with pytest.raises(ValueError, match="square"):
            npairs_loss(np.arange(3), np.zeros((3, 4)))


class TestLiftedStructLoss:
    def test_by_hand(self):
        # ids [0, 0, 1] at 0, 1, 3: J_01 = log(e^(1-3) + e^(1-2)) + 1; loss J^2 / 2
        j = np.log(np.exp(-2.0) + np.exp(-1.0)) + 1.0
        loss = LiftedStructLoss()(np.array([0, 0, 1]), np.array([[0.0], [1.0], [3.0]]))
        assert float(loss) == pytest.approx(j**2 / 2, rel=1e-6)

    def test_config(self):
        config = LiftedStructLoss(margin=0.5, across_replicas=True).get_config()
        assert config["margin"] == 0.5 and config["across_replicas"] is True

    def test_tfa_inputs(self):
        rng = np.random.default_rng(5)
        ids = rng.integers(0, 4, 10)
        x = rng.random((10, 6))
        loss = LiftedStructLoss()(ids, x.astype("float32"))
        assert float(loss) == pytest.approx(oracle.batch_loss(oracle.lifted_struct(ids, x)), rel=1e-5)


class TestMultiSimilarityLoss:
    def test_config(self):
        config = MultiSimilarityLoss(alpha=1.0, beta=10.0, base=0.4, epsilon=0.2).get_config()
        assert {k: config[k] for k in ("alpha", "beta", "base", "epsilon")} == {
            "alpha": 1.0, "beta": 10.0, "base": 0.4, "epsilon": 0.2
        }

    @pytest.mark.parametrize("argument,value", [("alpha", 0.0), ("beta", -1.0), ("epsilon", -0.1), ("base", float("nan"))])
    def test_invalid(self, argument, value):
        with pytest.raises(ValueError, match=f"Invalid value for argument `{argument}`"):
            MultiSimilarityLoss(**{argument: value})

    def test_one_anchor_by_hand(self):
        # ids [0, 0, 1]; anchor 0 at angle 0, positive at 60 degrees (S = 0.5),
        # negative at 30 degrees (S = cos 30 = 0.866). Both mined (0.866 + 0.1 > 0.5;
        # 0.5 - 0.1 < 0.866): 1/2 log(1 + e^(-2 (0.5 - 0.5))) + 1/50 log(1 + e^(50 (0.866 - 0.5)))
        angles = np.radians([0.0, 60.0, 30.0])
        x = np.stack([np.cos(angles), np.sin(angles)], 1)
        s_neg = np.cos(np.radians(30.0))
        anchor0 = 0.5 * np.log(2.0) + np.log1p(np.exp(50 * (s_neg - 0.5))) / 50
        values = _np(multi_similarity_loss(np.array([0, 0, 1]), x))
        # 2 valid anchors (0 and 1), per-anchor values scaled by 3 / 2
        assert values[0] == pytest.approx(anchor0 * 3 / 2, rel=1e-5)


class TestSupervisedContrastiveLoss:
    def test_equal_embeddings_give_log_of_the_others(self):
        loss = SupervisedContrastiveLoss()(np.array([0, 0, 1, 1, 1]), np.ones((5, 2)))
        assert float(loss) == pytest.approx(np.log(4.0), rel=1e-6)

    def test_temperature(self):
        with pytest.raises(ValueError, match="Invalid value for argument `temperature`"):
            SupervisedContrastiveLoss(temperature=0.0)

    def test_two_views_equal_clip_with_repeated_ids_spirit(self):
        # One positive per anchor (two views of 3 images): each row is a softmax
        # cross-entropy over the other 5 rows with the other view as the target.
        rng = np.random.default_rng(2)
        x = rng.normal(size=(6, 4))
        ids = np.array([0, 1, 2, 0, 1, 2])
        z = x / np.linalg.norm(x, axis=1, keepdims=True)
        logits = z @ z.T / 0.1
        expected = []
        for i in range(6):
            others = [a for a in range(6) if a != i]
            target = (i + 3) % 6
            expected.append(np.log(np.sum(np.exp(logits[i, others]))) - logits[i, target])
        np.testing.assert_allclose(_np(supervised_contrastive_loss(ids, x)), expected, rtol=1e-5)


def test_fit_compiled_with_every_mining_loss():
    """Each mining loss trains a small embedding in compiled `fit` (Python ifs on
    tensors would fail there) and reduces its own loss."""
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(4, 6)) * 2
    ids = np.repeat(np.arange(4), 16)
    x = (centers[ids] + rng.normal(size=(64, 6))).astype("float32")
    for loss in (TripletLoss(), TripletLoss(mining="hard"), LiftedStructLoss(), MultiSimilarityLoss(), SupervisedContrastiveLoss()):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4), keras.layers.UnitNormalization()])
        model.compile(optimizer=keras.optimizers.Adam(0.05), loss=loss, jit_compile="auto")
        history = model.fit(x, ids, batch_size=32, epochs=4, verbose=0, shuffle=True)
        losses = history.history["loss"]
        assert np.all(np.isfinite(losses)) and losses[-1] < losses[0], (loss, losses)


@pytest.mark.slow
@pytest.mark.subprocess
def test_across_replicas_equals_one_device():
    """Under MirroredStrategy (2 logical CPUs) with across_replicas=True, and under JAX
    DataParallel, each mining loss trains exactly as one device on the whole batch
    (losses and weights after a few SGD steps, rtol/atol 1e-5); with local mining
    (across_replicas=False) under MirroredStrategy it differs."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("starts its own TensorFlow and JAX processes; run once, in the TensorFlow stage")
    script = os.path.join(os.path.dirname(__file__), "metric_learning_replicas.py")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", ""), "TF_CPP_MIN_LOG_LEVEL": "2"}
    procs = {
        engine: subprocess.Popen([sys.executable, script, engine], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for engine in ("mirrored", "jax")
    }
    for engine, proc in procs.items():
        out, err = proc.communicate(timeout=400)
        assert proc.returncode == 0, err[-3000:]
        results = json.loads(out.strip().splitlines()[-1])
        assert results["replicas"] == 2
        for run in results["runs"]:
            np.testing.assert_allclose(run["replicated_loss"], run["single_loss"], rtol=1e-5, err_msg=run["loss"])
            moved = 0.0
            for single, replicated, initial in zip(run["single_weights"], run["replicated_weights"], run["initial_weights"]):
                np.testing.assert_allclose(replicated, single, rtol=1e-5, atol=1e-5, err_msg=run["loss"])
                moved = max(moved, float(np.max(np.abs(np.array(single) - np.array(initial)))))
            assert moved > 0.01, run["loss"]
            if engine == "mirrored":
                # Mining only the replica's own half is visibly another loss.
                assert not np.allclose(run["local_loss"], run["single_loss"], rtol=1e-3), run["loss"]
