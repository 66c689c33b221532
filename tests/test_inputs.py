"""Shared input handling (`keras_losses/_inputs.py`), through the losses and the
layer that use it: class labels read exactly, empty batches, shapes in `tf.function`."""

import keras
import numpy as np
import pytest

import keras_losses as kl
from tests.harness import mode_params
from tests.harness import run_in_mode

TREE = kl.Tree.balanced(4)  # nodes 0..2; every class has a path of 2
COMPILED = [m for m in ("tf.function", "xla", "jax.jit") if m in [p.values[0] for p in mode_params()]]


def sparse_losses():
    return [
        kl.SparseCategoricalFocalLoss(from_logits=True, reduction=None),
        kl.SparseMulticlassHinge(reduction=None),
        kl.HierarchicalSoftmaxLoss(TREE, reduction=None),
    ]


def _scores(n=1):
    return np.zeros((n, 3), "float32")  # 3 classes, or the 3 nodes of TREE


class TestLabelsAreReadExactly:
    """Issue 12, item 11: no wrapping, no rounding, NaN named, all in eager mode."""

    @pytest.mark.parametrize("loss", sparse_losses(), ids=lambda l: type(l).__name__)
    def test_int64_label_beyond_int32_is_refused_not_wrapped(self, loss):
        # 2**32 + 1 wrapped to class 1 before
        with pytest.raises(ValueError, match="fit in int32.*4294967297"):
            loss(np.array([2**32 + 1], "int64"), _scores())

    @pytest.mark.parametrize("loss", sparse_losses(), ids=lambda l: type(l).__name__)
    def test_non_integer_float_label_is_refused_not_rounded(self, loss):
        with pytest.raises(ValueError, match=r"non-integer labels \[1.5\]"):
            loss(np.array([1.5]), _scores())

    @pytest.mark.parametrize("loss", sparse_losses(), ids=lambda l: type(l).__name__)
    def test_nan_label_is_named(self, loss):
        with pytest.raises(ValueError, match="NaN labels"):
            loss(np.array([0.0, np.nan]), _scores(2))

    def test_whole_float_labels_still_count(self):
        loss = kl.SparseCategoricalFocalLoss(gamma=0.0, from_logits=True, reduction=None)
        logits = np.array([[0.0, 1.0, 3.0]], "float32")
        expected = np.log(np.sum(np.exp(logits))) - 3.0  # -log softmax of class 2
        np.testing.assert_allclose(loss(np.array([2.0]), logits), [expected], rtol=1e-6)

    def test_layer_fast_path_refuses_a_non_integer_label(self):
        layer = kl.HierarchicalSoftmax(TREE)
        with pytest.raises(ValueError, match="non-integer"):
            layer([np.ones((1, 2), "float32"), np.array([1.5], "float32")])

    @pytest.mark.skipif(
        keras.backend.backend() == "jax",
        reason="JAX without x64 holds no int64: Keras converts the layer's inputs (wrapping them) before call()",
    )
    def test_layer_fast_path_refuses_a_wrapped_label(self):
        layer = kl.HierarchicalSoftmax(TREE)
        with pytest.raises(ValueError, match="fit in int32"):
            layer([np.ones((1, 2), "float32"), np.array([2**32 + 1], "int64")])

    def test_binary_focal_loss_refuses_labels_outside_the_unit_interval(self):
        # labels 2 and -3 gave negative losses
        for label in (2.0, -3.0):
            for from_logits in (False, True):
                with pytest.raises(ValueError, match=r"binary labels in \[0, 1\]"):
                    kl.BinaryFocalLoss(from_logits=from_logits)(
                        np.array([[label]]), np.array([[0.9]], "float32")
                    )
        kl.BinaryFocalLoss()(np.array([[0.3]]), np.array([[0.9]], "float32"))  # soft labels stay valid

    @pytest.mark.parametrize("mode", COMPILED)
    def test_compiled_float_labels_truncate_as_keras_does(self, mode):
        # Where nothing can raise, a float label is truncated like Keras's cast, so
        # gamma=0 focal equals Keras's sparse cross-entropy on the same labels.
        labels = np.array([1.5, 0.7, 2.0], "float32")  # read as 1, 0, 2
        logits = np.array([[0.0, 1.0, 2.0], [3.0, 0.0, -1.0], [0.5, 0.5, 0.5]], "float32")
        ours = run_in_mode(
            lambda y, x: kl.sparse_categorical_focal_loss(y, x, gamma=0.0, from_logits=True),
            mode, labels, logits,
        )
        log_softmax = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
        np.testing.assert_allclose(ours, -log_softmax[[0, 1, 2], [1, 0, 2]], rtol=1e-5)

    @pytest.mark.parametrize("mode", COMPILED)
    def test_compiled_unrepresentable_labels_give_nan(self, mode):
        labels = np.array([np.nan, 3e9, 1.0], "float32")
        values = run_in_mode(
            lambda y, x: kl.sparse_categorical_focal_loss(y, x, from_logits=True),
            mode, labels, np.zeros((3, 3), "float32"),
        )
        assert np.isnan(values[0]) and np.isnan(values[1]) and np.isfinite(values[2])

    @pytest.mark.skipif(
        keras.backend.backend() == "jax",
        reason="JAX without x64 holds no int64: its data adapter wraps labels before any loss sees them",
    )
    def test_int64_label_beyond_int32_in_fit_is_not_trained_as_another_class(self):
        # the exact path: labels go through the loss's own parsing in compiled fit
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(TREE.num_nodes)])
        model.compile(optimizer="sgd", loss=kl.HierarchicalSoftmaxLoss(TREE))
        x = np.ones((2, 2), "float32")
        y = np.array([1, 2**32 + 1], "int64")
        try:
            loss = model.evaluate(x, y, batch_size=2, verbose=0)
        except ValueError as error:  # eager fit (PyTorch) raises
            assert "fit in int32" in str(error)
        else:
            assert np.isnan(loss)  # compiled code cannot raise: the example is NaN


