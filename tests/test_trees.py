import json

import hypothesis
import keras
import numpy as np
import pytest
from hypothesis import strategies as st

from keras_losses import _backend
from keras_losses import trees
from keras_losses.testing.reference import hierarchical as reference
from keras_losses.trees import Tree
from keras_losses.trees import gather_paths


def _ragged(tree):
    lengths = tree.path_lengths
    return (
        [row[:n] for row, n in zip(tree.paths.tolist(), lengths)],
        [row[:n] for row, n in zip(tree.codes.tolist(), lengths)],
    )


def _zipf(num_classes, exponent=1.0, scale=10**7):
    return np.maximum(1, (scale / np.arange(1, num_classes + 1) ** exponent).astype(np.int64))


class TestBalanced:
    def test_four_classes_by_hand(self):
        # Heap order: root 0 has children 1 (-1 branch) and 2 (+1 branch); the leaves
        # under node 1 are classes 0 (-1) and 1 (+1), under node 2 classes 2 and 3.
        tree = Tree.balanced(4)
        assert tree.paths.tolist() == [[0, 1], [0, 1], [0, 2], [0, 2]]
        assert tree.codes.tolist() == [[-1, -1], [-1, 1], [1, -1], [1, 1]]
        assert (tree.num_classes, tree.num_nodes, tree.depth, tree.root) == (4, 3, 2, 0)

    def test_three_classes_by_hand(self):
        # Three leaves: node 1 holds classes 0 and 1; class 2 hangs off the root.
        tree = Tree.balanced(3)
        assert tree.paths.tolist() == [[0, 1], [0, 1], [0, -1]]
        assert tree.codes.tolist() == [[-1, -1], [-1, 1], [1, 0]]
        assert tree.path_lengths.tolist() == [2, 2, 1]

    def test_two_classes_class_one_is_the_positive_branch(self):
        tree = Tree.balanced(2)
        assert tree.codes.tolist() == [[-1], [1]]
        # p(class 1) = sigmoid(z)
        np.testing.assert_allclose(np.exp(tree.log_probs([[2.0]]))[0, 1], 1 / (1 + np.exp(-2.0)))

    @pytest.mark.parametrize("num_classes", [2, 3, 5, 8, 9, 31, 64, 100])
    def test_depth_and_lengths(self, num_classes):
        tree = Tree.balanced(num_classes)
        depth = int(np.ceil(np.log2(num_classes)))
        assert tree.depth == depth
        assert set(tree.path_lengths.tolist()) <= {depth - 1, depth}
        assert np.all(tree.paths[:, 0] == 0)

    @pytest.mark.parametrize("num_classes", [2, 3, 5, 8, 9, 31, 64, 100])
    def test_probabilities_sum_to_one(self, num_classes):
        tree = Tree.balanced(num_classes)
        logits = np.random.default_rng(num_classes).normal(0, 3, (4, tree.num_nodes))
        probs = np.exp(tree.log_probs(logits))
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)
        np.testing.assert_allclose(probs, reference.class_probabilities(logits, *_ragged(tree)), rtol=1e-10)

    def test_large(self):
        tree = Tree.balanced(2**16 + 3)
        assert tree.depth == 17 and tree.num_nodes == 2**16 + 2
        Tree.from_paths(tree.paths, tree.codes)  # a valid tree


