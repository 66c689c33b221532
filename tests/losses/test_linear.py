import keras
import numpy as np
import pytest
from keras import ops

from keras_losses import LinearCrossEntropyHead
from keras_losses import LinearCrossEntropyLoss
from keras_losses import _backend
from keras_losses import linear_cross_entropy
from keras_losses.losses import linear
from keras_losses.testing import backends
from keras_losses.testing.reference import linear_cross_entropy as reference_linear
from tests import harness

BACKEND = keras.backend.backend()
REDUCTIONS = [None, "sum", "sum_over_batch_size", "mean_with_sample_weight"]

test_reference_equality = harness.reference_equality_test("linear_cross_entropy")


def numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


def _draw(batch=8, units=5, classes=13, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return (
        (rng.normal(size=(batch, units)) * scale).astype("float32"),
        rng.normal(size=(units, classes)).astype("float32"),
        rng.normal(size=classes).astype("float32"),
        rng.integers(0, classes, batch).astype("int32"),
    )


def _gradients(fn, inputs, cotangent=None):
    """`fn(**inputs)` and its gradient with respect to each float input, as NumPy."""
    tensors = {
        k: backends.to_tensor(v, "float32" if v.dtype.kind == "f" else None) for k, v in inputs.items()
    }
    value, _ = backends.run(fn, tensors, None, None)
    cotangent = np.ones(np.shape(value)) if cotangent is None else cotangent
    grads = {}
    for name, array in inputs.items():
        if name in ("hidden", "kernel", "bias"):
            _, grads[name] = backends.run(fn, tensors, name, cotangent)
    return value, grads


def _dtype(x):
    return keras.backend.standardize_dtype(x.dtype)


def _relative(ours, theirs):
    return np.max(np.abs(ours - theirs)) / max(np.max(np.abs(theirs)), 1e-30)


class TestLinearCrossEntropy:
    def test_unweighted(self):
        hidden, kernel, bias, labels = _draw()
        expected = reference_linear.linear_cross_entropy(labels, hidden, kernel, bias)
        ours = linear_cross_entropy(hidden, kernel, labels, bias, chunk_size=4)
        np.testing.assert_allclose(numpy(ours), expected, rtol=1e-5)

    def test_uniform_logits_give_log_v(self):
        # zero kernel: every class has probability 1/7, loss log(7) = 1.9459...
        loss = linear_cross_entropy(np.ones((3, 2), "float32"), np.zeros((2, 7), "float32"), [0, 3, 6])
        np.testing.assert_allclose(numpy(loss), np.log(7.0) * np.ones(3), rtol=1e-6)

    @pytest.mark.parametrize("chunk_size", [1, 4, 13, 100, None])
    def test_chunk_size_does_not_change_the_result(self, chunk_size):
        hidden, kernel, bias, labels = _draw()
        expected = reference_linear.linear_cross_entropy(labels, hidden, kernel, bias, z_loss=0.1)
        ours = linear_cross_entropy(hidden, kernel, labels, bias, z_loss=0.1, chunk_size=chunk_size)
        np.testing.assert_allclose(numpy(ours), expected, rtol=1e-5)

    def test_ignored_examples_have_zero_loss_and_exactly_zero_gradient(self):
        hidden, kernel, bias, labels = _draw()
        labels[[1, 4]] = -100
        value, grads = _gradients(
            lambda hidden, kernel, bias, labels: linear_cross_entropy(
                hidden, kernel, labels, bias, ignore_class=-100, label_smoothing=0.1, z_loss=0.01, chunk_size=5
            ),
            {"hidden": hidden, "kernel": kernel, "bias": bias, "labels": labels},
        )
        assert value[1] == 0.0 and value[4] == 0.0
        assert np.all(grads["hidden"][[1, 4]] == 0.0)
        # Only ignored examples: nothing reaches the kernel or the bias.
        _, grads = _gradients(
            lambda hidden, kernel, bias: linear_cross_entropy(
                hidden, kernel, np.full(8, -100, "int32"), bias, ignore_class=-100, chunk_size=5
            ),
            {"hidden": hidden, "kernel": kernel, "bias": bias},
        )
        assert all(np.all(g == 0.0) for g in grads.values())

    def test_ignore_class_leaves_examples_out_of_the_mean(self):
        hidden, kernel, bias, labels = _draw()
        labels[::2] = 3
        values = linear_cross_entropy(hidden, kernel, labels, bias, ignore_class=3)
        mask = _backend.get_mask(values)
        np.testing.assert_array_equal(numpy(mask), labels != 3)

    def test_sequence_shape(self):
        rng = np.random.default_rng(2)
        hidden = rng.normal(size=(2, 3, 4)).astype("float32")
        kernel = rng.normal(size=(4, 9)).astype("float32")
        labels = rng.integers(0, 9, (2, 3))
        ours = linear_cross_entropy(hidden, kernel, labels, chunk_size=4)
        assert tuple(ours.shape) == (2, 3)
        expected = reference_linear.linear_cross_entropy(labels, hidden, kernel)
        np.testing.assert_allclose(numpy(ours), expected, rtol=1e-5)

    def test_transposed_kernel_equals_the_kernel(self):
        hidden, kernel, bias, labels = _draw()
        tied = linear_cross_entropy(hidden, kernel.T.copy(), labels, bias, chunk_size=3, transpose_kernel=True)
        plain = linear_cross_entropy(hidden, kernel, labels, bias, chunk_size=3)
        np.testing.assert_allclose(numpy(tied), numpy(plain), rtol=1e-6)

    def test_logits_of_1e4_stay_finite(self):
        # Logits of about +-1e4: exp would overflow without the running maximum.
        hidden, kernel, bias, labels = _draw(scale=3e3)
        value, grads = _gradients(
            lambda hidden, kernel, bias: linear_cross_entropy(hidden, kernel, labels, bias, z_loss=1e-4, chunk_size=4),
            {"hidden": hidden, "kernel": kernel, "bias": bias},
        )
        assert np.max(np.abs(hidden @ kernel)) > 5e3
        expected = reference_linear.linear_cross_entropy(labels, hidden, kernel, bias, z_loss=1e-4)
        np.testing.assert_allclose(value, expected, rtol=1e-5)
        assert all(np.all(np.isfinite(g)) for g in grads.values())

    def test_labels_out_of_range_raise_in_eager_mode(self):
        hidden, kernel, bias, labels = _draw()
        for bad in (13, -1):
            labels[2] = bad
            with pytest.raises(ValueError, match=r"Class labels must be integers in \[0, 13\)"):
                linear_cross_entropy(hidden, kernel, labels, bias)
        # -1 is fine once it is the ignored class
        numpy(linear_cross_entropy(hidden, kernel, labels, bias, ignore_class=-1))

    @pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.function is TensorFlow's compiled mode")
    def test_labels_out_of_range_give_nan_when_compiled(self):
        import tensorflow as tf

        hidden, kernel, bias, labels = _draw()
        labels[2] = 13
        values = tf.function(lambda h, y: linear_cross_entropy(h, kernel, y, bias))(hidden, labels)
        values = numpy(values)
        assert np.isnan(values[2]) and np.all(np.isfinite(np.delete(values, 2)))

    def test_bad_shapes_and_arguments(self):
        hidden, kernel, bias, labels = _draw()
        with pytest.raises(ValueError, match="must agree on d"):
            linear_cross_entropy(hidden, kernel[:4], labels, bias)
        with pytest.raises(ValueError, match="must agree on d"):
            linear_cross_entropy(hidden, kernel, labels, bias, transpose_kernel=True)
        with pytest.raises(ValueError, match="rank 2"):
            linear_cross_entropy(hidden, kernel[0], labels)
        with pytest.raises(ValueError, match=r"`bias` must have shape \(V,\) = \(13,\)"):
            linear_cross_entropy(hidden, kernel, labels, bias[:12])
        with pytest.raises(ValueError, match="incompatible"):
            linear_cross_entropy(hidden, kernel, labels[:5], bias)
        for chunk_size in (0, -4, 2.5):
            with pytest.raises(ValueError, match="Invalid value for argument `chunk_size`"):
                linear_cross_entropy(hidden, kernel, labels, chunk_size=chunk_size)
        with pytest.raises(ValueError, match="`label_smoothing`"):
            linear_cross_entropy(hidden, kernel, labels, label_smoothing=1.5)
        with pytest.raises(ValueError, match="`z_loss`"):
            linear_cross_entropy(hidden, kernel, labels, z_loss=-1.0)

    def test_16_bit_inputs_are_computed_in_float32(self):
        hidden, kernel, bias, labels = _draw()
        h16, k16 = ops.cast(hidden, "bfloat16"), ops.cast(kernel, "bfloat16")
        ours = linear_cross_entropy(h16, k16, labels, bias, chunk_size=4)
        assert _dtype(ours) == "float32"
        seen_h, seen_k = backends.as_float64(h16), backends.as_float64(k16)
        expected = reference_linear.linear_cross_entropy(labels, seen_h, seen_k, bias)
        np.testing.assert_allclose(numpy(ours), expected, rtol=1e-5)


def _stats_loss(loss, chunk_size=4):
    def fn(hidden, kernel, bias, labels, sample_weight=None):
        return loss(labels, linear.logit_statistics(hidden, kernel, labels, bias, chunk_size), sample_weight)

    return fn


def _materialized_loss(loss):
    def fn(hidden, kernel, bias, labels, sample_weight=None):
        return loss(labels, ops.matmul(hidden, kernel) + bias, sample_weight)

    return fn


class TestLinearCrossEntropyLoss:
    def test_config(self):
        loss = LinearCrossEntropyLoss(ignore_class=-1, label_smoothing=0.1, z_loss=1e-4, reduction="sum", name="x", dtype="float32")
        config = loss.get_config()
        assert {k: config[k] for k in ("ignore_class", "label_smoothing", "z_loss", "reduction", "name", "dtype")} == {
            "ignore_class": -1, "label_smoothing": 0.1, "z_loss": 1e-4, "reduction": "sum", "name": "x", "dtype": "float32"
        }

    @pytest.mark.parametrize("reduction", REDUCTIONS)
    @pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weighted"])
    def test_values_and_gradients_equal_sparse_categorical_crossentropy(self, reduction, weighted):
        """Every reduction, with and without weights and with ignore_class: the same
        values and gradients (hidden, kernel, bias) as the built-in of the logits."""
        hidden, kernel, bias, labels = _draw(batch=9)
        labels[[2, 7]] = -1
        inputs = {"hidden": hidden, "kernel": kernel, "bias": bias, "labels": labels}
        if weighted:
            inputs["sample_weight"] = np.random.default_rng(5).uniform(0, 2, 9).astype("float32")
        ours = _gradients(_stats_loss(LinearCrossEntropyLoss(ignore_class=-1, reduction=reduction)), inputs)
        builtin = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1, reduction=reduction)
        theirs = _gradients(_materialized_loss(builtin), inputs)
        assert _relative(ours[0], theirs[0]) < 1e-5
        for name in ("hidden", "kernel", "bias"):
            assert _relative(ours[1][name], theirs[1][name]) < 1e-5, name
        if reduction is None:
            np.testing.assert_array_equal(ours[1]["hidden"][[2, 7]], 0.0)

    def test_zero_weighted(self):
        hidden, kernel, bias, labels = _draw()
        value, grads = _gradients(
            _stats_loss(LinearCrossEntropyLoss(reduction="sum")),
            {"hidden": hidden, "kernel": kernel, "bias": bias, "labels": labels,
             "sample_weight": np.zeros(8, "float32")},
        )
        assert value == 0.0 and all(np.all(g == 0.0) for g in grads.values())

    def test_label_smoothing_and_z_loss_equal_categorical_crossentropy(self):
        hidden, kernel, bias, labels = _draw()
        inputs = {"hidden": hidden, "kernel": kernel, "bias": bias, "labels": labels}
        ours = _gradients(_stats_loss(LinearCrossEntropyLoss(label_smoothing=0.2, z_loss=0.01, reduction="sum")), inputs)
        smoothed = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2, reduction="sum")

        def theirs_fn(hidden, kernel, bias, labels):
            logits = ops.matmul(hidden, kernel) + bias
            return smoothed(ops.one_hot(labels, 13), logits) + 0.01 * ops.sum(ops.square(ops.logsumexp(logits, axis=-1)))

        theirs = _gradients(theirs_fn, inputs)
        assert _relative(ours[0], theirs[0]) < 1e-5
        for name in ("hidden", "kernel", "bias"):
            assert _relative(ours[1][name], theirs[1][name]) < 1e-5, name

    def test_keras_mask_leaves_positions_out(self):
        """A mask on the statistics (padding) works as on the built-in's logits."""
        rng = np.random.default_rng(3)
        hidden = rng.normal(size=(2, 4, 5)).astype("float32")
        kernel = rng.normal(size=(5, 6)).astype("float32")
        labels = rng.integers(0, 6, (2, 4)).astype("int32")
        labels[1, 3] = 99  # a padded position's label may be anything
        mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], bool)
        statistics = linear.logit_statistics(hidden, kernel, labels, chunk_size=4)
        _backend.set_mask(statistics, ops.convert_to_tensor(mask))
        ours = LinearCrossEntropyLoss()(labels, statistics)
        logits = ops.convert_to_tensor(hidden @ kernel)
        _backend.set_mask(logits, ops.convert_to_tensor(mask))
        theirs = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(np.where(mask, labels, 0), logits)
        np.testing.assert_allclose(numpy(ours), numpy(theirs), rtol=1e-6)

    def test_unknown_labels_raise_in_eager_mode(self):
        hidden, kernel, bias, labels = _draw()
        labels[0] = 13
        statistics = linear.logit_statistics(hidden, kernel, labels, bias)
        with pytest.raises(ValueError, match=r"Class labels must be integers in \[0, V\)"):
            LinearCrossEntropyLoss()(labels, statistics)

    def test_y_pred_must_be_statistics(self):
        with pytest.raises(ValueError, match=r"logit statistics \(\.\.\., 3\)"):
            LinearCrossEntropyLoss()(np.zeros(4, "int32"), np.zeros((4, 7), "float32"))

    def test_dtype_arg(self):
        hidden, kernel, bias, labels = _draw()
        statistics = linear.logit_statistics(hidden, kernel, labels, bias)
        value = LinearCrossEntropyLoss(dtype="float16")(labels, statistics)
        assert _dtype(value) == "float16"

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="`ignore_class`"):
            LinearCrossEntropyLoss(ignore_class=0.5)
        with pytest.raises(ValueError, match="`label_smoothing`"):
            LinearCrossEntropyLoss(label_smoothing=-0.1)


