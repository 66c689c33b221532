import warnings

import keras
import numpy as np
import pytest

from keras_losses.regularizers import L1
from keras_losses.regularizers import L2
from keras_losses.regularizers import GroupLasso
from keras_losses.regularizers import apply

RNG = np.random.default_rng(0)
X = RNG.normal(size=(16, 5)).astype("float32")
Y = RNG.normal(size=(16, 2)).astype("float32")


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def pretrained():
    """A functional model with a nested Sequential block, compiled and trained a little
    (built afresh for each test: a few tests change it)."""
    keras.utils.set_random_seed(0)
    block = keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(8, activation="relu", name="hidden")], name="block"
    )
    inputs = keras.Input((5,))
    outputs = keras.layers.Dense(2, name="head")(block(inputs))
    model = keras.Model(inputs, outputs, name="pretrained")
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    # "pretrained": weights moved away from their initial values (faster than fit)
    for variable in model.weights:
        variable.assign(variable + RNG.normal(0.0, 0.1, variable.shape).astype("float32"))
    return model


def kernels(model):
    """Every Dense kernel of `model` (nested models included), as NumPy."""
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found += kernels(layer)
        elif isinstance(layer, keras.layers.Dense):
            found.append(numpy(layer.kernel))
    return found


def total(losses):
    return float(sum(float(numpy(v)) for v in losses))


class TestFunctional:
    def test_same_predictions_and_weights(self):
        model = pretrained()
        regularized = apply(model, kernel=L2(0.1))
        np.testing.assert_array_equal(regularized.predict(X, verbose=0), model.predict(X, verbose=0))
        for ours, theirs in zip(regularized.weights, model.weights):
            np.testing.assert_array_equal(numpy(ours), numpy(theirs))
        assert [layer.name for layer in regularized.layers] == [layer.name for layer in model.layers]
        assert regularized.name == model.name

    def test_penalties_in_model_losses(self):
        model = pretrained()
        regularized = apply(model, kernel=L2(0.1))
        expected = sum(0.1 * np.sum(k.astype(np.float64) ** 2) for k in kernels(model))
        assert len(regularized.losses) == 2  # the nested block's kernel and the head's
        np.testing.assert_allclose(total(regularized.losses), expected, rtol=1e-5)

    def test_evaluate_is_data_loss_plus_penalties(self):
        model = pretrained()
        regularized = apply(model, kernel=L2(0.1), bias=L1(0.05))
        predictions = model.predict(X, verbose=0).astype(np.float64)
        data_loss = np.mean((predictions - Y) ** 2)
        penalties = sum(0.1 * np.sum(k.astype(np.float64) ** 2) for k in kernels(model))
        biases = [numpy(v) for v in model.weights if v.path.endswith("bias")]
        assert len(biases) == 2
        penalties += sum(0.05 * np.sum(np.abs(b.astype(np.float64))) for b in biases)
        loss, mae = regularized.evaluate(X, Y, batch_size=len(X), verbose=0)
        np.testing.assert_allclose(loss, data_loss + penalties, rtol=1e-5)
        np.testing.assert_allclose(mae, np.mean(np.abs(predictions - Y)), rtol=1e-5)
        # the original is unchanged: data loss only
        np.testing.assert_allclose(model.evaluate(X, Y, verbose=0)[0], data_loss, rtol=1e-5)

    def test_original_untouched(self):
        model = pretrained()
        apply(model, kernel=L2(0.1), bias=L2(0.1))
        assert model.losses == []
        assert all(v.regularizer is None for v in model.weights)

    def test_biases_left_alone_by_default(self):
        regularized = apply(pretrained(), kernel=L2(0.1))
        regularized_paths = sorted(v.path for v in regularized.weights if v.regularizer is not None)
        assert regularized_paths == ["block/hidden/kernel", "head/kernel"]

    def test_bias_only(self):
        regularized = apply(pretrained(), bias=L1(0.1))
        regularized_paths = sorted(v.path for v in regularized.weights if v.regularizer is not None)
        assert regularized_paths == ["block/hidden/bias", "head/bias"]

    def test_compiled_as_the_original(self):
        regularized = apply(pretrained(), kernel=L2(0.1))
        assert regularized.compiled
        assert isinstance(regularized.optimizer, keras.optimizers.Adam)
        np.testing.assert_allclose(float(numpy(regularized.optimizer.learning_rate)), 0.01)
        logs = regularized.evaluate(X, Y, verbose=0, return_dict=True)
        assert sorted(logs) == ["loss", "mae"]

    def test_not_compiled_stays_uncompiled(self):
        model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(2)])
        regularized = apply(model, kernel=L2(0.1))
        assert not regularized.compiled

    def test_trains_with_the_penalty(self):
        regularized = apply(pretrained(), kernel=L2(0.1))
        history = regularized.fit(X, Y, epochs=2, verbose=0)
        assert np.all(np.isfinite(history.history["loss"]))

    def test_layer_types(self):
        model = pretrained()
        regularized = apply(model, kernel=L2(0.1), layer_types=(keras.layers.Conv1D,))
        assert regularized.losses == []
        # a single class is accepted too
        only_dense = apply(model, kernel=L2(0.1), layer_types=keras.layers.Dense)
        assert len(only_dense.losses) == 2

    def test_replaces_an_existing_regularizer(self):
        model = keras.Sequential(
            [keras.Input((5,)), keras.layers.Dense(2, kernel_initializer="ones", kernel_regularizer=L1(1.0))]
        )
        regularized = apply(model, kernel=L2(0.5))
        np.testing.assert_allclose(total(regularized.losses), 0.5 * 10)

    def test_keras_builtin_and_dict_forms(self):
        model = pretrained()
        expected = sum(0.1 * np.sum(k.astype(np.float64) ** 2) for k in kernels(model))
        for kernel in (keras.regularizers.L2(0.1), keras.regularizers.serialize(L2(0.1))):
            np.testing.assert_allclose(total(apply(model, kernel=kernel).losses), expected, rtol=1e-5)

    def test_frozen_nested_model_stays_frozen(self):
        model = pretrained()
        model.get_layer("block").trainable = False
        regularized = apply(model, kernel=L2(0.1))
        assert not regularized.get_layer("block").trainable
        assert len(regularized.trainable_weights) == len(model.trainable_weights) == 2
        # Keras counts penalties of trainable weights only
        assert len(regularized.losses) == 1


