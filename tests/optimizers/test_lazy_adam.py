"""LazyAdam: the row rule against NumPy and torch.optim.SparseAdam, dense Adam, arguments, saving."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_losses
from keras_losses.optimizers import LazyAdam
from keras_losses.testing.reference import optimizers as ref

BACKEND = keras.backend.backend()
ROWS, COLS = 12, 3


def numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def row_gradient(indices, values, shape):
    """A row-sparse gradient in the backend's own form, built here from the backend's API."""
    indices = np.asarray(indices)
    values = np.asarray(values, "float32")
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return tf.IndexedSlices(tf.constant(values), tf.constant(indices, tf.int64), tf.constant(shape, tf.int64))
    if BACKEND == "torch":
        import torch

        return torch.sparse_coo_tensor(torch.as_tensor(indices)[None], torch.as_tensor(values), shape, check_invariants=False)
    from keras_losses._backend import RowSparse

    return RowSparse(keras.ops.convert_to_tensor(indices, "int32"), keras.ops.convert_to_tensor(values), shape)


def gradient_sequence(rng, steps=5, shape=(ROWS, COLS)):
    """Steps of row gradients; rows repeat within a step and rows 10 and 11 are never touched."""
    sequence = []
    for _ in range(steps):
        indices = rng.integers(0, 10, 7)
        indices[1] = indices[0]  # a repeated row: summed once
        sequence.append((indices, rng.normal(size=(7,) + shape[1:]).astype("float32")))
    return sequence


def apply_sequence(optimizer, sequence, start, shape=(ROWS, COLS)):
    variable = keras.Variable(start.astype("float32"))
    optimizer.build([variable])
    states = []
    for indices, values in sequence:
        optimizer.apply([row_gradient(indices, values, shape)], [variable])
        m, v = optimizer._momentums[0], optimizer._velocities[0]
        states.append((numpy(variable).copy(), numpy(m).copy(), numpy(v).copy()))
    return states


class TestRowRule:
    def test_equals_numpy_reference_step_for_step(self):
        rng = np.random.default_rng(0)
        start = rng.normal(size=(ROWS, COLS))
        sequence = gradient_sequence(rng)
        states = apply_sequence(LazyAdam(0.05, beta_1=0.8, beta_2=0.95, epsilon=1e-6), sequence, start)
        w, m, v = start, np.zeros_like(start), np.zeros_like(start)
        for t, ((indices, values), (w_got, m_got, v_got)) in enumerate(zip(sequence, states), 1):
            w, m, v = ref.lazy_adam_step(w, m, v, t, indices, values, 0.05, 0.8, 0.95, 1e-6)
            np.testing.assert_allclose(w_got, w, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(m_got, m, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(v_got, v, rtol=1e-5, atol=1e-7)

    def test_untouched_rows_keep_weights_and_moments(self):
        rng = np.random.default_rng(1)
        start = rng.normal(size=(ROWS, COLS))
        states = apply_sequence(LazyAdam(0.1), gradient_sequence(rng), start)
        w, m, v = states[-1]
        np.testing.assert_array_equal(w[10:], start[10:].astype("float32"))
        np.testing.assert_array_equal(m[10:], 0.0)
        np.testing.assert_array_equal(v[10:], 0.0)

    def test_a_row_skipped_by_a_step_keeps_its_moments(self):
        # Step 1 touches row 0, step 2 only row 1: row 0's m and v stay as step 1 left
        # them (dense Adam would multiply them by beta_1 and beta_2).
        shape = (3, 1)
        optimizer = LazyAdam(0.1, beta_1=0.5, beta_2=0.5)
        variable = keras.Variable(np.zeros(shape, "float32"))
        optimizer.build([variable])
        optimizer.apply([row_gradient([0], [[2.0]], shape)], [variable])
        optimizer.apply([row_gradient([1], [[4.0]], shape)], [variable])
        # m[0] = 0.5 * 2 = 1, v[0] = 0.5 * 4 = 2 after step 1, unchanged by step 2.
        np.testing.assert_allclose(numpy(optimizer._momentums[0])[:, 0], [1.0, 2.0, 0.0])
        np.testing.assert_allclose(numpy(optimizer._velocities[0])[:, 0], [2.0, 8.0, 0.0])

    def test_repeated_rows_are_summed_once(self):
        # Rows [0, 0] with values 1 and 2 are one gradient of 3: m = 0.1 * 3, not two updates.
        shape = (2, 1)
        optimizer = LazyAdam(0.1)
        variable = keras.Variable(np.zeros(shape, "float32"))
        optimizer.build([variable])
        optimizer.apply([row_gradient([0, 0], [[1.0], [2.0]], shape)], [variable])
        np.testing.assert_allclose(numpy(optimizer._momentums[0])[:, 0], [0.3, 0.0], rtol=1e-6)
        np.testing.assert_allclose(numpy(optimizer._velocities[0])[:, 0], [0.009, 0.0], rtol=1e-4)  # 1 - 0.999 in float32

    def test_equals_torch_sparse_adam(self):
        torch = pytest.importorskip("torch")
        rng = np.random.default_rng(2)
        start = rng.normal(size=(ROWS, COLS))
        sequence = gradient_sequence(rng, steps=6)
        states = apply_sequence(LazyAdam(0.05, beta_1=0.85, beta_2=0.9, epsilon=1e-6), sequence, start)
        weight = torch.nn.Parameter(torch.tensor(start, dtype=torch.float64))
        peer = torch.optim.SparseAdam([weight], lr=0.05, betas=(0.85, 0.9), eps=1e-6)
        for (indices, values), (w_got, _, _) in zip(sequence, states):
            weight.grad = torch.sparse_coo_tensor(
                torch.as_tensor(indices)[None], torch.as_tensor(values, dtype=torch.float64), (ROWS, COLS),
                check_invariants=False,
            )
            peer.step()
            np.testing.assert_allclose(w_got, weight.detach().numpy(), rtol=1e-5, atol=1e-6)

    def test_dense_gradient_is_keras_adam(self):
        rng = np.random.default_rng(3)
        start = rng.normal(size=(4, 2)).astype("float32")
        ours, theirs = keras.Variable(start), keras.Variable(start)
        lazy, adam = LazyAdam(0.01, 0.8, 0.9, 1e-5), keras.optimizers.Adam(0.01, 0.8, 0.9, 1e-5)
        for _ in range(3):
            gradient = rng.normal(size=(4, 2)).astype("float32")
            lazy.apply([keras.ops.convert_to_tensor(gradient)], [ours])
            adam.apply([keras.ops.convert_to_tensor(gradient)], [theirs])
        np.testing.assert_allclose(numpy(ours), numpy(theirs), rtol=1e-6, atol=1e-7)

    def test_dense_gradient_equals_numpy_adam(self):
        rng = np.random.default_rng(4)
        start = rng.normal(size=(4, 2))
        variable = keras.Variable(start.astype("float32"))
        optimizer = LazyAdam(0.02)
        w, m, v = start, np.zeros_like(start), np.zeros_like(start)
        for t in range(1, 4):
            gradient = rng.normal(size=(4, 2))
            optimizer.apply([keras.ops.convert_to_tensor(gradient.astype("float32"))], [variable])
            w, m, v = ref.adam_step(w, m, v, t, gradient, 0.02)
        np.testing.assert_allclose(numpy(variable), w, rtol=1e-5, atol=1e-6)

    @pytest.mark.parametrize("clip", [{"clipnorm": 0.5}, {"clipvalue": 0.3}, {"global_clipnorm": 0.4}])
    def test_clipping_acts_on_the_summed_rows(self, clip):
        # The dense gradient that the rows stand for, clipped as Keras clips it, then a
        # lazy step over the touched rows (NumPy).
        rng = np.random.default_rng(5)
        start = rng.normal(size=(ROWS, COLS))
        indices = np.array([3, 3, 5, 7])
        values = rng.normal(size=(4, COLS))
        variable = keras.Variable(start.astype("float32"))
        optimizer = LazyAdam(0.1, **clip)
        optimizer.build([variable])
        optimizer.apply([row_gradient(indices, values, (ROWS, COLS))], [variable])
        summed = ref.sum_repeated_rows(indices, values)
        rows = sorted(summed)
        dense = np.stack([summed[r] for r in rows])
        norm = np.sqrt((dense**2).sum())
        if "clipvalue" in clip:
            dense = np.clip(dense, -0.3, 0.3)
        else:
            limit = clip.get("clipnorm", clip.get("global_clipnorm"))
            dense = dense * limit / max(norm, limit)
        w, _, _ = ref.lazy_adam_step(start, np.zeros_like(start), np.zeros_like(start), 1, rows, dense, 0.1)
        np.testing.assert_allclose(numpy(variable), w, rtol=1e-5, atol=1e-6)

    def test_a_non_finite_row_spoils_that_row_only(self):
        # As Keras's own optimizers: no check, the NaN goes into the row it belongs to.
        shape = (4, 2)
        variable = keras.Variable(np.ones(shape, "float32"))
        optimizer = LazyAdam(0.1)
        optimizer.build([variable])
        optimizer.apply([row_gradient([1, 2], [[np.nan, 1.0], [1.0, 1.0]], shape)], [variable])
        result = numpy(variable)
        assert np.isnan(result[1, 0]) and np.all(np.isfinite(np.delete(result, 1, axis=0)))
        assert np.isfinite(result[1, 1])


class TestArguments:
    @pytest.mark.parametrize(
        "kwargs, name",
        [
            ({"learning_rate": -0.1}, "learning_rate"),
            ({"beta_1": 1.0}, "beta_1"),
            ({"beta_1": -0.1}, "beta_1"),
            ({"beta_2": 1.5}, "beta_2"),
            ({"beta_2": float("nan")}, "beta_2"),
            ({"epsilon": 0.0}, "epsilon"),
            ({"epsilon": "small"}, "epsilon"),
        ],
    )
    def test_out_of_range_is_a_value_error(self, kwargs, name):
        with pytest.raises(ValueError, match=f"Invalid value for argument `{name}`"):
            LazyAdam(**kwargs)

    def test_config(self):
        optimizer = LazyAdam(0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-5, clipnorm=2.0, name="lazy")
        config = optimizer.get_config()
        assert {k: config[k] for k in ("learning_rate", "beta_1", "beta_2", "epsilon", "clipnorm", "name")} == {
            "learning_rate": pytest.approx(0.01), "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-5,
            "clipnorm": 2.0, "name": "lazy",
        }
        restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
        assert type(restored) is LazyAdam and restored.get_config() == config

    def test_schedule(self):
        schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
        optimizer = LazyAdam(schedule)
        restored = LazyAdam.from_config(optimizer.get_config())
        assert isinstance(restored.get_config()["learning_rate"], dict)


@pytest.mark.subprocess
def test_a_model_compiled_with_lazy_adam_reloads_in_a_fresh_process(tmp_path):
    rng = np.random.default_rng(0)
    hidden = keras.Input((4,))
    labels = keras.Input((), dtype="int32")
    outputs = keras_losses.HierarchicalSoftmax(keras_losses.Tree.balanced(9))([hidden, labels])
    model = keras_losses.optimizers.sparse_updates(keras.Model([hidden, labels], outputs))
    model.compile(LazyAdam(0.02, beta_1=0.8, epsilon=1e-5), keras_losses.HierarchicalSoftmaxLoss(from_path_logits=True))
    x, y = rng.normal(size=(16, 4)).astype("float32"), rng.integers(0, 9, 16)
    model.fit([x, y], y, batch_size=8, verbose=0)
    path = str(tmp_path / "model.keras")
    model.save(path)
    moments = [numpy(v).tolist() for v in model.optimizer.variables]
    code = (
        "import json, sys, keras, numpy as np\n"
        "import keras_losses\n"
        f"model = keras.saving.load_model({path!r}, safe_mode=True)\n"
        "o = model.optimizer\n"
        "print(json.dumps({'type': type(o).__name__, 'config': o.get_config(),"
        " 'variables': [np.asarray(keras.ops.convert_to_numpy(v)).tolist() for v in o.variables]}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    line = [l for l in result.stdout.splitlines() if l.startswith("{")]
    assert line, result.stderr[-3000:]
    loaded = json.loads(line[-1])
    assert loaded["type"] == "LazyAdam"
    assert loaded["config"] == json.loads(json.dumps(model.optimizer.get_config()))
    for got, want in zip(loaded["variables"], moments):
        np.testing.assert_allclose(np.asarray(got, "float64"), np.asarray(want, "float64"), rtol=1e-6)
