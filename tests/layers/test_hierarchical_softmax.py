import copy
import json
import os
import subprocess
import sys
import weakref
import zipfile

import keras
import numpy as np
import pytest

from keras_losses import HierarchicalSoftmax
from keras_losses import HierarchicalSoftmaxLoss
from keras_losses import Tree
from keras_losses import _backend
from keras_losses.layers import hierarchical_softmax as hs_module
from keras_losses.testing.reference import hierarchical as reference

BACKEND = keras.backend.backend()
USER_PATHS = [[0, 1, 2], [0, 1, 2], [0, 1], [0, 3], [0, 3]]
USER_CODES = [[1, 1, 1], [1, 1, -1], [1, -1], [-1, 1], [-1, -1]]


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def _ragged(tree):
    lengths = tree.path_lengths
    return (
        [row[:n] for row, n in zip(tree.paths.tolist(), lengths)],
        [row[:n] for row, n in zip(tree.codes.tolist(), lengths)],
    )


def _built(tree, units=6, seed=0, use_bias=True):
    """A built layer with random kernel and bias, and its weights as NumPy."""
    layer = HierarchicalSoftmax(tree, use_bias=use_bias)
    layer.build((None, units))
    rng = np.random.default_rng(seed)
    kernel = rng.normal(0, 1, (tree.num_nodes, units)).astype("float32")
    layer.kernel.assign(kernel)
    bias = np.zeros(tree.num_nodes, "float32")
    if use_bias:
        bias = rng.normal(0, 0.5, tree.num_nodes).astype("float32")
        layer.bias.assign(bias)
    return layer, kernel, bias


def _data(tree, batch=8, units=6, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(batch, units)).astype("float32"), rng.integers(0, tree.num_classes, batch)


TREES = {
    "balanced": Tree.balanced(13),
    "huffman": Tree.huffman([30, 1, 4, 4, 9, 2, 2, 17, 1, 6]),
    "from_paths": Tree.from_paths(USER_PATHS, USER_CODES),
}


