"""One process of the multi-process JAX check (tests/distribute/test_multi_process_jax.py).

    python tests/distribute/multi_process_jax.py PORT INDEX OUT    # one of 2 processes, 2 CPU devices each
    python tests/distribute/multi_process_jax.py - 0 OUT           # the reference: one process, one device
    ... --die-after-initialize                                     # fault injection for the test

With a PORT, two such processes form a cluster on 127.0.0.1 through
`keras.distribution.initialize` (the coordinator is process 0 on PORT; CPU
collectives through gloo) and see 4 global devices. Every case below is trained with
`model.fit` for a few SGD steps on the same global batches, data-parallel over the 4
devices or model-parallel (a kernel sharded over them); the reference process trains
the same models on one device. Each process saves every case's final weights and
logged losses to OUT (.npz, keys `<case>/weight<i>`, `<case>/initial<i>` before
training, and `<case>/loss`) and prints one JSON line per case.

A case is a function decorated with `@case(...)`: it builds and compiles its model
(under whatever distribution is current) and returns it with the global training
data. Adding a loss family is one more such function (and its name in `CASES` of
the test); see `hierarchical_softmax` for one whose model takes the labels as an
input, `clip` for one whose loss depends on the whole batch, and
`hierarchical_softmax_model_parallel` for a kernel sharded with a layout map.
"""

import dataclasses
import json
import os
import sys
import threading
from typing import Callable

PORT, INDEX, OUT = sys.argv[1], int(sys.argv[2]), sys.argv[3]
DIE_AFTER_INITIALIZE = "--die-after-initialize" in sys.argv[4:]
NUM_PROCESSES = 1 if PORT == "-" else 2
LOCAL_DEVICES = 1 if PORT == "-" else 2

# A process left behind (its parent killed hard) ends itself after this many seconds.
DEADLINE = float(os.environ.get("MULTI_PROCESS_JAX_DEADLINE", "600"))
_watchdog = threading.Timer(DEADLINE, os._exit, args=(124,))
_watchdog.daemon = True  # never keeps a finished process alive
_watchdog.start()

os.environ["KERAS_BACKEND"] = "jax"
# XLA aborts a CPU collective that waits 40 s for its peers: on a loaded 2-core machine
# one simulated device can lag that long behind the other.
os.environ["XLA_FLAGS"] = (
    f"--xla_force_host_platform_device_count={LOCAL_DEVICES}"
    " --xla_cpu_collective_call_terminate_timeout_seconds=900"
)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import jax  # noqa: E402

jax.config.update("jax_cpu_collectives_implementation", "gloo")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_losses  # noqa: E402

GLOBAL_BATCH = 8  # 2 examples per device on 4 devices
BATCHES = 3  # global batches per epoch
EPOCHS = 2


@dataclasses.dataclass(frozen=True)
class Case:
    """A model trained the same way on one device and across the 2 processes.

    Attributes:
        name: the key of its results.
        build: `build(rng)` returns `(model, x, y, sample_weight)`: the compiled model
            and the global data (`BATCHES * GLOBAL_BATCH` examples; `x` an array or a
            list of arrays, `sample_weight` an array or `None`).
        parallel: `"data"` (`DataParallel` over the 4 devices) or `"model"`
            (`ModelParallel` with the case's `layout` over a `(1, 4)` mesh).
        feed: `"arrays"` (each process passes NumPy arrays holding its part of each
            global batch, with `auto_shard_dataset=False`) or `"dataset"` (each
            process passes the same `tf.data.Dataset` of global batches and Keras
            shards it).
        layout: for `parallel="model"`, `{variable path regex: axes}`.
    """

    name: str
    build: Callable
    parallel: str = "data"
    feed: str = "arrays"
    layout: dict = None


CASES = []


def case(name, **options):
    def register(build):
        CASES.append(Case(name, build, **options))
        return build

    return register


# -- the cases -----------------------------------------------------------------------


def _weights(rng, n):
    """Per-example weights that differ between the processes' halves of a batch."""
    return rng.uniform(0.1, 2.0, n).astype("float32")


