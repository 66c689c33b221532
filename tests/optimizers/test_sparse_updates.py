"""sparse_updates + the fast path: same weights as the update rule computed densely, and no
(V, d)-sized value in the compiled step."""

import keras
import numpy as np
import pytest

import keras_losses
from keras_losses.optimizers import LazyAdam
from keras_losses.optimizers import sparse_updates
from keras_losses.testing.reference import optimizers as ref

BACKEND = keras.backend.backend()
TREE = keras_losses.Tree.balanced(50)
UNITS, BATCH, STEPS = 6, 16, 4


def numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def fast_path_model(optimizer, sparse=True, encoder=False, jit_compile="auto", **layer_kwargs):
    keras.utils.set_random_seed(1)
    hidden = keras.Input((UNITS,))
    labels = keras.Input((), dtype="int32")
    features = keras.layers.Dense(UNITS, activation="tanh")(hidden) if encoder else hidden
    layer = keras_losses.HierarchicalSoftmax(TREE, kernel_initializer="random_normal", **layer_kwargs)
    model = keras.Model([hidden, labels], layer([features, labels]))
    if sparse:
        sparse_updates(model)
    model.compile(optimizer, keras_losses.HierarchicalSoftmaxLoss(from_path_logits=True), jit_compile=jit_compile)
    return model, layer


def batches():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(STEPS, BATCH, UNITS)).astype("float32")
    y = rng.integers(0, TREE.num_classes, (STEPS, BATCH)).astype("int32")
    y[:, 1] = y[:, 0]  # examples that share every node of their path
    return x, y


def ragged(tree):
    lengths = tree.path_lengths
    return (
        [row[:n] for row, n in zip(tree.paths.tolist(), lengths)],
        [row[:n] for row, n in zip(tree.codes.tolist(), lengths)],
    )


JIT = [False, True]