class TestEmptyBatch:
    """Issue 12, item 10: a batch of 0 examples gives 0 values, as Keras's does."""

    @pytest.mark.parametrize(
        "loss,y_true",
        [
            (kl.CategoricalFocalLoss(reduction=None), np.zeros((0, 3), "float32")),
            (kl.CategoricalFocalLoss(from_logits=True, reduction=None), np.zeros((0, 3), "float32")),
            (kl.SparseCategoricalFocalLoss(reduction=None), np.zeros((0,), "int32")),
            (kl.SparseCategoricalFocalLoss(from_logits=True, reduction=None), np.zeros((0,), "int32")),
            (kl.SparseMulticlassHinge(variant="crammer_singer", reduction=None), np.zeros((0,), "int32")),
            (kl.MulticlassHinge(variant="crammer_singer", reduction=None), np.zeros((0, 3), "float32")),
        ],
        ids=lambda v: type(v).__name__ if not isinstance(v, np.ndarray) else str(v.shape),
    )
    def test_empty_batch(self, loss, y_true):
        values = keras.ops.convert_to_numpy(loss(y_true, np.zeros((0, 3), "float32")))
        assert values.shape == (0,)
        keras_values = keras.losses.SparseCategoricalCrossentropy(reduction=None)(
            np.zeros((0,), "int32"), np.zeros((0, 3), "float32")
        )
        assert tuple(keras_values.shape) == values.shape


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="only TensorFlow graphs have run-time dimensions")
class TestUnknownDimensionsInTfFunction:
    """Issue 12, item 17: shapes known only when a `tf.function` runs."""

    @pytest.mark.parametrize(
        "loss",
        [
            kl.SparseCategoricalFocalLoss(from_logits=True),
            kl.SparseCategoricalFocalLoss(alpha=[1.0, 2.0, 3.0], from_logits=True, ignore_class=1),
            kl.SparseMulticlassHinge(),
            kl.SparseMulticlassHinge(variant="crammer_singer"),
            kl.HierarchicalSoftmaxLoss(TREE),
        ],
        ids=lambda l: repr(l)[:40],
    )
    def test_sparse_losses_with_unknown_class_axis(self, loss):
        import tensorflow as tf

        f = tf.function(
            lambda y, x: loss(y, x),
            input_signature=[tf.TensorSpec([None], tf.int32), tf.TensorSpec([None, None], tf.float32)],
        )
        labels = np.array([0, 2], "int32")
        scores = np.array([[1.0, 2.0, 3.0], [0.0, 1.0, 5.0]], "float32")
        np.testing.assert_allclose(f(labels, scores), loss(labels, scores), rtol=1e-6)

    def test_categorical_focal_label_smoothing_with_unknown_class_axis(self):
        import tensorflow as tf

        loss = kl.CategoricalFocalLoss(label_smoothing=0.1, from_logits=True)
        f = tf.function(lambda y, x: loss(y, x), input_signature=[tf.TensorSpec([None, None])] * 2)
        y = np.eye(3, dtype="float32")[[0, 2]]
        x = np.array([[1.0, 2.0, 3.0], [0.0, 1.0, 5.0]], "float32")
        np.testing.assert_allclose(f(y, x), loss(y, x), rtol=1e-6)

    @pytest.mark.parametrize(
        "loss",
        [kl.Hinge(), kl.SquaredHinge(), kl.BinaryFocalLoss(), kl.MeanSquaredLogarithmicError(),
         kl.CategoricalFocalLoss(), kl.MulticlassHinge()],
        ids=lambda l: type(l).__name__,
    )
    def test_dense_losses_do_not_broadcast_a_column_against_classes(self, loss):
        import tensorflow as tf

        f = tf.function(lambda y, x: loss(y, x), input_signature=[tf.TensorSpec([None, None])] * 2)
        y_pred = np.full((2, 3), 0.5, "float32")
        np.testing.assert_allclose(f(np.eye(3, dtype="float32")[[0, 1]], y_pred),
                                   loss(np.eye(3, dtype="float32")[[0, 1]], y_pred), rtol=1e-6)
        with pytest.raises(tf.errors.InvalidArgumentError, match="incompatible"):
            f(np.ones((2, 1), "float32"), y_pred)