@case("regression_hinge", feed="dataset")
def regression_hinge(rng):
    """MSLE, Hinge and the multiclass hinge (weighted mean) on three heads."""
    n = BATCHES * GLOBAL_BATCH
    inputs = keras.Input((3,))
    outputs = [
        keras.layers.Dense(2, activation="softplus", name="msle")(inputs),
        keras.layers.Dense(2, name="hinge")(inputs),
        keras.layers.Dense(4, name="multiclass")(inputs),
    ]
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=[
            keras_losses.MeanSquaredLogarithmicError(),
            keras_losses.Hinge(margin=0.5),
            keras_losses.SparseMulticlassHinge(reduction="mean_with_sample_weight"),
        ],
    )
    x = rng.normal(size=(n, 3)).astype("float32")
    y = [
        rng.uniform(0, 5, (n, 2)).astype("float32"),
        rng.integers(0, 2, (n, 2)).astype("float32"),
        rng.integers(0, 4, n).astype("int32"),
    ]
    return model, x, y, _weights(rng, n)


@case("focal_ignore_class")
def focal_ignore_class(rng):
    """Per-position focal loss with void positions, unevenly spread over the devices.

    Keras divides by the count of positions that are not ignored; the first half of
    every global batch (process 0's part) is mostly void, the second half hardly, so
    a per-device or per-process mean would differ from the global one.
    """
    n = BATCHES * GLOBAL_BATCH
    model = keras.Sequential([keras.Input((5, 3)), keras.layers.Dense(4)])
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=keras_losses.SparseCategoricalFocalLoss(gamma=2.0, from_logits=True, ignore_class=-1),
    )
    x = rng.normal(size=(n, 5, 3)).astype("float32")
    y = rng.integers(0, 4, (n, 5)).astype("int32")
    first_half = (np.arange(n) % GLOBAL_BATCH) < GLOBAL_BATCH // 2
    void = rng.uniform(size=(n, 5)) < np.where(first_half, 0.7, 0.1)[:, None]
    y[void] = -1
    return model, x, y, _weights(rng, n)


def _two_towers(rng, logits_layer, loss):
    n = BATCHES * GLOBAL_BATCH
    images, texts = keras.Input((3,)), keras.Input((4,))
    towers = [keras.layers.Dense(4)(images), keras.layers.Dense(4)(texts)]
    model = keras.Model([images, texts], logits_layer(towers))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss)
    latent = rng.normal(size=(n, 3)).astype("float32")
    texts = np.concatenate([latent[:, ::-1], rng.normal(size=(n, 1))], 1).astype("float32")
    ids = np.arange(n).astype("int64")
    return model, [latent, texts], ids, None


@case("clip")
def clip(rng):
    """CLIP: the logits of a global batch compare every image with every text of it."""
    return _two_towers(rng, keras_losses.ContrastiveLogits(), keras_losses.CLIPLoss())


@case("siglip")
def siglip(rng):
    """SigLIP with `across_replicas=True` (a tf.distribute setting; on JAX the plain form)."""
    layer = keras_losses.ContrastiveLogits(logit_scale=10.0, logit_bias=-10.0, across_replicas=True)
    return _two_towers(rng, layer, keras_losses.SigLIPLoss(across_replicas=True))


def _hierarchical(rng, tree, ignore_class):
    n = BATCHES * GLOBAL_BATCH
    features = keras.Input((3,))
    labels = keras.Input((), dtype="int32")
    hidden = keras.layers.Dense(4, activation="tanh")(features)
    output = keras_losses.HierarchicalSoftmax(tree, kernel_initializer="glorot_uniform", name="output")
    model = keras.Model([features, labels], output([hidden, labels]))
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=keras_losses.HierarchicalSoftmaxLoss(from_path_logits=True, ignore_class=ignore_class),
    )
    x = rng.normal(size=(n, 3)).astype("float32")
    y = rng.integers(0, tree.num_classes, n).astype("int32")
    if ignore_class is not None:
        y[rng.uniform(size=n) < 0.25] = ignore_class
    return model, [x, y], y, _weights(rng, n)


@case("hierarchical_softmax")
def hierarchical_softmax(rng):
    """The fast path (labels as an input) on a Huffman tree, with ignored examples."""
    return _hierarchical(rng, keras_losses.Tree.huffman([40, 10, 25, 5, 5, 15, 3, 8]), -1)


# The kernel (num_nodes, d) and the bias (num_nodes,) sharded over the node axis: each
# of the 4 devices holds 8 of the 32 nodes of a 33-class tree. Nothing else is sharded.
HIERARCHICAL_LAYOUT = {"output/kernel": ("model", None), "output/bias": ("model",)}