class TestHuffman:
    def test_worked_example(self):
        # Sorted by count: class 0 (5), 3 (3), 1 (1), 2 (1). The rarest two, taken
        # last-first from that order, make node 0 = {2: +1, 1: -1} (count 2); node 0
        # (2) is smaller than class 3 (3): node 1 = {node 0: +1, 3: -1} (count 5);
        # node 1 and class 0 tie at 5, and the internal node goes first: root 2 =
        # {node 1: +1, 0: -1}.
        tree = Tree.huffman([5, 1, 1, 3])
        assert tree.paths.tolist() == [[2, -1, -1], [2, 1, 0], [2, 1, 0], [2, 1, -1]]
        assert tree.codes.tolist() == [[-1, 0, 0], [1, 1, -1], [1, 1, 1], [1, -1, 0]]
        assert tree.root == 2

    def test_ties_take_the_internal_node_first(self):
        # Four equal counts: node 0 = {3, 2}; then node 0 (2) against class 1 (1):
        # the leaf is smaller; node 1 = {1, 0}; root = {node 0, node 1}.
        tree = Tree.huffman([1, 1, 1, 1])
        assert tree.paths.tolist() == [[2, 1], [2, 1], [2, 0], [2, 0]]
        # Counts [2, 1, 1]: node 0 = {2, 1} (count 2) ties with class 0 (2); the
        # internal node is taken first, so node 0 is the root's +1 branch.
        tree = Tree.huffman([2, 1, 1])
        assert tree.paths.tolist() == [[1, -1], [1, 0], [1, 0]]
        assert tree.codes.tolist() == [[-1, 0], [1, -1], [1, 1]]

    @hypothesis.given(
        st.lists(st.integers(1, 6), min_size=2, max_size=40)
        | st.lists(st.integers(1, 10**6), min_size=2, max_size=40)
    )
    def test_equals_word2vec_step_by_step(self, counts):
        tree = Tree.huffman(counts)
        paths, codes = reference.word2vec_binary_tree(counts)
        assert _ragged(tree) == (paths, codes)

    def test_equals_word2vec_on_a_larger_zipf_vocabulary(self):
        counts = _zipf(3000, exponent=1.1, scale=10**5)  # many equal counts in the tail
        assert _ragged(Tree.huffman(counts)) == reference.word2vec_binary_tree(counts.tolist())

    @hypothesis.given(st.lists(st.integers(1, 1000), min_size=2, max_size=60))
    def test_expected_length_is_optimal(self, counts):
        # Every Huffman tree attains the minimum of sum(count * length).
        tree = Tree.huffman(counts)
        expected = np.sum(np.asarray(counts) * tree.path_lengths) / np.sum(counts)
        np.testing.assert_allclose(expected, reference.huffman_expected_length(counts), rtol=1e-12)

    @pytest.mark.parametrize("exponent", [0.8, 1.0, 1.3])
    def test_huffman_bound_and_monotone_on_zipf(self, exponent):
        counts = _zipf(20000, exponent)
        tree = Tree.huffman(counts)
        p = counts / counts.sum()
        entropy = -np.sum(p * np.log2(p))
        expected_length = np.sum(p * tree.path_lengths)
        assert entropy <= expected_length < entropy + 1
        # counts sorted from largest to smallest: path lengths never decrease
        assert np.all(np.diff(tree.path_lengths) >= 0)
        assert tree.path_lengths[0] < tree.path_lengths[-1]

    def test_frequent_classes_get_shorter_paths_in_any_order(self):
        counts = np.random.default_rng(0).permutation(_zipf(500))
        tree = Tree.huffman(counts)
        order = np.argsort(-counts, kind="stable")
        assert np.all(np.diff(tree.path_lengths[order]) >= 0)

    def test_deterministic_and_probabilities_sum_to_one(self):
        counts = np.random.default_rng(1).integers(1, 4, 300)
        assert Tree.huffman(counts) == Tree.huffman(counts.tolist())
        tree = Tree.huffman(counts)
        logits = np.random.default_rng(2).normal(0, 2, (3, tree.num_nodes))
        np.testing.assert_allclose(np.exp(tree.log_probs(logits)).sum(axis=1), 1.0, atol=1e-12)

    def test_float_counts(self):
        assert Tree.huffman([0.5, 0.25, 0.25]) == Tree.huffman([2, 1, 1])
        assert Tree.huffman([2.0, 1.0, 1.0]).get_config()["class_counts"] == [2, 1, 1]

    def test_a_hundred_thousand_classes(self):
        tree = Tree.huffman(_zipf(100_000))
        assert tree.num_classes == 100_000 and tree.depth < 40
        assert np.all(np.diff(tree.path_lengths) >= 0)

    @pytest.mark.parametrize(
        "counts,match",
        [
            ([5], "class_counts"),
            ([], "class_counts"),
            ([3, 0, 1], r"\[0\]"),
            ([3, -2, 1], r"\[-2\]"),
            ([3.0, float("nan")], "count"),
            ([3.0, float("inf")], "count"),
            ([[1, 2], [3, 4]], "class_counts"),
            (["a", "b"], "class_counts"),
            ([True, False], "class_counts"),
        ],
    )
    def test_invalid_counts(self, counts, match):
        with pytest.raises(ValueError, match=match):
            Tree.huffman(counts)

    def test_error_message_form(self):
        with pytest.raises(ValueError) as info:
            Tree.huffman([1])
        assert str(info.value).startswith(
            "Invalid value for argument `class_counts`: expected a 1-D array of at least 2 "
            "positive finite counts. Received: class_counts="
        )
        with pytest.raises(ValueError) as info:
            Tree.huffman([3, -1, 0, 2])
        assert str(info.value).startswith(
            "Invalid value for argument `class_counts`: expected positive finite counts, not [-1, 0]. "
            "Received: class_counts="
        )
        with pytest.raises(ValueError, match=r"Invalid value for argument `class_counts`: .*2\*\*62"):
            Tree.huffman([2**61, 2**61, 1])