class TestLinearCrossEntropyHead:
    def test_config(self):
        head = LinearCrossEntropyHead(10, use_bias=False, chunk_size=3, kernel_initializer="ones", name="h")
        config = head.get_config()
        assert (config["units"], config["use_bias"], config["chunk_size"], config["name"]) == (10, False, 3, "h")
        assert config["kernel_initializer"]["class_name"] == "Ones"

    def test_bad_arguments(self):
        for kwargs in ({"units": 0}, {"units": 5, "chunk_size": 0}, {"units": 5, "use_bias": 1}):
            with pytest.raises(ValueError, match="Invalid value for argument"):
                LinearCrossEntropyHead(**kwargs)

    def _built(self, units=11, dim=5, chunk_size=4):
        hidden, kernel, bias, labels = _draw(units=dim, classes=units)
        head = LinearCrossEntropyHead(units, chunk_size=chunk_size)
        head.build((None, dim))
        head.kernel.assign(kernel)
        head.bias.assign(bias)
        return head, hidden, kernel, bias, labels

    def test_logits_and_statistics(self):
        head, hidden, kernel, bias, labels = self._built()
        logits = hidden @ kernel + bias
        np.testing.assert_allclose(numpy(head(hidden)), logits, rtol=1e-5, atol=1e-6)
        stats = numpy(head([hidden, labels]))
        top = logits.max(-1)
        np.testing.assert_allclose(stats[:, 0], top + np.log(np.exp(logits - top[:, None]).sum(-1)), rtol=1e-5)
        np.testing.assert_allclose(stats[:, 1], logits[np.arange(8), labels], rtol=1e-5)
        np.testing.assert_allclose(stats[:, 2], logits.mean(-1), rtol=1e-5, atol=1e-6)

    def test_hidden_of_another_width_is_an_error(self):
        head, hidden, *_ = self._built()
        with pytest.raises(ValueError, match="must agree on d"):
            head(hidden[:, :4])

    @pytest.mark.parametrize("k", [1, 3, 11])
    def test_top_k(self, k):
        head, hidden, kernel, bias, labels = self._built()
        log_probs, classes = head.top_k(hidden, k)
        logits = hidden @ kernel + bias
        log_p = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True)) - logits.max(-1, keepdims=True)
        order = np.argsort(-log_p, axis=-1)[:, :k]
        np.testing.assert_array_equal(numpy(classes), order)
        np.testing.assert_allclose(numpy(log_probs), np.take_along_axis(log_p, order, -1), rtol=1e-5, atol=1e-5)
        with pytest.raises(ValueError, match="`k`"):
            head.top_k(hidden, 12)

    def test_mixed_precision_computes_in_float32(self):
        keras.config.set_dtype_policy("mixed_bfloat16")
        head = LinearCrossEntropyHead(7, chunk_size=3)
        hidden = ops.cast(np.random.default_rng(0).normal(size=(4, 5)), "bfloat16")
        stats = head([hidden, np.array([0, 1, 2, 6])])
        assert _dtype(head.kernel) == "float32"
        assert _dtype(stats) == "float32" and _dtype(head(hidden)) == "float32"

    @pytest.mark.slow
    def test_fit_with_padding_mask_equals_the_materialized_mean(self):
        """A sequence model: Embedding(mask_zero=True) padding and ignore_class in one batch."""
        rng = np.random.default_rng(0)
        vocabulary = 20
        tokens = keras.Input((None,), dtype="int32")
        labels = keras.Input((None,), dtype="int32")
        embedding = keras.layers.Embedding(vocabulary, 6, mask_zero=True)
        head = LinearCrossEntropyHead(vocabulary, chunk_size=7)
        training = keras.Model([tokens, labels], head([embedding(tokens), labels]))
        training.compile("adam", LinearCrossEntropyLoss(ignore_class=-1))
        x = rng.integers(1, vocabulary, (6, 5))
        x[:, 3:] = 0
        y = rng.integers(0, vocabulary, (6, 5))
        y[:, 3:] = 12345  # padded: never looked at
        y[0, 0] = -1
        history = training.fit([x, y], y, epochs=2, batch_size=3, verbose=0)
        assert np.all(np.isfinite(history.history["loss"]))
        logits = numpy(head(embedding(x)))
        top = logits.max(-1)
        lse = top + np.log(np.exp(logits - top[..., None]).sum(-1))
        counted = (x != 0) & (y != -1)
        nll = lse - np.take_along_axis(logits, np.where(counted, y, 0)[..., None], -1)[..., 0]
        weights = rng.uniform(0.5, 1.5, 6).astype("float32")
        evaluated = training.evaluate([x, y], y, sample_weight=weights, batch_size=6, verbose=0)
        np.testing.assert_allclose(evaluated, (nll * counted * weights[:, None]).sum() / counted.sum(), rtol=1e-5)