@case("hierarchical_softmax_model_parallel", parallel="model", layout=HIERARCHICAL_LAYOUT)
def hierarchical_softmax_model_parallel(rng):
    """The fast path with its kernel sharded over the nodes across both processes."""
    return _hierarchical(rng, keras_losses.Tree.balanced(33), None)


@case("crf")
def crf(rng):
    """A tagger (Embedding with mask_zero -> Dense -> CRF) on variable-length sequences.

    The mask travels from the Embedding through the Dense to the CRF on every device;
    process 0's half of each global batch holds short rows (0 to 2 tokens, an empty
    row first), process 1's long ones (3 to 6), so the devices run the forward
    recursion over very different masks.
    """
    n, steps, tags, vocabulary = BATCHES * GLOBAL_BATCH, 6, 4, 9
    tokens = keras.Input((None,), dtype="int32")
    hidden = keras.layers.Embedding(vocabulary, 4, mask_zero=True)(tokens)
    emissions = keras.layers.Dense(tags)(hidden)
    crf_layer = keras_losses.layers.CRF(tags, transitions_initializer="glorot_uniform", name="crf")
    model = keras.Model(tokens, crf_layer(emissions))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=keras_losses.CRFLoss())
    first_half = (np.arange(n) % GLOBAL_BATCH) < GLOBAL_BATCH // 2
    lengths = np.where(first_half, rng.integers(0, 3, n), rng.integers(3, steps + 1, n))
    lengths[0] = 0
    real = np.arange(steps)[None, :] < lengths[:, None]
    x = np.where(real, rng.integers(1, vocabulary, (n, steps)), 0).astype("int32")
    y = np.where(real, rng.integers(0, tags, (n, steps)), -1).astype("int32")
    return model, x, y, _weights(rng, n)


def _linear_cross_entropy(rng, units, chunk_size, ignore_class):
    n = BATCHES * GLOBAL_BATCH
    features = keras.Input((3,))
    labels = keras.Input((), dtype="int32")
    hidden = keras.layers.Dense(4, activation="tanh")(features)
    head = keras_losses.LinearCrossEntropyHead(units, chunk_size=chunk_size, name="head")
    model = keras.Model([features, labels], head([hidden, labels]))
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=keras_losses.LinearCrossEntropyLoss(ignore_class=ignore_class, z_loss=1e-3),
    )
    x = rng.normal(size=(n, 3)).astype("float32")
    y = rng.integers(0, units, n).astype("int32")
    if ignore_class is not None:
        y[rng.uniform(size=n) < 0.25] = ignore_class
    return model, [x, y], y, _weights(rng, n)


@case("linear_cross_entropy")
def linear_cross_entropy(rng):
    """The head trained through its statistics, in chunks of classes; class 0 ignored."""
    return _linear_cross_entropy(rng, units=11, chunk_size=4, ignore_class=0)


# The kernel (d, units) and the bias (units,) sharded over the class axis: each of
# the 4 devices holds 4 of the 16 classes; the head's chunks of 8 classes each span
# two devices. Nothing else is sharded.
LINEAR_CROSS_ENTROPY_LAYOUT = {"head/kernel": (None, "model"), "head/bias": ("model",)}


@case("linear_cross_entropy_model_parallel", parallel="model", layout=LINEAR_CROSS_ENTROPY_LAYOUT)
def linear_cross_entropy_model_parallel(rng):
    """The head with its kernel and bias sharded over the classes across both processes."""
    return _linear_cross_entropy(rng, units=16, chunk_size=8, ignore_class=None)


# -- running them ---------------------------------------------------------------------


def _map(fn, data):
    if data is None:
        return None
    if isinstance(data, (list, tuple)):
        return [_map(fn, item) for item in data]
    return fn(data)


def _local_part(data):
    """This process's part of every global batch: the same rows Keras's sharding of a
    tf.data.Dataset gives it (`rebatch(GLOBAL_BATCH // 2).shard(2, INDEX)`)."""
    local = GLOBAL_BATCH // NUM_PROCESSES

    def part(array):
        batches = array.reshape((BATCHES, GLOBAL_BATCH) + array.shape[1:])
        return batches[:, INDEX * local : (INDEX + 1) * local].reshape((-1,) + array.shape[1:])

    return _map(part, data)


