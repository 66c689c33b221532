import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_losses
from keras_losses import CRF
from keras_losses import CRFLoss
from keras_losses import StructuredHingeLoss
from keras_losses import crf
from keras_losses.testing.reference import crf as brute

BACKEND = keras.backend.backend()


def numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def _built(num_tags=3, boundaries=True, seed=0):
    layer = CRF(num_tags, use_boundary_transitions=boundaries)
    layer.build((None, None, num_tags))
    rng = np.random.default_rng(seed)
    for weight in layer.weights:
        weight.assign(rng.normal(0, 1, tuple(weight.shape)).astype("float32"))
    return layer


def _weights(layer):
    if layer.use_boundary_transitions:
        return numpy(layer.transitions), numpy(layer.start_transitions), numpy(layer.end_transitions)
    return numpy(layer.transitions), None, None


def _tagging_data(seed=0, count=96, steps=8, vocabulary=20):
    """A task only transitions can solve: tag 0 before the start token (id 1), then
    tags 1, 2, 1, 2, ... from it on; the other tokens are random and say nothing."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, steps + 1, count)
    real = np.arange(steps)[None, :] < lengths[:, None]
    tokens = np.where(real, rng.integers(2, vocabulary, (count, steps)), 0)
    begin = rng.integers(0, lengths)
    tokens[np.arange(count), begin] = 1
    offset = np.arange(steps)[None, :] - begin[:, None]
    tags = np.where(offset < 0, 0, 1 + offset % 2)
    return tokens.astype("int32"), np.where(real, tags, -1).astype("int32"), real


def _models(loss, num_tags=3, vocabulary=20, jit_compile="auto"):
    tokens = keras.Input((None,), dtype="int32")
    hidden = keras.layers.Embedding(vocabulary, 8, mask_zero=True)(tokens)
    emissions = keras.layers.Dense(num_tags)(hidden)  # each token alone: no context
    layer = CRF(num_tags)
    training = keras.Model(tokens, layer(emissions))
    training.compile(optimizer=keras.optimizers.Adam(0.05), loss=loss, jit_compile=jit_compile)
    tagger = keras.Model(tokens, layer(emissions, decode=True))
    return training, tagger, layer


class TestCRF:
    def test_config(self):
        layer = CRF(
            5,
            use_boundary_transitions=False,
            transitions_initializer="ones",
            transitions_regularizer=keras.regularizers.L2(0.1),
            name="tagger_crf",
        )
        config = layer.get_config()
        assert config["num_tags"] == 5 and config["use_boundary_transitions"] is False
        assert config["transitions_initializer"]["class_name"] == "Ones"
        assert config["transitions_regularizer"]["config"]["l2"] == pytest.approx(0.1)
        restored = CRF.from_config(config)
        assert restored.get_config() == config

    @pytest.mark.parametrize("num_tags", [1, 0, -3, 2.5, True])
    def test_num_tags_below_two(self, num_tags):
        with pytest.raises(ValueError, match="Invalid value for argument `num_tags`"):
            CRF(num_tags)

    def test_emissions_of_another_number_of_tags(self):
        with pytest.raises(ValueError, match="argument `emissions`"):
            CRF(4)(np.zeros((2, 3, 5), "float32"))
        with pytest.raises(ValueError, match="argument `emissions`"):
            CRF(4)(np.zeros((2, 4), "float32"))

    def test_weights(self):
        assert [tuple(w.shape) for w in _built(4).weights] == [(4, 4), (4,), (4,)]
        assert [tuple(w.shape) for w in _built(4, boundaries=False).weights] == [(4, 4)]
        # zeros by default: the untrained CRF is per-step softmax classifiers
        layer = CRF(3)
        layer.build((None, None, 3))
        assert all(np.all(numpy(w) == 0) for w in layer.weights)

    @pytest.mark.parametrize("boundaries", [True, False])
    def test_potentials_pack_emissions_weights_and_mask(self, boundaries):
        layer = _built(3, boundaries)
        emissions = np.random.default_rng(1).normal(size=(2, 4, 3)).astype("float32")
        mask = np.array([[1, 1, 1, 0], [1, 0, 0, 0]], bool)
        potentials = numpy(layer(emissions, mask=mask))
        assert potentials.shape == (2, 4 + 3 + 2, 4)
        e, transitions, start, end, m = brute.unpack(potentials)
        expected = _weights(layer)
        np.testing.assert_array_equal(e, emissions)
        np.testing.assert_array_equal(m, mask)
        np.testing.assert_array_equal(transitions, expected[0])
        np.testing.assert_array_equal(start, expected[1] if boundaries else 0)
        np.testing.assert_array_equal(end, expected[2] if boundaries else 0)
        assert tuple(layer.compute_output_shape((2, 4, 3))) == (2, 9, 4)
        assert tuple(layer.compute_output_shape((2, None, 3), decode=True)) == (2, None)

    def test_decode_and_marginals_read_the_keras_mask(self):
        layer = _built(3)
        tokens = np.array([[3, 4, 5, 0], [6, 0, 0, 0], [0, 0, 0, 0]])
        embedded = keras.layers.Embedding(10, 3, mask_zero=True)(tokens)
        mask = tokens != 0
        transitions, start, end = _weights(layer)
        seen = numpy(embedded)
        tags, scores = layer.decode(embedded)
        expected_tags, expected_scores = brute.viterbi(seen, transitions, start, end, mask)
        np.testing.assert_array_equal(numpy(tags), expected_tags)
        np.testing.assert_allclose(numpy(scores), expected_scores, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(
            numpy(layer.marginals(embedded)), brute.marginals(seen, transitions, start, end, mask), atol=1e-6
        )
        np.testing.assert_array_equal(numpy(layer(embedded, decode=True)), expected_tags)

    @pytest.mark.slow
    @pytest.mark.parametrize("loss", [CRFLoss(), StructuredHingeLoss(cost=1.0)], ids=["nll", "hinge"])
    def test_training_learns_the_transitions(self, loss):
        # The tags after the start token alternate 1, 2, 1, ...: no token says which
        # and the emissions see one token each, so only the transitions can.
        keras.utils.set_random_seed(0)
        tokens, tags, real = _tagging_data()
        training, tagger, layer = _models(loss)
        history = training.fit(tokens, tags, epochs=20, batch_size=16, verbose=0, validation_split=0.25)
        assert np.all(np.isfinite(history.history["val_loss"]))
        predicted = tagger.predict(tokens, verbose=0)
        assert predicted.dtype == np.int32
        assert np.all(predicted[~real] == -1)
        assert np.mean(predicted[real] == tags[real]) > 0.95
        transitions = numpy(layer.transitions)
        assert transitions[1, 2] > transitions[1, 1] and transitions[2, 1] > transitions[2, 2]

    @pytest.mark.skipif(BACKEND != "tensorflow", reason="XLA through jit_compile on TensorFlow")
    def test_fit_under_xla(self):
        keras.utils.set_random_seed(0)
        tokens, tags, real = _tagging_data(count=32)
        for loss in (CRFLoss(), StructuredHingeLoss()):
            training, tagger, _ = _models(loss, jit_compile=True)
            history = training.fit(tokens, tags, epochs=2, batch_size=16, verbose=0, sample_weight=np.ones(32))
            assert np.all(np.isfinite(history.history["loss"]))

    @pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
    def test_mixed_precision(self, policy):
        keras.config.set_dtype_policy(policy)
        try:
            keras.utils.set_random_seed(0)
            tokens, tags, real = _tagging_data(count=16)
            training, tagger, layer = _models(CRFLoss())
            potentials = training(tokens)
            assert keras.backend.standardize_dtype(potentials.dtype) == "float32"
            assert keras.backend.standardize_dtype(layer.transitions.dtype) == "float32"
            history = training.fit(tokens, tags, epochs=2, batch_size=8, verbose=0)
            assert np.all(np.isfinite(history.history["loss"]))
            assert np.all(tagger.predict(tokens, verbose=0)[~real] == -1)
        finally:
            keras.config.set_dtype_policy("float32")

    @pytest.mark.subprocess
    def test_tagger_and_training_model_reload_in_a_fresh_process(self, tmp_path):
        keras.utils.set_random_seed(0)
        tokens, tags, _ = _tagging_data(count=16)
        training, tagger, _ = _models(StructuredHingeLoss(cost=0.5))
        training.fit(tokens, tags, epochs=1, verbose=0)
        training.save(tmp_path / "training.keras")
        tagger.save(tmp_path / "tagger.keras")
        np.savez(tmp_path / "data.npz", tokens=tokens, tags=tags, predicted=tagger.predict(tokens, verbose=0),
                 loss=training.evaluate(tokens, tags, verbose=0))
        code = (
            "import keras, numpy as np, keras_losses, sys\n"
            f"d = np.load({str(tmp_path / 'data.npz')!r})\n"
            f"tagger = keras.saving.load_model({str(tmp_path / 'tagger.keras')!r}, safe_mode=True)\n"
            f"training = keras.saving.load_model({str(tmp_path / 'training.keras')!r}, safe_mode=True)\n"
            "assert (tagger.predict(d['tokens'], verbose=0) == d['predicted']).all()\n"
            "assert np.allclose(training.evaluate(d['tokens'], d['tags'], verbose=0), d['loss'], rtol=1e-5)\n"
            "training.fit(d['tokens'], d['tags'], epochs=1, verbose=0)\n"
            "print('ok')\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        )
        assert result.stdout.strip().endswith("ok"), result.stderr[-3000:]

    def test_exported(self):
        assert keras_losses.layers.CRF is CRF and keras_losses.crf is crf
