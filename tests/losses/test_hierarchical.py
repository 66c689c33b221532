import hypothesis
import hypothesis.extra.numpy as hnp
import keras
import numpy as np
import pytest
from hypothesis import strategies as st

from keras_losses import HierarchicalSoftmaxLoss
from keras_losses import Tree
from keras_losses import _backend
from keras_losses import hierarchical_softmax_loss
from keras_losses.testing.reference import hierarchical as reference
from tests import harness

test_reference_equality = harness.reference_equality_test("hierarchical")

# Tree.balanced(4): every class has two nodes on its path, so with all node logits 0
# each class has probability 1/4 and the loss is log(4).
LOG_4 = np.log(4.0)
TREE_4 = Tree.balanced(4)
# Tree.huffman([5, 1, 1, 3]) (worked out in tests/test_trees.py): class 0 is the
# root's -1 branch; class 3 is (node 2: +1, node 1: -1); classes 1 and 2 go on to
# node 0 (-1 and +1).
HUFFMAN = Tree.huffman([5, 1, 1, 3])


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _ragged(tree):
    lengths = tree.path_lengths
    return (
        [row[:n] for row, n in zip(tree.paths.tolist(), lengths)],
        [row[:n] for row, n in zip(tree.codes.tolist(), lengths)],
    )


def _oracle(tree, labels, logits, ignore_class=None):
    return reference.hierarchical_softmax_nll(labels, logits, *_ragged(tree), ignore_class)


def _path_logits(tree, labels, node_logits):
    """Signed path logits with the layer's mask, built in NumPy."""
    labels = np.asarray(labels)
    safe = np.clip(labels, 0, tree.num_classes - 1)
    in_range = (labels >= 0) & (labels < tree.num_classes)
    nodes = np.where(tree.paths[safe] >= 0, tree.paths[safe], 0)
    codes = tree.codes[safe].astype(np.float32)
    mask = (codes != 0) & in_range[:, None]
    logits = np.where(mask, np.take_along_axis(node_logits, nodes, 1) * codes, 0).astype("float32")
    tensor = keras.ops.convert_to_tensor(logits)
    _backend.set_mask(tensor, keras.ops.convert_to_tensor(mask))
    return tensor