def _distribution(spec):
    if NUM_PROCESSES == 1:
        return None
    devices = jax.devices()
    if spec.parallel == "data":
        return keras.distribution.DataParallel(
            devices=devices, auto_shard_dataset=spec.feed == "dataset"
        )
    mesh = keras.distribution.DeviceMesh((1, len(devices)), ["batch", "model"], devices)
    layout_map = keras.distribution.LayoutMap(mesh)
    for path, axes in spec.layout.items():
        layout_map[path] = axes
    # Each process feeds the whole global batch: the batch axis is not split.
    return keras.distribution.ModelParallel(
        layout_map=layout_map, batch_dim_name="batch", auto_shard_dataset=False
    )


def _fetch(model):
    """Every weight's whole value, also of a variable whose shards live on both processes.

    `model.get_weights()` cannot fetch such a variable in Keras 3.15 (see
    `_keras_get_weights`); `process_allgather` assembles it on every process.
    """
    from jax.experimental import multihost_utils

    return [
        np.asarray(v.value) if v.value.is_fully_addressable
        else np.asarray(multihost_utils.process_allgather(v.value, tiled=True))
        for v in model.weights
    ]


def _keras_get_weights(model):
    """What `model.get_weights()` does here: recorded so that a Keras fix shows."""
    try:
        model.get_weights()
    except Exception as error:
        return f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
    return "ok"


def _shards(variable):
    """The shapes of this process's shards of a variable."""
    return sorted({tuple(s.data.shape) for s in variable.value.addressable_shards})


def train(spec):
    keras.distribution.set_distribution(_distribution(spec))
    keras.utils.set_random_seed(0)
    model, x, y, sample_weight = spec.build(np.random.default_rng(0))
    initial = _fetch(model)
    if spec.feed == "dataset":
        import tensorflow as tf

        data = tuple(d if not isinstance(d, list) else tuple(d) for d in (x, y, sample_weight))
        dataset = tf.data.Dataset.from_tensor_slices(data if sample_weight is not None else data[:2])
        history = model.fit(dataset.batch(GLOBAL_BATCH), epochs=EPOCHS, shuffle=False, verbose=0)
    else:
        batch = GLOBAL_BATCH
        if spec.parallel == "data" and NUM_PROCESSES > 1:
            x, y, sample_weight = _local_part(x), _local_part(y), _local_part(sample_weight)
            batch = GLOBAL_BATCH // NUM_PROCESSES
        history = model.fit(
            x, y, sample_weight=sample_weight, batch_size=batch, epochs=EPOCHS, shuffle=False, verbose=0
        )
    result = {f"{spec.name}/weight{i}": w for i, w in enumerate(_fetch(model))}
    result.update({f"{spec.name}/initial{i}": w for i, w in enumerate(initial)})
    result[f"{spec.name}/loss"] = np.array(history.history["loss"])
    summary = {
        "case": spec.name,
        "weights": [v.path for v in model.weights],
        "steps": int(model.optimizer.iterations.numpy()),
    }
    if spec.parallel == "model":
        summary["shards"] = {v.path: _shards(v) for v in model.weights if v.path in spec.layout}
        summary["keras_get_weights"] = _keras_get_weights(model)
    keras.distribution.set_distribution(None)
    return result, summary


def _check_port():
    """Fail clearly: JAX's coordinator crashes (SIGSEGV) on a port that is taken."""
    import socket

    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", int(PORT)))
        except OSError as error:
            sys.exit(f"The coordinator port {PORT} on 127.0.0.1 is taken ({error}).")


def main():
    if NUM_PROCESSES > 1:
        if INDEX == 0:
            _check_port()
        keras.utils.set_random_seed(0)  # else initialize() agrees on a seed across processes
        keras.distribution.initialize(f"127.0.0.1:{PORT}", NUM_PROCESSES, INDEX)
        if DIE_AFTER_INITIALIZE and INDEX == 1:
            print("dying on purpose after initialize", file=sys.stderr, flush=True)
            os._exit(3)
    print(
        json.dumps(
            {
                "index": INDEX,
                "processes": jax.process_count(),
                "devices": len(jax.devices()),
                "local_devices": len(jax.local_devices()),
            }
        ),
        flush=True,
    )
    results = {}
    only = os.environ.get("MULTI_PROCESS_JAX_CASES")
    for spec in CASES:
        if only and spec.name not in only.split(","):
            continue
        arrays, summary = train(spec)
        results.update(arrays)
        print(json.dumps(summary), flush=True)
    np.savez(OUT, **results)
    print(json.dumps({"done": INDEX}), flush=True)


if __name__ == "__main__":
    main()