class TestLayerKinds:
    def test_sequential(self):
        model = keras.Sequential(
            [keras.Input((5,)), keras.layers.Dense(4, name="a"), keras.layers.Dense(2, name="b")]
        )
        regularized = apply(model, kernel=GroupLasso(0.1))
        assert isinstance(regularized, keras.Sequential)
        np.testing.assert_array_equal(regularized.predict(X, verbose=0), model.predict(X, verbose=0))
        expected = sum(0.1 * np.sum(np.linalg.norm(k, axis=1)) for k in kernels(model))
        np.testing.assert_allclose(total(regularized.losses), expected, rtol=1e-5)

    def test_sequential_built_by_calling(self):
        model = keras.Sequential([keras.layers.Dense(4), keras.layers.Dense(2)])
        model(X)
        regularized = apply(model, kernel=L2(0.1))
        np.testing.assert_array_equal(regularized.predict(X, verbose=0), model.predict(X, verbose=0))
        assert len(regularized.losses) == 2

    def test_named_inputs_keep_their_names(self):
        a, b = keras.Input((5,), name="a"), keras.Input((3,), name="b")
        joined = keras.layers.Concatenate()([keras.layers.Dense(2)(a), b])
        model = keras.Model([a, b], keras.layers.Dense(1)(joined))
        regularized = apply(model, kernel=L2(0.1))
        assert [t.name for t in regularized.inputs] == ["a", "b"]
        feed = {"a": X, "b": X[:, :3]}
        np.testing.assert_array_equal(regularized.predict(feed, verbose=0), model.predict(feed, verbose=0))

    def test_unbuilt_sequential(self):
        regularized = apply(keras.Sequential([keras.layers.Dense(2)]), kernel=L2(0.1))
        regularized(X)
        assert len(regularized.losses) == 1

    def test_embedding_conv_and_recurrent_layers(self):
        ids = keras.Input((6,), dtype="int32")
        h = keras.layers.Embedding(10, 4, name="embedding")(ids)
        h = keras.layers.Conv1D(3, 2, name="conv")(h)
        h = keras.layers.TimeDistributed(keras.layers.Dense(3, name="inner"), name="td")(h)
        h = keras.layers.Bidirectional(keras.layers.LSTM(2, name="lstm"), name="bi")(h)
        h = keras.layers.LayerNormalization(name="norm")(h)
        model = keras.Model(ids, keras.layers.Dense(1, name="out")(h))
        tokens = RNG.integers(0, 10, (4, 6)).astype("int32")
        regularized = apply(model, kernel=L2(0.1))
        np.testing.assert_allclose(regularized.predict(tokens, verbose=0), model.predict(tokens, verbose=0), rtol=1e-6)
        # named as in the original (inside Bidirectional the copy's paths lose "bi/",
        # as they do when such a model is loaded from a file)
        paths = sorted(
            original.path
            for original, v in zip(model.weights, regularized.weights)
            if v.regularizer is not None
        )
        # the LSTM's kernel, not its recurrent kernel; no bias, no normalization weight
        assert paths == [
            "bi/backward_lstm/lstm_cell/kernel",
            "bi/forward_lstm/lstm_cell/kernel",
            "conv/kernel",
            "embedding/embeddings",
            "out/kernel",
            "td/inner/kernel",
        ]

    def test_custom_layer_hiding_dense_layers_warns(self):
        @keras.saving.register_keras_serializable(package="test_apply")
        class Block(keras.layers.Layer):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.inner = keras.layers.Dense(3)

            def call(self, x):
                return self.inner(x)

        inputs = keras.Input((5,))
        model = keras.Model(inputs, Block(name="block")(inputs))
        with pytest.warns(UserWarning, match="'block'.*without the penalty"):
            regularized = apply(model, kernel=L2(0.1))
        np.testing.assert_array_equal(regularized.predict(X, verbose=0), model.predict(X, verbose=0))

    def test_no_warning_when_every_kernel_is_reached(self):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            apply(pretrained(), kernel=L2(0.1))
        assert not [w for w in caught if "regularizers.apply" in str(w.message)]