class TestFromPaths:
    paths = [[0, 1, 2], [0, 1, 2], [0, 1], [0, 3], [0, 3]]
    codes = [[1, 1, 1], [1, 1, -1], [1, -1], [-1, 1], [-1, -1]]

    def test_ragged_lists(self):
        tree = Tree.from_paths(self.paths, self.codes)
        assert (tree.num_classes, tree.num_nodes, tree.depth) == (5, 4, 3)
        assert tree.path_lengths.tolist() == [3, 3, 2, 2, 2]
        assert tree.paths[2].tolist() == [0, 1, -1] and tree.codes[2].tolist() == [1, -1, 0]
        assert _ragged(tree) == (self.paths, self.codes)

    def test_children(self):
        # +1 child, -1 child; a leaf of class c is num_nodes + c = 4 + c.
        tree = Tree.from_paths(self.paths, self.codes)
        assert tree.children.tolist() == [[1, 3], [2, 6], [4, 5], [7, 8]]

    def test_padded_arrays_round_trip(self):
        for tree in (Tree.balanced(11), Tree.huffman([9, 1, 3, 3, 7, 2])):
            assert Tree.from_paths(tree.paths, tree.codes) == tree

    def test_probabilities_sum_to_one(self):
        tree = Tree.from_paths(self.paths, self.codes)
        logits = np.random.default_rng(0).normal(0, 2, (6, 4))
        probs = np.exp(tree.log_probs(logits))
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)
        np.testing.assert_allclose(probs, reference.class_probabilities(logits, self.paths, self.codes))

    @pytest.mark.parametrize(
        "paths,codes,match",
        [
            ([[0]], [[1]], "at least 2 classes"),
            ([[0], [0, 1]], [[1], [-1]], "same length"),
            ([[0, 1], [0]], [[1], [-1, 1]], "disagree"),
            ([[0], [0]], [[1], [2]], r"\+1 or -1"),
            ([[0], []], [[1], []], "at least one node"),
            ([[0], [1]], [[1], [-1]], r"ids must be in \[0, 1\)"),
            ([[0, 1], [0, 1], [1]], [[1, 1], [1, -1], [-1]], "same root"),
            ([[0, 1], [0, 1], [0, 1]], [[1, 1], [1, -1], [1, 1]], "two different places"),
            ([[0], [0, 1], [0, 1]], [[1], [1, 1], [1, -1]], "two different places"),
            ([[0, 1], [0, 1], [0, 0]], [[1, 1], [1, -1], [-1, 1]], "two different places"),
            ([[0, 1], [0, 1, 1], [0]], [[1, 1], [1, -1, 1], [-1]], "two different places"),
            ([[0, 1], [0, 1], [0, 2], [0, 2]], [[1, 1], [1, -1], [-1, 1], [-1, 1]], "two different places"),
            ([[1, 0], [1, 0], [1]], [[1, 1], [1, 1], [-1]], "two different places"),
            ([[0, 1], [0, 1], [0, 1]], [[1, 1], [1, -1], [-1, -1]], "two different places"),
            (np.array([[0, 1], [0, -1]]), np.array([[1, 1], [-1, 1]]), "disagree"),
            ([["a"], ["b"]], [[1], [-1]], "integers"),
            ([[0.5], [0.5]], [[1], [-1]], "integers"),
        ],
    )
    def test_inconsistent_paths(self, paths, codes, match):
        with pytest.raises(ValueError, match=match):
            Tree.from_paths(paths, codes)


TREES = {
    "balanced": Tree.balanced(7),
    "huffman": Tree.huffman([9, 1, 3, 3, 7, 2]),
    "from_paths": Tree.from_paths(TestFromPaths.paths, TestFromPaths.codes),
}