class TestHierarchicalSoftmaxLoss:
    labels = np.array([0, 3, 1, 2])
    # Huffman node logits: z0, z1, z2 for nodes 0, 1, 2.
    logits = np.array([[0.5, -1.0, 2.0], [0.0, 0.3, -0.7], [1.5, 1.0, 0.2], [-2.0, 0.0, 1.0]])

    def expected(self):
        # By hand from the paths above:
        #   class 0: -log sigmoid(-z2)
        #   class 3: -log sigmoid(z2) - log sigmoid(-z1)
        #   class 1: -log sigmoid(z2) - log sigmoid(z1) - log sigmoid(-z0)
        #   class 2: -log sigmoid(z2) - log sigmoid(z1) - log sigmoid(z0)
        z = self.logits
        nll = lambda x: -np.log(_sigmoid(x))  # noqa: E731
        return np.array(
            [
                nll(-z[0, 2]),
                nll(z[1, 2]) + nll(-z[1, 1]),
                nll(z[2, 2]) + nll(z[2, 1]) + nll(-z[2, 0]),
                nll(z[3, 2]) + nll(z[3, 1]) + nll(z[3, 0]),
            ]
        )

    def test_config(self):
        loss = HierarchicalSoftmaxLoss(HUFFMAN, ignore_class=-1, name="hs", reduction="sum")
        config = loss.get_config()
        assert config == {
            "name": "hs",
            "reduction": "sum",
            "dtype": None,
            "tree": HUFFMAN.get_config(),
            "from_path_logits": False,
            "ignore_class": -1,
        }
        assert config["tree"]["class_counts"] == [5, 1, 1, 3]
        restored = HierarchicalSoftmaxLoss.from_config(config)
        assert restored.tree == HUFFMAN and restored.get_config() == config
        fast = HierarchicalSoftmaxLoss(from_path_logits=True)
        assert fast.get_config()["tree"] is None
        assert HierarchicalSoftmaxLoss.from_config(fast.get_config()).from_path_logits

    def test_worked_by_hand(self):
        values = HierarchicalSoftmaxLoss(HUFFMAN, reduction=None)(self.labels, self.logits)
        np.testing.assert_allclose(values, self.expected(), rtol=1e-6)

    def test_all_zero_logits_give_log_of_the_class_count(self):
        values = hierarchical_softmax_loss(np.array([0, 1, 2, 3]), np.zeros((4, 3)), tree=TREE_4)
        np.testing.assert_allclose(values, LOG_4, rtol=1e-6)

    def test_unweighted(self):
        loss = HierarchicalSoftmaxLoss(HUFFMAN)(self.labels, self.logits)
        np.testing.assert_allclose(loss, self.expected().mean(), rtol=1e-6)

    def test_sample_weighted(self):
        weights = np.array([1.0, 0.0, 2.0, 0.5])
        loss = HierarchicalSoftmaxLoss(HUFFMAN)(self.labels, self.logits, sample_weight=weights)
        np.testing.assert_allclose(loss, np.sum(self.expected() * weights) / 4, rtol=1e-6)

    def test_zero_weighted(self):
        loss = HierarchicalSoftmaxLoss(HUFFMAN)(self.labels, self.logits, sample_weight=np.zeros(4))
        assert float(loss) == 0.0

    def test_no_reduction(self):
        assert tuple(HierarchicalSoftmaxLoss(HUFFMAN, reduction=None)(self.labels, self.logits).shape) == (4,)

    def test_sum_reduction(self):
        loss = HierarchicalSoftmaxLoss(HUFFMAN, reduction="sum")(self.labels, self.logits)
        np.testing.assert_allclose(loss, self.expected().sum(), rtol=1e-6)

    def test_mean_with_sample_weight(self):
        weights = np.array([1.0, 3.0, 0.0, 0.0])
        loss = HierarchicalSoftmaxLoss(HUFFMAN, reduction="mean_with_sample_weight")(
            self.labels, self.logits, sample_weight=weights
        )
        np.testing.assert_allclose(loss, (self.expected()[0] + 3 * self.expected()[1]) / 4, rtol=1e-6)

    def test_dtype_arg(self):
        loss = HierarchicalSoftmaxLoss(HUFFMAN, dtype="bfloat16")(self.labels, self.logits)
        assert keras.backend.standardize_dtype(loss.dtype) == "bfloat16"
        np.testing.assert_allclose(float(keras.ops.cast(loss, "float32")), self.expected().mean(), rtol=1e-2)

    def test_labels_with_trailing_axis_and_float_labels(self):
        loss = HierarchicalSoftmaxLoss(HUFFMAN, reduction=None)
        np.testing.assert_allclose(loss(self.labels[:, None], self.logits), self.expected(), rtol=1e-6)
        np.testing.assert_allclose(loss(self.labels.astype("float32"), self.logits), self.expected(), rtol=1e-6)

    def test_16_bit_logits_are_computed_in_float32(self):
        logits16 = keras.ops.cast(self.logits, "float16")
        values = HierarchicalSoftmaxLoss(HUFFMAN, reduction=None)(self.labels, logits16)
        assert keras.backend.standardize_dtype(values.dtype) == "float32"
        seen = keras.ops.convert_to_numpy(keras.ops.cast(logits16, "float32")).astype(np.float64)
        np.testing.assert_allclose(values, _oracle(HUFFMAN, self.labels, seen), rtol=1e-6)

    def test_mixed_precision_policy(self):
        keras.config.set_dtype_policy("mixed_float16")
        loss = HierarchicalSoftmaxLoss(HUFFMAN)
        assert loss.dtype == "float32"
        value = loss(self.labels, keras.ops.cast(self.logits, "float16"))
        assert keras.backend.standardize_dtype(value.dtype) == "float32"

    def test_many_classes_exact_in_a_16_bit_loss_dtype(self):
        # Labels are compared as integers before any cast, so even a float16 loss
        # holds class 4000 exactly (float16 alone would round it to 4000 +- 2).
        tree = Tree.balanced(5000)
        logits = np.random.default_rng(0).normal(size=(2, tree.num_nodes))
        labels = np.array([4001, 4999])
        ours = HierarchicalSoftmaxLoss(tree, dtype="float16", reduction=None)(labels, logits)
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(keras.ops.cast(ours, "float32")), _oracle(tree, labels, logits), rtol=2e-3
        )

    def test_ignore_class(self):
        labels = np.array([0, -1, 1, -1])
        loss = HierarchicalSoftmaxLoss(HUFFMAN, ignore_class=-1)
        expected = _oracle(HUFFMAN, labels, self.logits, ignore_class=-1)
        assert expected[1] == expected[3] == 0
        # The ignored examples count in neither the sum nor the batch size.
        np.testing.assert_allclose(loss(labels, self.logits), expected.sum() / 2, rtol=1e-6)
        values = HierarchicalSoftmaxLoss(HUFFMAN, ignore_class=-1, reduction=None)(labels, self.logits)
        np.testing.assert_allclose(values, expected, rtol=1e-6)

    def test_ignore_class_inside_the_range(self):
        loss = HierarchicalSoftmaxLoss(HUFFMAN, ignore_class=2, reduction=None)(self.labels, self.logits)
        np.testing.assert_allclose(loss, np.where(self.labels == 2, 0, self.expected()), rtol=1e-6)

    def test_gradient_of_ignored_examples_is_zero(self):
        labels = np.array([0, -1, 1, -1])
        fn = lambda z: HierarchicalSoftmaxLoss(HUFFMAN, ignore_class=-1, reduction=None)(labels, z)  # noqa: E731
        _, grad = harness.value_and_grad(fn, self.logits)
        assert np.all(grad[[1, 3]] == 0) and np.all(np.isfinite(grad))

    def test_out_of_range_label_raises_in_eager_mode(self):
        with pytest.raises(ValueError, match=r"\[0, 4\).*\[4\]"):
            HierarchicalSoftmaxLoss(HUFFMAN)(np.array([0, 4, 1, 2]), self.logits)
        with pytest.raises(ValueError, match=r"\[-1\]"):
            hierarchical_softmax_loss(np.array([0, -1, 1, 2]), self.logits, tree=HUFFMAN)
        with pytest.raises(ValueError, match=r"\[-2\]"):
            HierarchicalSoftmaxLoss(HUFFMAN, ignore_class=-1)(np.array([0, -1, -2, 2]), self.logits)

    @pytest.mark.parametrize("mode", [m for m in harness.backends.modes() if m != "eager"])
    def test_out_of_range_label_is_nan_when_compiled(self, mode):
        values = harness.run_in_mode(
            lambda y, z: hierarchical_softmax_loss(y, z, tree=HUFFMAN),
            mode,
            keras.ops.convert_to_tensor(np.array([0, 4, 1, -3])),
            keras.ops.convert_to_tensor(self.logits),
        )
        assert np.isnan(values[[1, 3]]).all()
        np.testing.assert_allclose(values[[0, 2]], self.expected()[[0, 2]], rtol=1e-5)

    def test_width_must_be_the_number_of_nodes(self):
        with pytest.raises(ValueError, match=r"\(batch, 3\).*\(4, 4\)"):
            HierarchicalSoftmaxLoss(HUFFMAN)(self.labels, np.zeros((4, 4)))
        with pytest.raises(ValueError, match=r"\(batch, 3\)"):
            HierarchicalSoftmaxLoss(HUFFMAN)(self.labels, np.zeros((4,)))

    def test_wrong_label_shape(self):
        with pytest.raises(ValueError, match=r"\(4, 2\).*\(4, 3\)"):
            HierarchicalSoftmaxLoss(HUFFMAN)(np.zeros((4, 2)), self.logits)

    def test_tree_is_required_for_node_logits(self):
        with pytest.raises(ValueError, match="Invalid value for argument `tree`"):
            HierarchicalSoftmaxLoss()
        with pytest.raises(ValueError, match="Invalid value for argument `tree`"):
            hierarchical_softmax_loss(self.labels, self.logits)  # the same check as the class
        with pytest.raises(ValueError, match="Invalid value for argument `from_path_logits`"):
            hierarchical_softmax_loss(self.labels, self.logits, tree=HUFFMAN, from_path_logits=1)

    @pytest.mark.parametrize(
        "kwargs,name",
        [({"ignore_class": 1.5}, "ignore_class"), ({"from_path_logits": 1}, "from_path_logits"), ({"tree": 5}, "tree")],
    )
    def test_invalid_arguments(self, kwargs, name):
        with pytest.raises(ValueError, match=f"Invalid value for argument `{name}`"):
            HierarchicalSoftmaxLoss(**{"tree": HUFFMAN, **kwargs})

    def test_tree_from_its_config(self):
        loss = HierarchicalSoftmaxLoss({"kind": "balanced", "num_classes": 4}, reduction=None)
        np.testing.assert_allclose(loss(np.array([1, 2]), np.zeros((2, 3))), [LOG_4, LOG_4], rtol=1e-6)

    @hypothesis.given(
        hnp.arrays(np.float64, (6, 1), elements=st.floats(-30, 30)),
        hnp.arrays(np.int64, (6,), elements=st.integers(0, 1)),
    )
    def test_two_classes_equal_binary_cross_entropy(self, logits, labels):
        # In Tree.balanced(2) class 1 is the +1 branch: p(class 1) = sigmoid(z).
        ours = HierarchicalSoftmaxLoss(Tree.balanced(2), reduction=None)(labels, logits)
        theirs = keras.losses.BinaryCrossentropy(from_logits=True, reduction=None)(
            labels[:, None].astype("float32"), logits.astype("float32")
        )
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)

    @hypothesis.given(hnp.arrays(np.float64, (3, 7), elements=st.floats(-20, 20)))
    def test_loss_is_minus_the_log_probability(self, logits):
        tree = Tree.huffman([7, 1, 3, 3, 2, 9, 1, 4])
        labels = np.array([0, 5, 7])
        ours = hierarchical_softmax_loss(labels, logits, tree=tree)
        np.testing.assert_allclose(ours, -tree.log_probs(logits)[np.arange(3), labels], rtol=1e-5, atol=1e-5)

    def test_gradient_finite_at_large_logits(self):
        logits = np.where(np.arange(3) % 2 == 0, 1e4, -1e4) * np.ones((4, 3))
        value, grad = harness.value_and_grad(
            lambda z: hierarchical_softmax_loss(self.labels, z, tree=HUFFMAN), logits
        )
        assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))
        assert np.max(value) > 1e3  # a confidently wrong path costs about its logit