@pytest.mark.parametrize("jit_compile", JIT)
@pytest.mark.parametrize("rule", ["sgd", "lazy_adam"])
def test_fast_path_equals_numpy_update_rule(rule, jit_compile):
    optimizer = keras.optimizers.SGD(0.5) if rule == "sgd" else LazyAdam(0.05, beta_1=0.8, beta_2=0.9)
    model, layer = fast_path_model(optimizer, jit_compile=jit_compile)
    kernel = numpy(layer.kernel).astype("float64")
    bias = np.zeros(TREE.num_nodes)
    state = [np.zeros_like(kernel), np.zeros_like(kernel), np.zeros_like(bias), np.zeros_like(bias)]
    paths, codes = ragged(TREE)
    x, y = batches()
    for t in range(STEPS):
        model.train_on_batch([x[t], y[t]], y[t])
        nodes, kernel_rows, bias_rows = ref.hierarchical_path_rows(x[t], y[t], kernel, bias, paths, codes)
        if rule == "sgd":
            kernel = ref.sgd_rows_step(kernel, nodes, kernel_rows, 0.5)
            bias = ref.sgd_rows_step(bias, nodes, bias_rows, 0.5)
        else:
            kernel, state[0], state[1] = ref.lazy_adam_step(kernel, state[0], state[1], t + 1, nodes, kernel_rows, 0.05, 0.8, 0.9)
            bias, state[2], state[3] = ref.lazy_adam_step(bias, state[2], state[3], t + 1, nodes, bias_rows, 0.05, 0.8, 0.9)
    np.testing.assert_allclose(numpy(layer.kernel), kernel, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(numpy(layer.bias), bias, rtol=1e-4, atol=1e-5)
    if rule == "lazy_adam":
        np.testing.assert_allclose(numpy(optimizer._momentums[0]), state[0], rtol=1e-4, atol=1e-6)
        untouched = np.all(state[1] == 0, axis=1)  # rows no step read: moments still exactly 0
        assert untouched.any()
        assert np.all(numpy(optimizer._momentums[0])[untouched] == 0)
        assert np.all(numpy(optimizer._velocities[0])[untouched] == 0)


@pytest.mark.parametrize(
    "make_optimizer, layer_kwargs",
    [
        (lambda: keras.optimizers.SGD(0.3), {}),  # row-sparse
        (lambda: keras.optimizers.Adam(0.01), {}),  # not row-sparse: Keras's dense step
        (lambda: keras.optimizers.SGD(0.3, momentum=0.9), {}),  # idem
        (lambda: keras.optimizers.SGD(0.3), {"kernel_regularizer": keras.regularizers.L2(0.1)}),  # dense table
    ],
    ids=["sgd", "adam", "momentum", "regularized"],
)
def test_same_weights_as_without_sparse_updates(make_optimizer, layer_kwargs):
    # SGD's row update is exactly the dense update by a gradient that is zero elsewhere;
    # the other cases must fall back to Keras's own step. An encoder checks that the
    # gradient reaching the rest of the model is unchanged.
    x, y = batches()
    weights = []
    for sparse in (True, False):
        model, _ = fast_path_model(make_optimizer(), sparse=sparse, encoder=True, **layer_kwargs)
        for t in range(STEPS):
            model.train_on_batch([x[t], y[t]], y[t])
        weights.append([numpy(w) for w in model.weights])
    for got, want in zip(*weights):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_requires_a_model():
    with pytest.raises(ValueError, match="expects a `keras.Model`"):
        sparse_updates(keras.layers.Dense(2))


def _built(optimizer, size):
    tree = keras_losses.Tree.balanced(size)
    hidden = keras.Input((7,))
    labels = keras.Input((), dtype="int32")
    model = sparse_updates(keras.Model([hidden, labels], keras_losses.HierarchicalSoftmax(tree)([hidden, labels])))
    model.compile(optimizer, keras_losses.HierarchicalSoftmaxLoss(from_path_logits=True))
    x, y = np.zeros((4, 7), "float32"), np.arange(4, dtype="int32")
    model.train_on_batch([x, y], y)
    return model, (x, y)


def _table_sized_values(model, data, shapes):
    """`{(operation, shape): count}` of the values shaped like a table in the compiled step."""
    from collections import Counter

    found = Counter()
    if BACKEND == "tensorflow":
        import tensorflow as tf

        x, y = data
        spec = ([tf.TensorSpec(x.shape), tf.TensorSpec(y.shape, tf.int32)], tf.TensorSpec(y.shape, tf.int32))
        graph = tf.function(model.train_step).get_concrete_function(spec).graph
        for op in graph.get_operations():
            for out in op.outputs:
                if out.shape.rank is not None and tuple(out.shape) in shapes:
                    found[(op.type, tuple(out.shape))] += 1
        return found
    import jax

    state = tuple(
        [v.value for v in group]
        for group in (
            model.trainable_variables,
            model.non_trainable_variables,
            model.optimizer.variables,
            model.metrics_variables,
        )
    )
    closed = jax.make_jaxpr(model.train_step)(state, (list(data), data[1]))

    def walk(jaxpr):
        for eqn in jaxpr.eqns:
            inner = [p for p in eqn.params.values() if hasattr(p, "eqns") or hasattr(p, "jaxpr")]
            if inner:
                for p in inner:
                    walk(p.jaxpr if hasattr(p, "jaxpr") else p)
                continue  # a call: what it computes is counted inside
            for var in eqn.outvars:
                if tuple(getattr(var.aval, "shape", ())) in shapes:
                    found[(eqn.primitive.name, tuple(var.aval.shape))] += 1

    walk(closed.jaxpr)
    return found


@pytest.mark.skipif(BACKEND == "torch", reason="no traced graph to inspect on PyTorch (eager)")
@pytest.mark.parametrize("rule", ["sgd", "lazy_adam"])
def test_no_table_sized_temporary_in_the_compiled_step(rule):
    optimizer = keras.optimizers.SGD(0.1) if rule == "sgd" else LazyAdam()
    model, data = _built(optimizer, 301)
    shapes = [(300, 7), (300,)]  # the kernel and the bias
    found = _table_sized_values(model, data, shapes)
    # TF: variables are read row by row (ResourceGather) and written by
    # ResourceScatterUpdate, so no table-shaped tensor at all. JAX: the only
    # table-shaped values are the scatters that write the new rows (in place, the
    # train step donates its state).
    assert all(op.startswith("scatter") for op, _ in found), found

    control, data = _built(keras.optimizers.Adam(), 301)  # dense Adam: the test can fail
    assert any(not op.startswith("scatter") for op, _ in _table_sized_values(control, data, shapes))


@pytest.mark.skipif(BACKEND != "torch", reason="PyTorch's sparse COO gradient")
def test_torch_gradient_is_sparse():
    model, layer = fast_path_model(LazyAdam())
    x, y = batches()
    model.train_on_batch([x[0], y[0]], y[0])
    assert layer.kernel.value.grad.is_sparse
    dense, layer = fast_path_model(keras.optimizers.Adam())  # Keras's Adam: dense, as before
    dense.train_on_batch([x[0], y[0]], y[0])
    assert not layer.kernel.value.grad.is_sparse


@pytest.mark.skipif(BACKEND != "tensorflow", reason="an Embedding's gradient is row-sparse on TensorFlow only")
def test_embedding_table_is_updated_lazily():
    keras.utils.set_random_seed(0)
    tokens = keras.Input((3,), dtype="int32")
    embedding = keras.layers.Embedding(20, 4)
    model = keras.Model(tokens, keras.ops.sum(embedding(tokens), axis=1))
    optimizer = LazyAdam(0.1)
    model.compile(optimizer, "mse")
    start = numpy(embedding.embeddings).astype("float64")
    x = np.array([[1, 1, 4], [4, 7, 7]], "int32")
    target = np.ones((2, 4), "float32")
    model.train_on_batch(x, target)
    # d(mean squared error)/d(row) = sum over the uses of the row of 2 * (output - target) / (2 * 4)
    outputs = start[x].sum(axis=1)
    error = 2 * (outputs - target) / outputs.size
    indices = x.reshape(-1)
    values = np.repeat(error, 3, axis=0)
    w, _, _ = ref.lazy_adam_step(start, np.zeros_like(start), np.zeros_like(start), 1, indices, values, 0.1)
    np.testing.assert_allclose(numpy(embedding.embeddings), w, rtol=1e-5, atol=1e-6)
    assert np.all(numpy(optimizer._velocities[0])[[0, 2, 3, 5, 6] + list(range(8, 20))] == 0)
