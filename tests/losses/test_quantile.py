import keras
import numpy as np
import pytest

from keras_losses import PinballLoss
from keras_losses import pinball_loss
from keras_losses.testing.reference import metric_learning as oracle

# TFA's tests: y_true [[1, 9, 2], [-5, -2, 6]], y_pred [[4, 8, 12], [8, 1, 3]].
# u = y - f = [[-3, 1, -10], [-13, -3, 3]]; at q = 0.5 each term is |u| / 2:
# (3 + 1 + 10 + 13 + 3 + 3) / 2 / 6 = 2.75
Y_TRUE = np.array([[1.0, 9.0, 2.0], [-5.0, -2.0, 6.0]])
Y_PRED = np.array([[4.0, 8.0, 12.0], [8.0, 1.0, 3.0]], "float32")


def _np(x):
    return keras.ops.convert_to_numpy(x)


class TestPinballLoss:
    def test_config(self):
        config = PinballLoss(quantiles=[0.1, 0.9], name="p").get_config()
        assert config == {"name": "p", "reduction": "sum_over_batch_size", "dtype": None, "quantiles": [0.1, 0.9]}
        assert PinballLoss.from_config(config).get_config() == config
        assert PinballLoss(quantiles=np.array([0.25, 0.75])).quantiles == [0.25, 0.75]

    def test_unweighted(self):
        assert float(PinballLoss()(Y_TRUE, Y_PRED)) == pytest.approx(2.75)

    @pytest.mark.parametrize("q,expected", [(0.1, 4.4166), (0.9, 1.0833)])
    def test_tfa_quantiles(self, q, expected):
        # q = 0.1: (0.1 * (1 + 3) + 0.9 * (3 + 10 + 13 + 3)) / 6 = 26.5 / 6 = 4.4167
        assert float(PinballLoss(quantiles=q)(Y_TRUE, Y_PRED)) == pytest.approx(expected, abs=1e-3)

    def test_sample_weighted(self):
        # TFA: weights [1.2, 3.4] per row: (1.2 * 14/2 + 3.4 * 19/2) / 6 = 40.7 / 6
        loss = PinballLoss()(Y_TRUE, Y_PRED, sample_weight=np.array([1.2, 3.4]))
        assert float(loss) == pytest.approx(40.7 / 6, rel=1e-5)

    def test_zero_weighted(self):
        assert float(PinballLoss()(Y_TRUE, Y_PRED, sample_weight=0.0)) == 0.0

    def test_no_reduction(self):
        # TFA: with sample_weight 2.3: [2.3 * 14/6, 2.3 * 19/6] = [5.3667, 7.2833]
        loss = PinballLoss(reduction=None)(Y_TRUE, Y_PRED, sample_weight=2.3)
        np.testing.assert_allclose(_np(loss), [5.3666667, 7.2833333], rtol=1e-5)

    def test_sum_reduction(self):
        assert float(PinballLoss(reduction="sum")(Y_TRUE, Y_PRED, sample_weight=2.3)) == pytest.approx(12.65, rel=1e-5)

    def test_dtype_arg(self):
        loss = PinballLoss(dtype="float16")(Y_TRUE, keras.ops.convert_to_tensor(Y_PRED, "float16"))
        assert keras.backend.standardize_dtype(loss.dtype) == "float16"
        assert float(loss) == pytest.approx(2.75, rel=1e-3)

    def test_vector_of_quantiles(self):
        y = np.array([0.0, 1.0, 2.0])
        f = np.array([[1.0, 0.0, -1.0], [0.5, 1.5, 1.0], [3.0, 2.0, 1.0]])
        q = [0.1, 0.5, 0.9]
        np.testing.assert_allclose(_np(pinball_loss(y, f, quantiles=q)), oracle.pinball(y, f, q), rtol=1e-6)
        # (batch, 1) targets are the same; a target per quantile also works
        np.testing.assert_allclose(_np(pinball_loss(y[:, None], f, quantiles=q)), oracle.pinball(y, f, q), rtol=1e-6)
        per = np.tile(y[:, None], (1, 3))
        np.testing.assert_allclose(_np(pinball_loss(per, f, quantiles=q)), oracle.pinball(y, f, q), rtol=1e-6)

    @pytest.mark.parametrize("quantiles", [0.0, 1.0, -0.5, 1.5, [], [0.5, 1.0], "median", None, True, float("nan")])
    def test_quantiles_outside_the_open_unit_interval(self, quantiles):
        with pytest.raises(ValueError, match="Invalid value for argument `quantiles`"):
            PinballLoss(quantiles=quantiles)

    def test_wrong_number_of_outputs(self):
        with pytest.raises(ValueError, match="3 quantiles"):
            pinball_loss(np.zeros(4), np.zeros((4, 2)), quantiles=[0.1, 0.5, 0.9])
        with pytest.raises(ValueError, match="incompatible"):
            pinball_loss(np.zeros((4, 2)), np.zeros((4, 3)), quantiles=[0.1, 0.5, 0.9])

    def test_minimiser_is_the_quantile(self):
        # The constant c minimising mean pinball_q(y - c) over a sample is its q-quantile.
        y = np.random.default_rng(0).exponential(size=2001)
        grid = np.linspace(0, 5, 2001)
        losses = [float(np.mean(_np(pinball_loss(y, np.full_like(y, c), quantiles=0.8)))) for c in grid[::50]]
        best = grid[::50][int(np.argmin(losses))]
        assert abs(best - np.quantile(y, 0.8)) < 0.15


@pytest.mark.slow
def test_learned_quantiles_cover_held_out_points():
    """Heteroscedastic data, y = sin(3x) + N(0, 0.05 + 0.5 x): a model trained with
    quantiles [0.05, 0.5, 0.95] gives an interval holding about 90% of held-out points
    (binomial sd at 2000 points: 0.7%; allowed 87-93%), a median with about half below
    (sd 1.1%; allowed 46-54%), and an interval that widens with the noise. (89-90% and
    50% on TensorFlow and JAX, two seeds each.)"""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("a training run: once, on TensorFlow (the loss itself is checked on every backend)")
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (6000, 1)).astype("float32")
    y = (np.sin(3 * x[:, 0]) + rng.normal(0, 0.05 + 0.5 * x[:, 0])).astype("float32")
    keras.utils.set_random_seed(0)
    hidden = [keras.layers.Dense(32, activation="tanh") for _ in range(2)]
    model = keras.Sequential([keras.Input((1,)), *hidden, keras.layers.Dense(3)])
    # A decaying step: the median's gradient is a sign, which a constant step keeps
    # hopping around (Adam at a fixed 3e-3 left 56% to 64% below it, by backend).
    schedule = keras.optimizers.schedules.CosineDecay(1e-2, decay_steps=40 * 20)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss=PinballLoss(quantiles=[0.05, 0.5, 0.95]))
    model.fit(x[:4000], y[:4000], batch_size=200, epochs=40, verbose=0)
    predicted = _np(model.predict(x[4000:], verbose=0))
    inside = np.mean((y[4000:] >= predicted[:, 0]) & (y[4000:] <= predicted[:, 2]))
    below = np.mean(y[4000:] < predicted[:, 1])
    assert 0.87 < inside < 0.93, inside
    assert 0.46 < below < 0.54, below
    ends = _np(model.predict(np.array([[0.05], [0.95]], "float32"), verbose=0))
    assert ends[1, 2] - ends[1, 0] > 3 * (ends[0, 2] - ends[0, 0]), ends