class TestHierarchicalSoftmax:
    def test_config(self):
        layer = HierarchicalSoftmax(
            Tree.huffman([3, 1, 2]), use_bias=False, kernel_initializer="ones",
            kernel_regularizer=keras.regularizers.L2(0.1), name="hs",
        )
        config = layer.get_config()
        assert config["tree"] == Tree.huffman([3, 1, 2]).get_config()
        assert config["use_bias"] is False and config["name"] == "hs"
        assert config["kernel_initializer"]["class_name"] == "Ones"
        assert config["kernel_regularizer"]["config"]["l2"] == pytest.approx(0.1)
        restored = HierarchicalSoftmax.from_config(config)
        assert restored.tree == layer.tree and restored.get_config() == config

    def test_config_of_a_user_tree_holds_no_arrays(self, monkeypatch):
        tree = Tree.from_paths(USER_PATHS, USER_CODES)
        layer = HierarchicalSoftmax(tree)
        config = layer.get_config()
        assert set(config["tree"]) == {"kind", "num_classes", "depth", "table_sha256"}
        assert config["tree"]["num_classes"] == 5 and config["tree"]["depth"] == 3
        assert len(config["tree"]["table_sha256"]) == 64
        restored = HierarchicalSoftmax.from_config(config)
        assert restored.get_config() == config and restored.tree == tree
        # A process that has not seen the tree gets it from the weights only.
        monkeypatch.setattr(hs_module, "_USER_TREES", weakref.WeakValueDictionary())
        restored = HierarchicalSoftmax.from_config(config)
        assert restored.get_config() == config
        with pytest.raises(ValueError, match="stored in its weights"):
            restored.tree

    def test_weights(self):
        tree = TREES["huffman"]
        layer, _, _ = _built(tree)
        shapes = {w.path.split("/")[-1]: (tuple(w.shape), w.trainable) for w in layer.weights}
        assert shapes == {
            "kernel": ((9, 6), True),
            "bias": ((9,), True),
            "path_table": ((10, tree.depth), False),
            "children": ((9, 2), False),
        }
        table = numpy(layer.path_table)
        np.testing.assert_array_equal(np.abs(table) - 1, np.where(tree.codes != 0, tree.paths, -1))
        np.testing.assert_array_equal(np.sign(table), tree.codes)

    @pytest.mark.parametrize("name", list(TREES))
    def test_node_logits(self, name):
        tree = TREES[name]
        layer, kernel, bias = _built(tree)
        hidden, _ = _data(tree)
        np.testing.assert_allclose(numpy(layer(hidden)), hidden @ kernel.T + bias, rtol=1e-5, atol=1e-5)

    @pytest.mark.parametrize("name", list(TREES))
    def test_path_logits_and_mask(self, name):
        tree = TREES[name]
        layer, kernel, bias = _built(tree)
        hidden, labels = _data(tree)
        out = layer([hidden, labels])
        assert tuple(out.shape) == (8, tree.depth)
        mask = numpy(_backend.get_mask(out))
        np.testing.assert_array_equal(mask.sum(axis=1), tree.path_lengths[labels])
        # Each on-path entry is code * (hidden . kernel[node] + bias[node]); padding is 0.
        z = hidden @ kernel.T + bias
        paths, codes = _ragged(tree)
        for i, label in enumerate(labels):
            expected = [c * z[i, n] for n, c in zip(paths[label], codes[label])]
            np.testing.assert_allclose(numpy(out)[i, : len(expected)], expected, rtol=1e-5, atol=1e-5)
            assert np.all(numpy(out)[i, len(expected) :] == 0)

    def test_compute_mask_matches_the_call(self):
        tree = TREES["huffman"]
        layer, _, _ = _built(tree)
        hidden, labels = _data(tree)
        out = layer([hidden, labels])
        np.testing.assert_array_equal(
            numpy(layer.compute_mask([hidden, labels], None)), numpy(_backend.get_mask(out))
        )
        assert layer.compute_mask(hidden, None) is None

    def test_symbolic_shapes(self):
        tree = TREES["huffman"]
        hidden = keras.Input((6,))
        labels = keras.Input((), dtype="int32")
        layer = HierarchicalSoftmax(tree)
        assert tuple(layer([hidden, labels]).shape) == (None, tree.depth)
        assert tuple(layer(hidden).shape) == (None, tree.num_nodes)

    def test_labels_outside_the_tree_are_fully_masked(self):
        tree = TREES["balanced"]
        layer, _, _ = _built(tree)
        hidden, _ = _data(tree, batch=3)
        out = layer([hidden, np.array([-1, 13, 2])])
        mask = numpy(_backend.get_mask(out))
        assert not mask[:2].any() and mask[2].any()
        assert np.all(numpy(out)[:2] == 0)

    @pytest.mark.parametrize("name", list(TREES))
    def test_fast_path_equals_exact_path(self, name):
        tree = TREES[name]
        layer, _, _ = _built(tree)
        hidden, labels = _data(tree)
        fast = numpy(HierarchicalSoftmaxLoss(from_path_logits=True, reduction=None)(labels, layer([hidden, labels])))
        exact = numpy(HierarchicalSoftmaxLoss(tree, reduction=None)(labels, layer(hidden)))
        np.testing.assert_allclose(fast, exact, rtol=1e-5)
        np.testing.assert_allclose(fast, -numpy(layer.log_probs(hidden))[np.arange(8), labels], rtol=1e-5)

    @pytest.mark.parametrize("name", list(TREES))
    def test_log_probs(self, name):
        tree = TREES[name]
        layer, kernel, bias = _built(tree)
        hidden, _ = _data(tree)
        log_probs = numpy(layer.log_probs(hidden))
        assert log_probs.shape == (8, tree.num_classes)
        np.testing.assert_allclose(np.exp(log_probs).sum(axis=1), 1.0, atol=1e-5)
        expected = reference.class_probabilities(hidden @ kernel.T + bias, *_ragged(tree))
        np.testing.assert_allclose(np.exp(log_probs), expected, rtol=1e-4, atol=1e-7)

    @pytest.mark.parametrize("shape", ["chain", "shuffled"])
    def test_log_probs_of_lopsided_trees(self, shape):
        # log_probs walks the tree one level at a time. A chain (Huffman over doubling
        # counts: one internal node per level, each class one level deeper) and a tree
        # whose node ids are shuffled against their levels must both match the
        # product of branch probabilities along each path.
        tree = Tree.huffman(2 ** np.arange(9))
        assert tree.depth == tree.num_nodes
        if shape == "shuffled":
            tree = Tree.huffman(np.random.default_rng(5).integers(1, 40, 60))
            relabel = np.random.default_rng(6).permutation(tree.num_nodes)
            tree = Tree.from_paths(np.where(tree.codes != 0, relabel[tree.paths], -1), tree.codes)
        layer, kernel, bias = _built(tree)
        hidden, _ = _data(tree)
        expected = reference.class_probabilities(hidden @ kernel.T + bias, *_ragged(tree))
        np.testing.assert_allclose(np.exp(numpy(layer.log_probs(hidden))), expected, rtol=1e-4, atol=1e-7)

    def test_log_probs_sum_to_one_for_a_thousand_classes(self):
        tree = Tree.huffman(np.random.default_rng(3).integers(1, 50, 1000))
        layer = HierarchicalSoftmax(tree, kernel_initializer="random_normal")
        hidden = np.random.default_rng(4).normal(0, 3, (4, 8)).astype("float32")
        layer.build((None, 8))
        np.testing.assert_allclose(np.exp(numpy(layer.log_probs(hidden))).sum(axis=1), 1.0, atol=1e-5)

    def test_zero_kernel_starts_every_class_at_its_tree_prior(self):
        tree = TREES["huffman"]
        layer = HierarchicalSoftmax(tree)
        log_probs = numpy(layer.log_probs(np.ones((1, 4), "float32")))
        np.testing.assert_allclose(log_probs[0], -tree.path_lengths * np.log(2.0), rtol=1e-6)

    @pytest.mark.parametrize("name", list(TREES))
    def test_top_k_exact(self, name):
        tree = TREES[name]
        layer, _, _ = _built(tree)
        hidden, _ = _data(tree)
        log_probs = numpy(layer.log_probs(hidden))
        values, classes = layer.top_k(hidden, 3)
        order = np.argsort(-log_probs, axis=1, kind="stable")[:, :3]
        np.testing.assert_array_equal(numpy(classes), order)
        np.testing.assert_allclose(numpy(values), np.take_along_axis(log_probs, order, 1), rtol=1e-6)

    @pytest.mark.parametrize("name", list(TREES))
    def test_beam_search_wide_enough_is_exact(self, name):
        tree = TREES[name]
        layer, _, _ = _built(tree)
        hidden, _ = _data(tree)
        exact_values, exact_classes = layer.top_k(hidden, 3)
        values, classes = layer.top_k(hidden, 3, beam_width=tree.num_classes)
        np.testing.assert_array_equal(numpy(classes), numpy(exact_classes))
        np.testing.assert_allclose(numpy(values), numpy(exact_values), rtol=1e-5, atol=1e-6)

    def test_narrow_beam_returns_true_probabilities_in_order(self):
        tree = Tree.balanced(300)
        layer = HierarchicalSoftmax(tree, kernel_initializer=keras.initializers.RandomNormal(stddev=0.5, seed=0))
        layer.build((None, 8))
        hidden = np.random.default_rng(5).normal(0, 2, (16, 8)).astype("float32")
        values, classes = (numpy(t) for t in layer.top_k(hidden, 5, beam_width=10))
        log_probs = numpy(layer.log_probs(hidden))
        np.testing.assert_allclose(values, np.take_along_axis(log_probs, classes, 1), rtol=1e-5, atol=1e-5)
        assert np.all(np.diff(values, axis=1) <= 0)
        assert all(len(set(row)) == 5 for row in classes.tolist())
        # Approximate: never above the exact k-th best; on a peaked distribution like
        # this one (a trained model's) nearly always equal.
        exact = np.sort(log_probs, axis=1)[:, ::-1][:, :5]
        assert np.all(values <= exact + 1e-5)
        assert np.mean(np.isclose(values, exact, atol=1e-5)) > 0.9

    def test_top_k_arguments(self):
        layer, _, _ = _built(TREES["from_paths"])
        hidden = np.zeros((1, 6), "float32")
        with pytest.raises(ValueError, match="Invalid value for argument `k`"):
            layer.top_k(hidden, 6)
        with pytest.raises(ValueError, match="Invalid value for argument `beam_width`"):
            layer.top_k(hidden, 3, beam_width=2)

    def test_hidden_must_be_two_dimensional(self):
        with pytest.raises(ValueError, match=r"\(batch, d\)"):
            HierarchicalSoftmax(TREES["huffman"])(np.zeros((2, 3, 4), "float32"))

    def test_labels_must_be_one_per_example(self):
        layer, _, _ = _built(TREES["huffman"])
        with pytest.raises(ValueError, match=r"`labels` \(2, 2\) and `hidden` \(2, 6\) are incompatible.*\(2,\)"):
            layer([np.zeros((2, 6), "float32"), np.zeros((2, 2), "int32")])
        with pytest.raises(ValueError, match=r"`labels` \(3,\) and `hidden` \(2, 6\) are incompatible"):
            layer([np.zeros((2, 6), "float32"), np.zeros(3, "int32")])

    def test_invalid_arguments(self):
        with pytest.raises(ValueError, match="Invalid value for argument `tree`"):
            HierarchicalSoftmax(10)
        with pytest.raises(ValueError, match="Invalid value for argument `use_bias`"):
            HierarchicalSoftmax(TREES["huffman"], use_bias="yes")

    def test_kernel_regularizer_adds_a_loss(self):
        layer = HierarchicalSoftmax(
            TREES["huffman"], kernel_initializer="ones", kernel_regularizer=keras.regularizers.L2(0.5)
        )
        layer([np.zeros((2, 3), "float32"), np.array([0, 1])])
        # 0.5 * sum(ones(9, 3)**2) = 13.5
        np.testing.assert_allclose(float(sum(numpy(x) for x in layer.losses)), 13.5)

    def test_mixed_precision_computes_in_float32(self):
        tree = TREES["huffman"]
        hidden, labels = _data(tree)
        reference_layer, kernel, bias = _built(tree)
        expected = numpy(reference_layer([hidden, labels]))
        keras.config.set_dtype_policy("mixed_float16")
        layer = HierarchicalSoftmax(tree)
        layer.build((None, 6))
        layer.kernel.assign(kernel)
        layer.bias.assign(bias)
        assert layer.kernel.dtype == "float32"
        out = layer([hidden, labels])
        assert keras.backend.standardize_dtype(out.dtype) == "float32"
        hidden16 = numpy(keras.ops.cast(keras.ops.cast(hidden, "float16"), "float32"))
        z = hidden16 @ kernel.T + bias  # the only rounding is the float16 input
        np.testing.assert_allclose(numpy(layer(hidden)), z, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(numpy(out), expected, atol=0.02)

    def test_sgd_updates_only_the_rows_on_the_paths(self):
        tree = Tree.balanced(64)  # 6 nodes per path; the labels below touch few rows
        features = keras.Input((4,))
        labels = keras.Input((), dtype="int32")
        layer = HierarchicalSoftmax(tree, kernel_initializer="random_normal")
        model = keras.Model([features, labels], layer([features, labels]))
        model.compile(keras.optimizers.SGD(0.1), HierarchicalSoftmaxLoss(from_path_logits=True))
        x = np.random.default_rng(0).normal(size=(4, 4)).astype("float32")
        y = np.array([0, 1, 2, 3])  # classes under one subtree: rows 0, 1, 3, 7, 15, 31
        before = numpy(layer.kernel).copy()
        model.train_on_batch([x, y], y)
        changed = np.nonzero(np.any(numpy(layer.kernel) != before, axis=1))[0]
        on_paths = np.unique(tree.paths[y][tree.codes[y] != 0])
        np.testing.assert_array_equal(changed, on_paths)
        assert len(on_paths) < tree.num_nodes // 4


@pytest.mark.skipif(BACKEND != "tensorflow", reason="IndexedSlices and traced graphs are TensorFlow's")
class TestTensorFlowFastPath:
    def test_kernel_gradient_is_indexed_slices(self):
        import tensorflow as tf

        tree = TREES["huffman"]
        layer, _, _ = _built(tree)
        hidden, labels = _data(tree)
        loss = HierarchicalSoftmaxLoss(from_path_logits=True)
        with tf.GradientTape() as tape:
            value = loss(labels, layer([hidden, labels]))
        kernel_grad, bias_grad = tape.gradient(value, [layer.kernel.value, layer.bias.value])
        assert isinstance(kernel_grad, tf.IndexedSlices) and isinstance(bias_grad, tf.IndexedSlices)
        assert kernel_grad.values.shape == (8 * tree.depth, 6)
        # ... and it is the exact path's gradient, made dense.
        with tf.GradientTape() as tape:
            exact = HierarchicalSoftmaxLoss(tree)(labels, layer(hidden))
        dense = tape.gradient(exact, layer.kernel.value)
        np.testing.assert_allclose(tf.convert_to_tensor(kernel_grad), dense, rtol=1e-5, atol=1e-7)

    @pytest.mark.parametrize("jit_compile", [False, True], ids=["tf.function", "xla"])
    def test_training_step_graph_has_no_class_sized_tensor(self, jit_compile):
        # 997 classes (996 nodes); batch 8, d 16, depth 10: no other size is 996 or 997.
        import tensorflow as tf

        tree = Tree.balanced(997)
        layer = HierarchicalSoftmax(tree, kernel_initializer="random_normal")
        layer.build((None, 16))
        loss = HierarchicalSoftmaxLoss(from_path_logits=True)
        optimizer = keras.optimizers.SGD(0.1)
        optimizer.build(layer.trainable_variables)

        @tf.function(jit_compile=jit_compile)
        def step(hidden, labels):
            with tf.GradientTape() as tape:
                value = loss(labels, layer([hidden, labels]))
            grads = tape.gradient(value, layer.trainable_variables)
            optimizer.apply(grads, layer.trainable_variables)
            return value

        hidden = tf.random.normal((8, 16))
        labels = tf.constant(np.arange(8) * 100, tf.int32)
        before = layer.kernel.numpy().copy()
        step(hidden, labels)
        graph = step.get_concrete_function(hidden, labels).graph
        sizes = set()
        for op in graph.get_operations():
            for tensor in op.outputs:
                if tensor.shape.rank:
                    sizes.update(d for d in tensor.shape.as_list() if d is not None)
        assert 8 in sizes and 16 in sizes and tree.depth in sizes  # the graph was inspected
        assert not sizes & {tree.num_classes, tree.num_nodes}, sorted(sizes)
        assert any(op.type == "ResourceScatterSub" for op in graph.get_operations()) or jit_compile
        changed = np.any(layer.kernel.numpy() != before, axis=1).sum()
        assert 0 < changed <= 8 * tree.depth


@pytest.mark.slow
class TestTraining:
    def _problem(self, num_classes=24, seed=0):
        rng = np.random.default_rng(seed)
        centers = rng.normal(0, 2.5, (num_classes, 8)).astype("float32")
        labels = rng.integers(0, num_classes, 768)
        features = centers[labels] + rng.normal(0, 1, (768, 8)).astype("float32")
        return features, labels

    def test_both_paths_learn(self):
        features, labels = self._problem()
        tree = Tree.huffman(np.bincount(labels, minlength=24) + 1)
        chance = np.log(24)
        keras.utils.set_random_seed(0)
        # Fast path: labels are an input; the inference model shares the layers.
        x_in, y_in = keras.Input((8,)), keras.Input((), dtype="int32")
        hidden = keras.layers.Dense(32, activation="relu")
        output = HierarchicalSoftmax(tree)
        training = keras.Model([x_in, y_in], output([hidden(x_in), y_in]))
        training.compile(keras.optimizers.SGD(0.3), HierarchicalSoftmaxLoss(from_path_logits=True))
        fast = training.fit([features, labels], labels, epochs=8, batch_size=64, verbose=0).history["loss"]
        encoder = keras.Model(x_in, hidden(x_in))
        log_probs = numpy(output.log_probs(encoder.predict(features, verbose=0)))
        # Exact path: every node's logit from the same kind of layer.
        x_in2 = keras.Input((8,))
        exact_model = keras.Model(
            x_in2, HierarchicalSoftmax(tree)(keras.layers.Dense(32, activation="relu")(x_in2))
        )
        exact_model.compile(keras.optimizers.SGD(0.3), HierarchicalSoftmaxLoss(tree))
        exact = exact_model.fit(features, labels, epochs=8, batch_size=64, verbose=0).history["loss"]
        for history in (fast, exact):
            assert history[-1] < 0.3 * chance and history[-1] < history[0]
        accuracy = np.mean(np.argmax(log_probs, axis=1) == labels)
        assert accuracy > 0.8  # chance is 1/24
        evaluated = training.evaluate([features, labels], labels, verbose=0)
        np.testing.assert_allclose(evaluated, -np.mean(log_probs[np.arange(768), labels]), rtol=1e-4)


def test_saved_model_keeps_a_user_tree_in_its_weights(tmp_path):
    # 3000 classes from Tree.from_paths: the paths go in the weights file, not the JSON.
    huffman = Tree.huffman(np.arange(3000, 0, -1))
    tree = Tree.from_paths(huffman.paths, huffman.codes)
    assert tree.kind == "paths"
    x_in, y_in = keras.Input((4,)), keras.Input((), dtype="int32")
    layer = HierarchicalSoftmax(tree, kernel_initializer="random_normal")
    model = keras.Model([x_in, y_in], layer([x_in, y_in]))
    model.compile("sgd", HierarchicalSoftmaxLoss(from_path_logits=True))
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    y = np.array([0, 5, 100, 2000, 2999])
    path = str(tmp_path / "model.keras")
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        config = archive.read("config.json")
    assert len(config) < 10_000, len(config)
    assert json.loads(config)["config"]["layers"][2]["config"]["tree"] == {
        "kind": "paths", "num_classes": 3000, "depth": tree.depth,
        "table_sha256": layer.get_config()["tree"]["table_sha256"],
    }
    restored = keras.saving.load_model(path, safe_mode=True)
    restored_layer = restored.layers[-1]
    assert restored_layer.tree == tree
    np.testing.assert_allclose(restored.predict([x, y], verbose=0), model.predict([x, y], verbose=0))
    np.testing.assert_allclose(
        numpy(restored_layer.log_probs(x)), numpy(layer.log_probs(x)), rtol=1e-6, atol=1e-6
    )
    assert os.path.getsize(path) > 3000 * tree.depth * 4  # the table is in the file


# -- a user hierarchy survives every copy of the layer (issue 12, item 12) ----------


def _user_model(tree, units=6):
    """`[features, labels] -> path logits` through a Dense layer and the output layer."""
    features, labels = keras.Input((units,)), keras.Input((), dtype="int32")
    hidden = keras.layers.Dense(units, name="dense")(features)
    output = HierarchicalSoftmax(tree, kernel_initializer="random_normal", name="output")
    return keras.Model([features, labels], output([hidden, labels]))


def _node_logits(model, x):
    """The output layer's node logits for `x`, from its weights in NumPy."""
    dense, output = model.get_layer("dense"), model.get_layer("output")
    hidden = x @ numpy(dense.kernel) + numpy(dense.bias)
    return hidden @ numpy(output.kernel).T + numpy(output.bias)


class TestUserTreeSurvivesCopies:
    tree = Tree.from_paths(USER_PATHS, USER_CODES)
    x = np.random.default_rng(3).normal(size=(7, 6)).astype("float32")
    y = np.array([0, 1, 2, 3, 4, 0, 3])

    def _check(self, model):
        """The output layer of `model` has this tree and gives its probabilities."""
        layer = model.get_layer("output")
        assert layer.tree == self.tree
        np.testing.assert_array_equal(
            numpy(layer.path_table), self.tree.codes.astype(int) * (self.tree.paths + 1)
        )
        hidden = model.get_layer("dense")(self.x)
        expected = self.tree.log_probs(_node_logits(model, self.x))  # NumPy oracle
        np.testing.assert_allclose(numpy(layer.log_probs(hidden)), expected, rtol=1e-5, atol=1e-5)
        _, classes = layer.top_k(hidden, k=2)
        np.testing.assert_array_equal(numpy(classes), np.argsort(-expected, axis=1)[:, :2])

    def test_regularizers_apply(self):
        import keras_losses

        model = _user_model(self.tree)
        regularized = keras_losses.regularizers.apply(model, kernel=keras.regularizers.L2(1e-3))
        self._check(regularized)

    def test_clone_model_with_weights(self):
        model = _user_model(self.tree)
        clone = keras.models.clone_model(model)
        clone.set_weights(model.get_weights())
        self._check(clone)

    def test_clone_model_without_weights_trains_on_the_tree(self):
        clone = keras.models.clone_model(_user_model(self.tree))
        self._check(clone)
        clone.get_layer("output").kernel.assign(np.zeros((4, 6), "float32"))
        clone.get_layer("output").bias.assign(np.zeros(4, "float32"))
        clone.compile("sgd", HierarchicalSoftmaxLoss(from_path_logits=True))
        # Zero node logits: each node on a path costs log 2 (0.0 on 0.1.0: the
        # all-zero table masked every node, and training gave NaN).
        loss = clone.evaluate([self.x, self.y], self.y, verbose=0)
        np.testing.assert_allclose(loss, np.log(2) * self.tree.path_lengths[self.y].mean(), rtol=1e-6)
        history = clone.fit([self.x, self.y], self.y, epochs=2, verbose=0)
        assert np.all(np.isfinite(history.history["loss"]))

    def test_from_config_and_set_weights_in_a_process_that_has_not_seen_the_tree(self, monkeypatch):
        model = _user_model(self.tree)
        config = model.get_config()
        monkeypatch.setattr(hs_module, "_USER_TREES", weakref.WeakValueDictionary())
        restored = keras.Model.from_config(config)
        with pytest.raises(ValueError, match="stored in its weights"):
            restored.get_layer("output").tree
        restored.set_weights(model.get_weights())
        self._check(restored)

    def test_from_config_in_the_same_process(self):
        model = _user_model(self.tree)
        restored = keras.Model.from_config(model.get_config())
        restored.set_weights(model.get_weights())
        self._check(restored)

    def test_save_and_load_in_a_process_that_has_not_seen_the_tree(self, tmp_path, monkeypatch):
        model = _user_model(self.tree)
        path = str(tmp_path / "m.keras")
        model.save(path)
        monkeypatch.setattr(hs_module, "_USER_TREES", weakref.WeakValueDictionary())
        self._check(keras.saving.load_model(path))

    def test_a_loaded_model_lists_the_layer_weights_as_torch_parameters(self, tmp_path):
        if BACKEND != "torch":
            pytest.skip("torch parameters")
        model = _user_model(self.tree)
        path = str(tmp_path / "m.keras")
        model.save(path)
        names = sorted(name for name, _ in keras.saving.load_model(path).named_parameters())
        assert names == sorted(name for name, _ in model.named_parameters())
        assert sum("output/" in name for name in names) == 4

    def test_weights_of_another_tree_are_refused(self, monkeypatch):
        # The same shapes, the classes of the two subtrees swapped: another tree.
        other = Tree.from_paths(USER_PATHS, [[-c for c in row] for row in USER_CODES])
        model = _user_model(self.tree)
        config = model.get_config()
        monkeypatch.setattr(hs_module, "_USER_TREES", weakref.WeakValueDictionary())
        restored = keras.Model.from_config(copy.deepcopy(config))
        restored.set_weights(_user_model(other).get_weights())
        with pytest.raises(ValueError, match="not the tree its config names"):
            restored.get_layer("output").tree
        restored = keras.Model.from_config(copy.deepcopy(config))
        other_layer = _user_model(other).get_layer("output")
        with pytest.raises(ValueError, match="not the tree its config names"):
            restored.get_layer("output").set_weights(other_layer.get_weights())


# -- tampered .keras files (issue 12, item 18) --------------------------------------


def _rewrite(source, target, edit_config=None, edit_weights=None):
    """A copy of the `.keras` zip `source` with its config.json or weights edited."""
    import h5py

    with zipfile.ZipFile(source) as archive:
        items = {name: archive.read(name) for name in archive.namelist()}
    if edit_config is not None:
        config = json.loads(items["config.json"])
        edit_config(config)
        items["config.json"] = json.dumps(config).encode()
    if edit_weights is not None:
        weights = target + ".h5"
        with open(weights, "wb") as f:
            f.write(items["model.weights.h5"])
        with h5py.File(weights, "r+") as f:
            edit_weights(f["layers/hierarchical_softmax/vars"])
        with open(weights, "rb") as f:
            items["model.weights.h5"] = f.read()
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in items.items():
            archive.writestr(name, data)
    return target


def _output_config(config):
    return next(layer for layer in config["config"]["layers"] if layer["name"] == "output")["config"]


def _swap_rows(first, second):
    def edit(group):
        table = np.array(group["2"])  # kernel, bias, path_table, children
        table[[first, second]] = table[[second, first]]
        group["2"][...] = table

    return edit


class TestTamperedFiles:
    def _saved(self, tmp_path, tree):
        path = str(tmp_path / "model.keras")
        _user_model(tree).save(path)
        return path

    def test_a_huge_tree_in_the_config_fails_before_anything_is_allocated(self, tmp_path, monkeypatch):
        source = self._saved(tmp_path, Tree.balanced(8))

        def huge(config):
            # 10**8 asked for 2.9 GB on 0.1.0; any allocation shows in the spies below.
            _output_config(config)["tree"]["num_classes"] = 10**6

        target = _rewrite(source, str(tmp_path / "huge.keras"), edit_config=huge)
        requested, built_trees = [], []
        add_weight = HierarchicalSoftmax.add_weight
        monkeypatch.setattr(
            HierarchicalSoftmax, "add_weight",
            lambda self, shape, **kw: requested.append(shape) or add_weight(self, shape=shape, **kw),
        )
        balanced = hs_module.trees._balanced_arrays
        monkeypatch.setattr(
            hs_module.trees, "_balanced_arrays", lambda n: built_trees.append(n) or balanced(n)
        )
        with pytest.raises(ValueError) as error:
            keras.saving.load_model(target)
        message = str(error.value)
        assert "Cannot load layer 'output'" in message[:300], message
        assert "1000000 classes" in message and "(7, 6)" in message
        assert requested == [] and built_trees == []  # no variable, no tree

    def test_a_tampered_path_table_of_a_balanced_tree_is_refused(self, tmp_path):
        source = self._saved(tmp_path, Tree.balanced(8))
        target = _rewrite(source, str(tmp_path / "t.keras"), edit_weights=_swap_rows(1, 6))
        with pytest.raises(ValueError, match=r"does not match its tree .* 2 classes differ, first \[1, 6\]"):
            keras.saving.load_model(target)

    def test_a_tampered_path_table_of_a_user_tree_is_refused(self, tmp_path, monkeypatch):
        # Swapping two classes' rows still gives a valid tree: only the hash tells.
        source = self._saved(tmp_path, Tree.from_paths(USER_PATHS, USER_CODES))
        target = _rewrite(source, str(tmp_path / "t.keras"), edit_weights=_swap_rows(0, 4))
        monkeypatch.setattr(hs_module, "_USER_TREES", weakref.WeakValueDictionary())
        with pytest.raises(ValueError, match="not the tree its config names"):
            keras.saving.load_model(target)

    def test_a_path_table_that_is_not_a_tree_is_refused(self, tmp_path, monkeypatch):
        source = self._saved(tmp_path, Tree.from_paths(USER_PATHS, USER_CODES))

        def zero(group):
            group["2"][...] = np.zeros(group["2"].shape, "int32")

        target = _rewrite(source, str(tmp_path / "t.keras"), edit_weights=zero)
        monkeypatch.setattr(hs_module, "_USER_TREES", weakref.WeakValueDictionary())
        with pytest.raises(ValueError, match="`path_table` is not a tree: Every class needs a path"):
            keras.saving.load_model(target)

    def test_a_stored_shape_that_disagrees_with_the_config_is_named(self, tmp_path):
        source = self._saved(tmp_path, Tree.balanced(8))

        def depth(config):
            _output_config(config)["tree"] = {"kind": "paths", "num_classes": 8, "depth": 5}

        target = _rewrite(source, str(tmp_path / "t.keras"), edit_config=depth)
        with pytest.raises(ValueError, match=r"`path_table` must have shape \(8, 5\), but the stored one has shape \(8, 3\)"):
            keras.saving.load_model(target)

    def test_a_bad_tree_in_the_config_is_the_first_thing_the_error_says(self, tmp_path):
        source = self._saved(tmp_path, Tree.balanced(8))
        counts = list(range(1, 2001))

        def bad(config):  # a big config that fails: 2,000 counts, one of them negative
            _output_config(config)["tree"] = {"kind": "huffman", "class_counts": counts[:-1] + [-1]}

        target = _rewrite(source, str(tmp_path / "t.keras"), edit_config=bad)
        with pytest.raises(ValueError) as error:
            keras.saving.load_model(target)
        message = str(error.value)
        assert message.startswith("Cannot load layer 'output' (HierarchicalSoftmax): Invalid value for argument `class_counts`"), message[:300]
        assert len(message) < 1000

    def test_paths_are_checked_before_they_are_padded(self):
        import tracemalloc

        # 2,000 one-node paths and one of 20,000 nodes: padded, 320 MB of int64.
        paths = [[0]] * 2000 + [list(range(20000))]
        codes = [[1]] * 2000 + [[1] * 20000]
        tracemalloc.start()
        try:
            with pytest.raises(ValueError, match="ids must be in"):
                HierarchicalSoftmax.from_config(
                    {"tree": {"kind": "paths", "num_classes": None, "class_counts": None, "paths": paths, "codes": codes}}
                )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 30 * 2**20, peak

    def test_a_placeholder_deeper_than_any_tree_is_refused(self):
        with pytest.raises(ValueError, match="`depth`"):
            HierarchicalSoftmax.from_config({"tree": {"kind": "paths", "num_classes": 4, "depth": 10**9}})


@pytest.mark.parametrize("num_classes", [2, 3, 4, 5, 7, 8, 9, 100, 1023, 1024, 1025])
def test_the_depth_of_a_balanced_config_without_building_the_tree(num_classes):
    layer = HierarchicalSoftmax({"kind": "balanced", "num_classes": num_classes})
    assert layer.depth == Tree.balanced(num_classes).depth
    assert layer.tree == Tree.balanced(num_classes)


# -- a compiled model keeps its optimizer state (the variables are made late) -------


@pytest.mark.subprocess
def test_a_compiled_model_reloads_its_optimizer_state_in_a_fresh_process(tmp_path):
    # `load_model` builds the optimizer before the output layers create their variables
    # (they wait for the stored shapes). The saved Adam state must still load: the
    # step count and every moment, and training must go on as it would have without
    # the save. Two output layers, so that the optimizer is rebuilt over both.
    rng = np.random.default_rng(0)
    features = keras.Input((5,))
    labels = [keras.Input((), dtype="int32"), keras.Input((), dtype="int32")]
    hidden = keras.layers.Dense(4, name="dense")(features)
    outputs = [
        HierarchicalSoftmax(Tree.balanced(9), kernel_initializer="random_normal", name="first")([hidden, labels[0]]),
        HierarchicalSoftmax(Tree.huffman([5, 1, 3, 2, 8]), name="second")([hidden, labels[1]]),
    ]
    model = keras.Model([features] + labels, outputs)
    model.compile(
        keras.optimizers.Adam(0.05),
        [HierarchicalSoftmaxLoss(from_path_logits=True), HierarchicalSoftmaxLoss(from_path_logits=True)],
    )
    x = rng.normal(size=(16, 5)).astype("float32")
    y = [rng.integers(0, 9, 16), rng.integers(0, 5, 16)]
    data = str(tmp_path / "data.npz")
    np.savez(data, x=x, y0=y[0], y1=y[1])
    model.fit([x] + y, y, batch_size=8, verbose=0)  # 2 steps
    path = str(tmp_path / "model.keras")
    model.save(path)
    saved = {v.path: numpy(v).tolist() for v in model.optimizer.variables}
    model.fit([x] + y, y, batch_size=8, shuffle=False, verbose=0)  # 2 more: the reference
    code = (
        "import json, keras, numpy as np\n"
        "import keras_losses\n"
        f"model = keras.saving.load_model({path!r})\n"
        "state = {v.path: np.asarray(keras.ops.convert_to_numpy(v)).tolist() for v in model.optimizer.variables}\n"
        f"d = np.load({data!r})\n"
        "y = [d['y0'], d['y1']]\n"
        "model.fit([d['x']] + y, y, batch_size=8, shuffle=False, verbose=0)\n"
        "weights = {v.path: np.asarray(keras.ops.convert_to_numpy(v)).tolist() for v in model.weights}\n"
        "print(json.dumps({'state': state, 'weights': weights}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    line = [l for l in result.stdout.splitlines() if l.startswith("{")]
    assert line, result.stderr[-3000:]
    assert "Skipping variable loading" not in result.stderr, result.stderr[-3000:]
    loaded = json.loads(line[-1])
    assert sorted(loaded["state"]) == sorted(saved)
    prefix = model.optimizer.name  # "adam", or "adam_3" after other tests made some
    assert loaded["state"][f"{prefix}/iteration"] == 2
    assert np.any(np.asarray(saved[f"{prefix}/first_kernel_momentum"]) != 0)
    for key, want in saved.items():
        np.testing.assert_allclose(np.asarray(loaded["state"][key]), np.asarray(want), rtol=1e-6, err_msg=key)
    assert sorted(loaded["weights"]) == sorted(v.path for v in model.weights)
    for v in model.weights:
        np.testing.assert_allclose(np.asarray(loaded["weights"][v.path]), numpy(v), rtol=1e-5, atol=1e-6, err_msg=v.path)