@pytest.mark.skipif(BACKEND != "jax", reason="jax-cce is a JAX library")
def test_equals_jax_cce():
    """The peer: jax-cce's mean over examples, its (V, d) kernel, float32; values and gradients."""
    jax_cce = pytest.importorskip("jax_cce")
    import jax

    rng = np.random.default_rng(7)
    hidden = rng.normal(size=(16, 8)).astype("float32")
    embedding = rng.normal(size=(37, 8)).astype("float32")
    labels = rng.integers(0, 37, 16).astype("int32")

    def ours(h, w):
        return ops.mean(linear_cross_entropy(h, w, labels, chunk_size=5, transpose_kernel=True))

    def theirs(h, w):
        return jax_cce.linear_cross_entropy(h, w, labels, chunk_size=5)

    value, grads = jax.value_and_grad(ours, argnums=(0, 1))(hidden, embedding)
    peer_value, peer_grads = jax.value_and_grad(theirs, argnums=(0, 1))(hidden, embedding)
    assert _relative(np.asarray(value), np.asarray(peer_value)) < 1e-5
    for g, p in zip(grads, peer_grads):
        assert _relative(np.asarray(g), np.asarray(p)) < 1e-5


@pytest.mark.skipif(BACKEND != "torch", reason="cut-cross-entropy is a PyTorch library")
def test_equals_cut_cross_entropy():
    """The peer: Apple's cut-cross-entropy, its PyTorch (torch.compile) path, which runs
    on a CPU; per-example values (`reduction="none"`) and gradients."""
    cce = pytest.importorskip("cut_cross_entropy")
    import torch

    rng = np.random.default_rng(8)
    hidden = torch.tensor(rng.normal(size=(16, 8)).astype("float32"), requires_grad=True)
    embedding = torch.tensor(rng.normal(size=(37, 8)).astype("float32"), requires_grad=True)
    labels = torch.tensor(rng.integers(0, 37, 16))
    labels[3] = -100
    weights = torch.tensor(rng.uniform(0.5, 1.5, 16).astype("float32"))
    ours = linear_cross_entropy(hidden, embedding, labels, ignore_class=-100, chunk_size=5, transpose_kernel=True)
    ours_grads = torch.autograd.grad((ours * weights).sum(), [hidden, embedding])
    theirs = cce.linear_cross_entropy(hidden, embedding, labels, impl="torch_compile", reduction="none")
    theirs_grads = torch.autograd.grad((theirs * weights).sum(), [hidden, embedding])
    assert _relative(ours.detach().numpy(), theirs.detach().numpy()) < 1e-5
    for g, p in zip(ours_grads, theirs_grads):
        assert _relative(g.numpy(), p.numpy()) < 1e-5