class TestFromPathLogits:
    labels = TestHierarchicalSoftmaxLoss.labels
    logits = TestHierarchicalSoftmaxLoss.logits

    def test_equals_node_logits(self):
        fast = HierarchicalSoftmaxLoss(from_path_logits=True, reduction=None)
        path_logits = _path_logits(HUFFMAN, self.labels, self.logits)
        expected = TestHierarchicalSoftmaxLoss().expected()
        np.testing.assert_allclose(fast(self.labels, path_logits), expected, rtol=1e-6)
        np.testing.assert_allclose(
            hierarchical_softmax_loss(self.labels, path_logits, from_path_logits=True), expected, rtol=1e-6
        )

    def test_mask_is_consumed_not_applied_by_keras(self):
        # Keras alone would meet a (batch, depth) mask on (batch,) losses; the mean
        # here is over the 4 examples.
        path_logits = _path_logits(HUFFMAN, self.labels, self.logits)
        loss = HierarchicalSoftmaxLoss(from_path_logits=True)(self.labels, path_logits)
        np.testing.assert_allclose(loss, TestHierarchicalSoftmaxLoss().expected().mean(), rtol=1e-6)
        assert _backend.get_mask(path_logits) is not None  # the caller's tensor keeps its mask

    def test_padding_values_are_ignored(self):
        path_logits = _path_logits(HUFFMAN, self.labels, self.logits)
        mask = _backend.get_mask(path_logits)
        noisy = keras.ops.where(mask, path_logits, 1e6)
        _backend.set_mask(noisy, mask)
        loss = HierarchicalSoftmaxLoss(from_path_logits=True, reduction=None)(self.labels, noisy)
        np.testing.assert_allclose(loss, TestHierarchicalSoftmaxLoss().expected(), rtol=1e-6)

    def test_without_a_mask_every_position_counts(self):
        # A balanced tree of 4 classes has no padding: path logits alone suffice.
        loss = hierarchical_softmax_loss(np.array([0, 3]), np.zeros((2, 2)), from_path_logits=True)
        np.testing.assert_allclose(loss, [LOG_4, LOG_4], rtol=1e-6)

    def test_sample_weight_and_ignore_class(self):
        labels = np.array([0, -1, 1, 2])
        path_logits = _path_logits(HUFFMAN, labels, self.logits)
        weights = np.array([2.0, 5.0, 1.0, 0.0])
        loss = HierarchicalSoftmaxLoss(from_path_logits=True, ignore_class=-1)(
            labels, path_logits, sample_weight=weights
        )
        expected = _oracle(HUFFMAN, labels, self.logits, ignore_class=-1)
        np.testing.assert_allclose(loss, np.sum(expected * weights) / 3, rtol=1e-6)

    def test_label_without_a_path_raises_in_eager_mode(self):
        labels = np.array([0, 7, 1, 2])
        path_logits = _path_logits(HUFFMAN, labels, self.logits)  # label 7: all masked
        with pytest.raises(ValueError, match=r"\[7\]"):
            HierarchicalSoftmaxLoss(from_path_logits=True)(labels, path_logits)
        with pytest.raises(ValueError, match=r"\[0, 4\).*\[7\]"):
            HierarchicalSoftmaxLoss(HUFFMAN, from_path_logits=True)(labels, path_logits)

    def test_tree_checks_the_depth(self):
        with pytest.raises(ValueError, match=r"\(batch, 3\)"):
            HierarchicalSoftmaxLoss(HUFFMAN, from_path_logits=True)(self.labels, np.zeros((4, 2)))
