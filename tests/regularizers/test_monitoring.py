import keras
import numpy as np
import pytest

import keras_losses
from keras_losses.regularizers import DataLoss
from keras_losses.regularizers import L2
from keras_losses.regularizers import LogRegularizationLoss

RNG = np.random.default_rng(1)
X = RNG.normal(size=(16, 3)).astype("float32")
Y = RNG.normal(size=(16, 2)).astype("float32")


def model(regularizer=None, loss="mse", learning_rate=0.01, weighted_metrics=None):
    keras.utils.set_random_seed(0)
    net = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(2, kernel_initializer="ones", kernel_regularizer=regularizer)]
    )
    net.compile(
        optimizer=keras.optimizers.SGD(learning_rate),
        loss=loss,
        weighted_metrics=weighted_metrics if weighted_metrics is not None else [DataLoss(loss)],
    )
    return net


# Kernel of ones (3 x 2): L2(0.5) costs 0.5 * 6 = 3.0.
PENALTY = 3.0


class TestDataLoss:
    def test_config(self):
        assert DataLoss("mse").get_config() == {"loss": "mse", "name": "data_loss", "dtype": "float32"}
        config = DataLoss(keras_losses.Hinge(margin=0.5), name="d").get_config()
        restored = DataLoss.from_config(config)
        assert isinstance(restored._loss, keras_losses.Hinge) and restored._loss.margin == 0.5
        assert restored.get_config() == config

    def test_serialize_keras_object_round_trip(self):
        metric = DataLoss(keras.losses.MeanAbsoluteError(), name="mae_data")
        serialized = keras.saving.serialize_keras_object(metric)
        assert serialized["registered_name"] == "keras_losses>DataLoss"
        restored = keras.saving.deserialize_keras_object(serialized)
        assert type(restored) is DataLoss and restored.name == "mae_data"

    def test_exported(self):
        assert keras_losses.DataLoss is DataLoss is keras_losses.regularizers.DataLoss

    def test_equals_loss_without_penalties(self):
        # unequal batches (5, 5, 5, 1) and sample weights: averaged as Keras averages `loss`
        weights = RNG.uniform(0.0, 2.0, 16).astype("float32")
        logs = model().evaluate(X, Y, sample_weight=weights, batch_size=5, verbose=0, return_dict=True)
        np.testing.assert_allclose(logs["data_loss"], logs["loss"], rtol=1e-6)
        logs = model().evaluate(X, Y, batch_size=5, verbose=0, return_dict=True)
        np.testing.assert_allclose(logs["data_loss"], logs["loss"], rtol=1e-6)

    def test_sample_weights_need_weighted_metrics(self):
        # Keras passes sample weights to `weighted_metrics` only: under `metrics` the
        # data loss is unweighted (hence the docs use weighted_metrics).
        weights = np.r_[np.zeros(8), np.ones(8)].astype("float32")
        net = model()
        net.compile(optimizer="sgd", loss="mse", metrics=[DataLoss("mse", name="unweighted")],
                    weighted_metrics=[DataLoss("mse")])
        logs = net.evaluate(X, Y, sample_weight=weights, batch_size=16, verbose=0, return_dict=True)
        errors = np.mean((X @ np.ones((3, 2)) - Y) ** 2, axis=-1)
        np.testing.assert_allclose(logs["data_loss"], np.sum(errors[8:]) / 16, rtol=1e-5)
        np.testing.assert_allclose(logs["unweighted"], np.mean(errors), rtol=1e-5)

    def test_evaluate_data_loss_is_the_loss_without_the_penalty(self):
        net = model(L2(0.5))
        predictions = X @ np.ones((3, 2)) + 0.0  # kernel of ones, bias 0
        data = np.mean((predictions - Y) ** 2)
        logs = net.evaluate(X, Y, verbose=0, return_dict=True)
        np.testing.assert_allclose(logs["data_loss"], data, rtol=1e-5)
        np.testing.assert_allclose(logs["loss"], data + PENALTY, rtol=1e-5)

    @pytest.mark.parametrize(
        "loss",
        ["mae", keras.losses.mean_absolute_error, keras.losses.MeanAbsoluteError(), keras_losses.Hinge()],
        ids=["name", "function", "builtin object", "keras_losses object"],
    )
    def test_fit_with_any_loss_form(self, loss):
        # zero learning rate: the weights do not move, so each batch costs the same penalty
        history = model(L2(0.5), loss=loss, learning_rate=0.0).fit(X, Y, batch_size=4, epochs=2, verbose=0)
        difference = np.subtract(history.history["loss"], history.history["data_loss"])
        np.testing.assert_allclose(difference, PENALTY, rtol=1e-5)

    def test_invalid_loss(self):
        with pytest.raises(ValueError):
            DataLoss(3.0)
        with pytest.raises(ValueError):
            DataLoss("not_a_loss")


class TestLogRegularizationLoss:
    def test_config(self):
        callback = LogRegularizationLoss(data_loss="d", name="penalty")
        assert callback.get_config() == {"data_loss": "d", "name": "penalty"}
        assert LogRegularizationLoss.from_config(callback.get_config()).get_config() == callback.get_config()

    def test_history_has_both_components(self):
        history = model(L2(0.5), learning_rate=0.0).fit(
            X, Y, batch_size=4, epochs=2, validation_split=0.25, verbose=0, callbacks=[LogRegularizationLoss()]
        )
        logged = history.history
        for prefix in ("", "val_"):
            np.testing.assert_allclose(logged[f"{prefix}regularization_loss"], PENALTY, rtol=1e-5)
            np.testing.assert_allclose(
                np.add(logged[f"{prefix}data_loss"], logged[f"{prefix}regularization_loss"]),
                logged[f"{prefix}loss"],
                rtol=1e-6,
            )

    def test_penalty_shrinks_while_training(self):
        # one batch per epoch: epoch 0 sees the initial kernel, then the penalty shrinks
        history = model(L2(0.5), learning_rate=0.05).fit(
            X, Y, epochs=3, verbose=0, callbacks=[LogRegularizationLoss()]
        )
        penalties = history.history["regularization_loss"]
        np.testing.assert_allclose(penalties[0], PENALTY, rtol=1e-5)
        assert penalties[2] < penalties[1] < penalties[0]

    def test_custom_names(self):
        net = model(L2(0.5), weighted_metrics=[DataLoss("mse", name="fit_term")], learning_rate=0.0)
        history = net.fit(X, Y, verbose=0, callbacks=[LogRegularizationLoss(data_loss="fit_term", name="penalty")])
        np.testing.assert_allclose(history.history["penalty"], PENALTY, rtol=1e-5)

    def test_without_data_loss_metric(self):
        net = model(L2(0.5), weighted_metrics=[])
        with pytest.raises(ValueError, match="DataLoss"):
            net.fit(X, Y, epochs=1, verbose=0, callbacks=[LogRegularizationLoss()])

    @pytest.mark.parametrize("argument", ["data_loss", "name"])
    @pytest.mark.parametrize("bad", ["", None, 3])
    def test_invalid_names(self, argument, bad):
        with pytest.raises(ValueError, match=f"Invalid value for argument `{argument}`"):
            LogRegularizationLoss(**{argument: bad})