class TestDeviceEncoding:
    def test_signed_table_by_hand(self):
        # Tree.balanced(3): classes 0 and 1 under node 1 (the root's -1 branch), class 2 on its +1 branch.
        table = Tree.balanced(3).signed_table
        assert table.tolist() == [[-1, -2], [-1, 2], [1, 0]]
        assert table.dtype == np.int32
        with pytest.raises(ValueError):
            table[0, 0] = 5

    @pytest.mark.parametrize("name", sorted(TREES))
    def test_from_signed_table_round_trip(self, name):
        tree = TREES[name]
        again = Tree.from_signed_table(tree.signed_table)
        assert again == tree and again.digest == tree.digest

    def test_a_table_that_is_not_a_tree_is_refused(self):
        with pytest.raises(ValueError, match="two different places"):
            Tree.from_signed_table([[1, 2], [1, 2], [-1, 0]])

    def test_digest_is_the_content(self):
        assert Tree.balanced(5).digest == Tree.from_paths(Tree.balanced(5).paths, Tree.balanced(5).codes).digest
        assert Tree.balanced(5).digest != Tree.huffman([1, 2, 3, 4, 5]).digest
        assert len(Tree.balanced(5).digest) == 64

    @pytest.mark.parametrize("name", sorted(TREES))
    @pytest.mark.parametrize("as_variable", [False, True])
    def test_gather_paths(self, name, as_variable):
        tree = TREES[name]
        labels = np.array([*range(tree.num_classes), -1, tree.num_classes, 0], "int32")
        table = tree.signed_table
        if as_variable:
            table = keras.Variable(np.array(table), dtype="int32", trainable=False)
        nodes, codes, on_path = (_backend.to_numpy(x) for x in gather_paths(table, labels))
        safe = np.clip(labels, 0, tree.num_classes - 1)
        in_range = (labels >= 0) & (labels < tree.num_classes)
        expected_on_path = (tree.codes[safe] != 0) & in_range[:, None]
        np.testing.assert_array_equal(on_path, expected_on_path)
        np.testing.assert_array_equal(nodes, np.where(expected_on_path, tree.paths[safe], 0))
        np.testing.assert_array_equal(codes, np.where(expected_on_path, tree.codes[safe], 0))

    @pytest.mark.parametrize("name", sorted(TREES))
    def test_level_tables_give_every_log_probability(self, name):
        # log_probs by levels, in NumPy: a node is reached with its parent's
        # log-probability plus its branch's, a class from the last node of its path.
        tree = TREES[name]
        z = np.random.default_rng(1).normal(0, 2, (3, tree.num_nodes))
        branch = -np.logaddexp(0.0, -np.concatenate([z, -z], axis=1)).T  # (2 * num_nodes, batch)
        levels, leaf_parents, leaf_branches = tree.level_tables
        assert len(levels) == tree.depth - 1
        reached = [np.zeros_like(branch[:1])]
        for parents, branches in levels:
            reached.append(reached[-1][parents] + branch[branches])
        reached = np.concatenate(reached)
        assert reached.shape[0] == tree.num_nodes
        log_probs = (reached[leaf_parents] + branch[leaf_branches]).T
        np.testing.assert_allclose(log_probs, tree.log_probs(z), rtol=1e-12)


class TestConfig:
    @pytest.mark.parametrize(
        "tree,expected",
        [
            (Tree.balanced(6), {"kind": "balanced", "num_classes": 6, "class_counts": None, "paths": None, "codes": None}),
            (
                Tree.huffman([3, 1, 2]),
                {"kind": "huffman", "num_classes": 3, "class_counts": [3, 1, 2], "paths": None, "codes": None},
            ),
            (
                Tree.from_paths([[0], [0, 1], [0, 1]], [[1], [-1, 1], [-1, -1]]),
                {
                    "kind": "paths",
                    "num_classes": 3,
                    "class_counts": None,
                    "paths": [[0], [0, 1], [0, 1]],
                    "codes": [[1], [-1, 1], [-1, -1]],
                },
            ),
        ],
    )
    def test_config(self, tree, expected):
        config = tree.get_config()
        assert config == expected
        assert json.loads(json.dumps(config)) == config
        assert Tree.from_config(config) == tree
        assert Tree(**config).get_config() == config

    def test_compact_and_deterministic(self):
        assert len(json.dumps(Tree.balanced(10**6).get_config())) < 200
        counts = _zipf(1000)
        assert json.dumps(Tree.huffman(counts).get_config()) == json.dumps(Tree.huffman(counts).get_config())

    def test_config_arguments_must_fit_the_kind(self):
        with pytest.raises(ValueError, match="Invalid value for argument `kind`"):
            Tree(kind="random", num_classes=3)
        with pytest.raises(ValueError, match="`paths`: expected None for a tree of kind 'balanced'"):
            Tree(kind="balanced", num_classes=2, paths=[[0], [0]])
        with pytest.raises(ValueError, match="`num_classes`: expected 3"):
            Tree(kind="huffman", num_classes=4, class_counts=[1, 2, 3])
        with pytest.raises(ValueError, match="num_classes"):
            Tree.balanced(1)

    def test_arrays_are_read_only(self):
        tree = Tree.balanced(4)
        with pytest.raises(ValueError):
            tree.paths[0, 0] = 3

    def test_log_probs_shape_error(self):
        with pytest.raises(ValueError, match=r"\(batch, 3\)"):
            Tree.balanced(4).log_probs(np.zeros((2, 4)))

    def test_repr(self):
        assert repr(Tree.balanced(4)) == "Tree(kind='balanced', num_classes=4, depth=2, mean_path_length=2.00)"


def test_signed_table_function_of_0_1_0_still_gives_the_table():
    tree = Tree.balanced(5)
    assert trees.signed_table(tree) is tree.signed_table
