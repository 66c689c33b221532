import keras
import numpy as np
import pytest

from keras_losses import SparsemaxLoss
from keras_losses import sparsemax_loss
from keras_losses.testing.reference import metric_learning as oracle
from tests import harness


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _one_hot_batch(seed, n=17, classes=10):
    # TFA's tests: logits uniform in [-3, 3], one-hot targets, 17 x 10.
    rng = np.random.RandomState(seed)
    z = rng.uniform(-3, 3, (n, classes))
    q = np.zeros((n, classes))
    q[np.arange(n), rng.randint(0, classes, n)] = 1
    return q, z


class TestSparsemaxLoss:
    def test_config(self):
        config = SparsemaxLoss(axis=1, name="s").get_config()
        assert config == {"name": "s", "reduction": "sum_over_batch_size", "dtype": None, "from_logits": True, "axis": 1}

    def test_against_numpy(self):
        q, z = _one_hot_batch(1)
        np.testing.assert_allclose(_np(sparsemax_loss(q, z)), oracle.sparsemax_loss(q, z), rtol=1e-5, atol=1e-6)
        assert float(SparsemaxLoss()(q, z)) == pytest.approx(np.mean(oracle.sparsemax_loss(q, z)), rel=1e-5)

    def test_non_negative_and_zero_at_the_target(self):
        # Proposition 4 of the paper: L >= 0, and 0 where sparsemax(z) = y.
        q, z = _one_hot_batch(5)
        assert np.all(_np(sparsemax_loss(q, z)) >= -1e-6)
        z_hit = q * 5.0  # sparsemax puts all the mass on the target
        np.testing.assert_allclose(_np(sparsemax_loss(q, z_hit)), 0.0, atol=1e-6)

    def test_constant_added_to_logits(self):
        # Proposition 3: L(z + c) = L(z) for one-hot targets.
        q, z = _one_hot_batch(4)
        np.testing.assert_allclose(_np(sparsemax_loss(q, z + 7.5)), _np(sparsemax_loss(q, z)), rtol=1e-4, atol=1e-5)

    def test_gradient_is_sparsemax_minus_target(self):
        # The gradient with respect to the logits is sparsemax(z) - y (Martins &
        # Astudillo, Proposition 2), with sparsemax the paper's Algorithm 1.
        q, z = _one_hot_batch(7)
        _, grad = harness.value_and_grad(lambda logits: keras.ops.sum(sparsemax_loss(q, logits)), z)
        np.testing.assert_allclose(grad, oracle.sparsemax(z) - q, atol=1e-5)

    def test_keras_sparsemax_agrees_where_it_is_right(self):
        # keras.ops.sparsemax up to 3.15.1 computes a wrong threshold whenever more
        # than one class is in the support (keras-team/keras#23425, fixed by #23469);
        # where the support is one class it is right, and so is the gradient here.
        q, z = _one_hot_batch(7)
        theirs = _np(keras.ops.sparsemax(keras.ops.convert_to_tensor(z, "float32")))
        single = np.sum(oracle.sparsemax(z) > 0, axis=1) == 1
        assert single.any()
        _, grad = harness.value_and_grad(lambda logits: keras.ops.sum(sparsemax_loss(q, logits)), z)
        np.testing.assert_allclose(grad[single], theirs[single] - q[single], atol=1e-5)

    def test_negative_infinite_logits(self):
        # TFA's test: a -inf logit the target does not hold costs nothing.
        q = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
        z = np.array([[0.0, -np.inf, 0.0], [0.0, -np.inf, -np.inf], [-np.inf, -np.inf, 0.0]])
        np.testing.assert_allclose(_np(sparsemax_loss(q, z)), [0.25, np.inf, 0.0])
        _, grad = harness.value_and_grad(lambda logits: keras.ops.sum(sparsemax_loss(q[[0, 2]], logits)), z[[0, 2]])
        assert np.all(np.isfinite(grad))

    def test_axis(self):
        q, z = _one_hot_batch(2, n=6, classes=4)
        np.testing.assert_allclose(_np(sparsemax_loss(q.T, z.T, axis=0)), oracle.sparsemax_loss(q, z), rtol=1e-5)

    def test_from_logits_false_is_refused(self):
        # TFA raises as well: the loss is defined on logits.
        with pytest.raises(ValueError, match="Invalid value for argument `from_logits`"):
            SparsemaxLoss(from_logits=False)

    def test_sample_weighted_and_sum(self):
        q, z = _one_hot_batch(3, n=4, classes=5)
        values = oracle.sparsemax_loss(q, z)
        w = np.array([1.0, 0.0, 2.0, 0.5])
        assert float(SparsemaxLoss()(q, z, sample_weight=w)) == pytest.approx(np.sum(w * values) / 4, rel=1e-5)
        assert float(SparsemaxLoss(reduction="sum")(q, z)) == pytest.approx(np.sum(values), rel=1e-5)

    def test_shape_mismatch(self):
        with pytest.raises(ValueError, match="incompatible"):
            sparsemax_loss(np.zeros((2, 3)), np.zeros((2, 4)))


def test_large_logits_keep_the_threshold_one_below_the_top_logit():
    # Support {2}, tau = 1e15 - 1: loss = -0 + ((1e15)^2 - (1e15 - 1)^2) / 2 + 1/2
    # = (2e15 - 1) / 2 + 1/2 = 1e15. In float32, z_max - 1 rounded to z_max: the
    # support came out empty and the loss was -inf (or 0.5 once the 1 was lost).
    y_pred = np.array([[0.0, 0.0, 1e15], [-1e15, -1e15, 0.0]], "float32")
    values = keras.ops.convert_to_numpy(sparsemax_loss(np.array([[1.0, 0.0, 0.0]] * 2), y_pred))
    np.testing.assert_allclose(values, [1e15, 1e15], rtol=1e-6)
    # and shifting every logit changes nothing (the targets sum to 1; exact in float32)
    shifted = keras.ops.convert_to_numpy(sparsemax_loss(np.array([[0.0, 1.0, 0.0]]), np.array([[2**20 - 0.75, 2**20, 2**20 - 0.5]])))
    np.testing.assert_allclose(shifted, sparsemax_loss(np.array([[0.0, 1.0, 0.0]]), np.array([[0.25, 1.0, 0.5]])), atol=1e-6)