class Subclassed(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(2)

    def call(self, x):
        return self.dense(x)


class TestBadInput:
    @pytest.mark.parametrize("model", [None, "model", keras.layers.Dense(2), np.zeros(3)], ids=repr)
    def test_not_a_model(self, model):
        with pytest.raises(ValueError, match="takes a Keras model"):
            apply(model, kernel=L2())

    def test_subclassed_model(self):
        model = Subclassed(name="custom")
        model(X)
        with pytest.raises(ValueError, match="subclassed model.*kernel_regularizer="):
            apply(model, kernel=L2())

    def test_subclassed_model_nested_in_a_functional_one(self):
        inner = Subclassed(name="custom")
        inputs = keras.Input((5,))
        model = keras.Model(inputs, inner(inputs))
        with pytest.raises(ValueError, match="nested model 'custom'"):
            apply(model, kernel=L2())

    def test_nothing_to_attach(self):
        with pytest.raises(ValueError, match="needs a regularizer"):
            apply(pretrained())

    @pytest.mark.parametrize("kernel", ["l2", 0.01, lambda w: 0.0], ids=["string", "float", "function"])
    def test_invalid_regularizer(self, kernel):
        with pytest.raises(ValueError, match="Invalid value for argument `kernel`"):
            apply(pretrained(), kernel=kernel)

    @pytest.mark.parametrize("layer_types", [(), "Dense", (keras.layers.Dense, int), keras.layers.Dense(2)], ids=repr)
    def test_invalid_layer_types(self, layer_types):
        with pytest.raises(ValueError, match="Invalid value for argument `layer_types`"):
            apply(pretrained(), kernel=L2(), layer_types=layer_types)


class TestSaving:
    """In this process; a model made by `apply` is also loaded in a fresh process with
    only `import keras_losses` by tests/test_serialization.py (the catalog's
    GroupLasso entry is a model made by `apply`)."""

    def test_keras_file_keeps_the_penalties(self, tmp_path):
        regularized = apply(pretrained(), kernel=GroupLasso(0.05), bias=L2(0.01))
        path = str(tmp_path / "regularized.keras")
        regularized.save(path)
        loaded = keras.saving.load_model(path)
        assert sorted(type(v.regularizer).__name__ for v in loaded.weights if v.regularizer) == [
            "GroupLasso", "GroupLasso", "L2", "L2",
        ]
        np.testing.assert_allclose(total(loaded.losses), total(regularized.losses), rtol=1e-6)
        np.testing.assert_allclose(
            loaded.evaluate(X, Y, verbose=0), regularized.evaluate(X, Y, verbose=0), rtol=1e-6
        )


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16", "float16", "bfloat16"])
def test_16_bit_policies(policy):
    # Under a mixed policy the weights are float32; under "float16"/"bfloat16" they
    # are 16-bit themselves, and the penalty is computed (and added) in float32.
    keras.config.set_dtype_policy(policy)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    regularized = apply(model, kernel=GroupLasso(0.1), bias=L2(0.1))
    penalties = [numpy(v) for v in regularized.losses]
    assert len(penalties) == 4 and all(p.dtype == np.float32 and np.isfinite(p) for p in penalties)
    history = regularized.fit(X, Y, epochs=2, batch_size=8, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))


class TestBackendHelpers:
    """The helpers this family added to keras_losses/_backend.py."""

    def test_is_graph_model(self):
        from keras_losses import _backend

        inputs = keras.Input((5,))
        functional = keras.Model(inputs, keras.layers.Dense(2)(inputs))
        sequential = keras.Sequential([keras.layers.Dense(2)])
        assert _backend.is_graph_model(functional) and _backend.is_graph_model(sequential)
        assert not _backend.is_graph_model(Subclassed())
        assert not _backend.is_graph_model(keras.layers.Dense(2))

    def test_sublayers_at_any_depth(self):
        from keras_losses import _backend

        inner = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, name="deep")], name="inner")
        outer = keras.Sequential([keras.Input((5,)), inner, keras.layers.Dense(2, name="top")])
        names = {layer.name for layer in _backend.sublayers(outer)}
        assert {"inner", "deep", "top"} <= names and outer.name not in names

    def test_input_layer(self):
        from keras_losses import _backend

        inputs = keras.Input((5,), name="features")
        assert _backend.input_layer(inputs).name == "features"

    def test_unscale_loss_is_a_no_op_with_one_replica(self):
        from keras_losses import _backend

        value = keras.ops.convert_to_tensor(2.5)
        assert float(numpy(_backend.unscale_loss_for_distribution(value))) == 2.5
