"""One output-layer training step: hierarchical softmax (fast path) against a full softmax.

A step is the forward pass from fixed hidden features (batch 256, d = 256), the loss,
the gradient (with respect to the weights and to the hidden features, as backprop
into the rest of a network needs) and the optimizer update. Compared, all in one run:

    fast path    HierarchicalSoftmax(Tree.balanced(V))([hidden, labels])
                 + HierarchicalSoftmaxLoss(from_path_logits=True)
    full         Dense(V) + SparseCategoricalCrossentropy(from_logits=True)
    sampled      tf.nn.sampled_softmax_loss, 512 samples (V = 100k only; an
                 approximate loss, given for speed only)

at V = 10k, 100k and 1M, with SGD and with Adam, each in tf.function and under XLA.
Goals with SGD (best mode of each): the fast path at least 10x faster than the full
softmax at 10k, 50x at 100k, 300x at 1M; the fast step at most 1.6x slower at 1M
than at 10k; at 100k at least as fast as sampled softmax.

    python benchmarks/hierarchical_softmax.py --tf-modes [--quick] [--repeats N] [--plot FILE]

prints that table and saves a plot of step time against V (benchmarks/
hierarchical_softmax.png by default). `--quick` uses V = 1k, 3k and 10k and skips the plot.

Without `--tf-modes` (the default) it compares the backends: TensorFlow, JAX and
PyTorch, each in its own process, a `model.train_on_batch` step (Keras's compiled
training step: XLA on TensorFlow, `jax.jit` on JAX, eager on PyTorch) of

    fast SGD     HierarchicalSoftmax(Tree.balanced(V))([hidden, labels]) in a model
                 passed to keras_losses.optimizers.sparse_updates, SGD(0.1)
    fast lazy    the same with keras_losses.optimizers.LazyAdam(1e-3)
    fast Adam    the same with keras.optimizers.Adam (dense moments: for contrast)
    full SGD     Dense(V) + SparseCategoricalCrossentropy(from_logits=True), SGD(0.1)

at V = 10k and 1M (batch 256, d = 256). Goals per backend: the fast step with SGD
and with LazyAdam grows at most 1.6x from 10k to 1M; LazyAdam at most 3x SGD at
every V; at 1M the fast SGD step at least 300x faster than the full-softmax step.

    python benchmarks/hierarchical_softmax.py [--quick] [--repeats N] [--backends tensorflow,jax,torch]

`--quick` uses V = 1k and 10k.
"""

import gc
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
if "--worker" in sys.argv:  # a backend's own process: its backend before keras is imported
    os.environ["KERAS_BACKEND"] = sys.argv[sys.argv.index("--worker") + 1]
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import harness  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_losses  # noqa: E402

BATCH, UNITS, SAMPLES = 256, 256, 512
MODES = {"tf.function": False, "xla": True}
DEFAULT_PLOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hierarchical_softmax.png")


def _optimizer(name):
    return keras.optimizers.SGD(0.1) if name == "sgd" else keras.optimizers.Adam(1e-3)


def _step(loss_of, variables, optimizer, jit):
    """A compiled training step: loss, gradients (hidden and weights), update."""
    import tensorflow as tf

    optimizer.build(variables)

    @tf.function(jit_compile=jit)
    def step(hidden, labels):
        with tf.GradientTape() as tape:
            tape.watch(hidden)
            value = loss_of(hidden, labels)
        grads = tape.gradient(value, [hidden] + variables)
        optimizer.apply(grads[1:], variables)
        return value, grads[0]

    return step


def fast_path(num_classes, optimizer, jit):
    layer = keras_losses.HierarchicalSoftmax(keras_losses.Tree.balanced(num_classes))
    layer.build((None, UNITS))
    loss = keras_losses.HierarchicalSoftmaxLoss(from_path_logits=True)
    return _step(lambda h, y: loss(y, layer([h, y])), layer.trainable_variables, optimizer, jit)


def full_softmax(num_classes, optimizer, jit):
    dense = keras.layers.Dense(num_classes, kernel_initializer="zeros")
    dense.build((None, UNITS))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return _step(lambda h, y: loss(y, dense(h)), dense.trainable_variables, optimizer, jit)


def sampled_softmax(num_classes, optimizer, jit):
    import tensorflow as tf

    weights = keras.Variable(np.zeros((num_classes, UNITS), "float32"), name="weights")
    biases = keras.Variable(np.zeros(num_classes, "float32"), name="biases")

    def loss_of(hidden, labels):
        values = tf.nn.sampled_softmax_loss(
            weights.value, biases.value, tf.cast(labels[:, None], tf.int64), hidden,
            num_sampled=SAMPLES, num_classes=num_classes,
        )
        return tf.reduce_mean(values)

    return _step(loss_of, [weights, biases], optimizer, jit)


def measure(entries, repeats, warmup=2):
    """Times each entry `(method, optimizer, V, builder)` in each mode, round-robin.

    Returns:
        A dict `(method, optimizer, mode, V) -> median seconds`.
    """
    import tensorflow as tf

    steps = {}
    for method, optimizer, size, builder in entries:
        rng = np.random.default_rng(0)
        hidden = tf.constant(rng.normal(size=(BATCH, UNITS)).astype("float32"))
        labels = tf.constant(rng.integers(0, size, BATCH).astype("int32"))
        for mode, jit in MODES.items():
            if jit and method == "sampled":
                continue  # its candidate sampler has no XLA kernel
            step = builder(size, _optimizer(optimizer), jit)
            steps[(method, optimizer, mode, size)] = lambda s=step, h=hidden, y=labels: s(h, y)
    times = harness.compare(steps, repeats, warmup)
    del steps
    gc.collect()
    return times


def main():
    args = harness.arguments(
        __doc__.splitlines()[0],
        plot={"default": None, "help": f"where to save the plot (default {DEFAULT_PLOT}; none with --quick)"},
        tf_modes={"action": "store_true", "help": "the TensorFlow comparison of modes and sampled softmax"},
        backends={"default": "tensorflow,jax,torch", "help": "backends to compare, comma-separated"},
        worker={"default": None, "help": "internal: measure in this process, on this backend"},
        sizes={"default": None, "help": "internal: the sizes a worker measures, comma-separated"},
    )
    if args.worker:
        return backend_worker(args)
    if not args.tf_modes:
        return compare_backends(args)
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    sizes = (1000, 3000, 10_000) if args.quick else (10_000, 100_000, 1_000_000)
    sampled_at = sizes[1]
    plot = args.plot or (None if args.quick else DEFAULT_PLOT)
    harness.header(
        f"Output-layer training step, batch {BATCH}, d = {UNITS}: hierarchical softmax "
        "(fast path) vs full softmax vs sampled softmax"
    )
    devices = ", ".join(d.name for d in tf.config.list_logical_devices())
    print(f"# devices: {devices}")

    start = time.perf_counter()
    counts = np.maximum(1, (1e9 / np.arange(1, sizes[-1] + 1)).astype(np.int64))
    keras_losses.Tree.huffman(counts)
    print(f"# Tree.huffman over {sizes[-1]} Zipf counts built in {time.perf_counter() - start:.2f} s")

    # Steps of very different lengths are timed in separate groups: within a group,
    # round-robin keeps the ratios fair on a shared machine; a multi-second step is
    # timed fewer times than a millisecond one.
    times = {}  # (method, optimizer, mode, V) -> seconds
    middle = sizes[1]
    fast_group = [("fast path", "sgd", size, fast_path) for size in sizes]
    fast_group.append(("sampled", "sgd", middle, sampled_softmax))
    times.update(measure(fast_group, args.repeats))
    print("# fast path (SGD, every V) and sampled softmax: measured", flush=True)
    for size in sizes:
        slow_repeats = max(2, args.repeats // (1 if size <= 10_000 else 4 if size <= 100_000 else 10))
        times.update(measure([("fast path", "adam", size, fast_path)], slow_repeats))
        full = [("full", "sgd", size, full_softmax)]
        if size < 1_000_000:  # a dense V x d Adam step on top of a full softmax: skip at 1M
            full.append(("full", "adam", size, full_softmax))
        times.update(measure(full, slow_repeats))
        print(f"# V = {size}: Adam and full softmax measured", flush=True)

    rows, best = [], {}
    for (method, optimizer, mode, size), seconds in times.items():
        key = (method, optimizer, size)
        best[key] = min(best.get(key, np.inf), seconds)
    for size in sizes:
        for method in ("fast path", "full", "sampled"):
            for optimizer in ("sgd", "adam"):
                row_times = {m: times.get((method, optimizer, m, size)) for m in MODES}
                if all(t is None for t in row_times.values()):
                    continue
                fast_best = best[("fast path", "sgd", size)]
                rows.append(
                    {
                        "V": size,
                        "method": method,
                        "optimizer": optimizer,
                        **{f"{m} ms": None if t is None else t * 1e3 for m, t in row_times.items()},
                        "best / fast path SGD": best[(method, optimizer, size)] / fast_best,
                    }
                )
    harness.table(rows, list(rows[0]))

    small, large = sizes[0], sizes[-1]
    speedups = {size: best[("full", "sgd", size)] / best[("fast path", "sgd", size)] for size in sizes}
    growth = best[("fast path", "sgd", large)] / best[("fast path", "sgd", small)]
    versus_sampled = best[("sampled", "sgd", middle)] / best[("fast path", "sgd", middle)]
    goals = [
        (f"full / fast at V={small} (SGD)", speedups[small], ">=", 10),
        (f"full / fast at V={middle} (SGD)", speedups[middle], ">=", 50),
        (f"full / fast at V={large} (SGD)", speedups[large], ">=", 300),
        (f"fast at V={large} / fast at V={small} (SGD)", growth, "<=", 1.6),
        (f"sampled / fast at V={middle} (SGD)", versus_sampled, ">=", 1),
    ]
    for mode in MODES:
        winner = sum(
            times[("fast path", "sgd", mode, s)] <= min(times[("fast path", "sgd", m, s)] for m in MODES)
            for s in sizes
        )
        print(f"# fast path with SGD: {mode} is the fastest mode at {winner} of {len(sizes)} sizes")
    print("goals (quick sizes are smaller than the goals' 10k / 100k / 1M):" if args.quick else "goals:")
    for name, value, op, target in goals:
        met = value >= target if op == ">=" else value <= target
        print(f"  {name}: {value:.3g} ({op} {target}) {'met' if met else 'NOT met'}")

    if plot:
        _plot(times, sizes, plot)
        print(f"# plot saved to {plot}")


# -- the backend axis -----------------------------------------------------------------

FAST = {"fast SGD": "sgd", "fast lazy": "lazy", "fast Adam": "adam"}


def _train_step(num_classes, method):
    """`run()`: one `train_on_batch` of a compiled model, on fixed data."""
    backend = keras.backend.backend()
    hidden = keras.Input((UNITS,))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, UNITS)).astype("float32")
    y = rng.integers(0, num_classes, BATCH).astype("int32")
    if method in FAST:
        labels = keras.Input((), dtype="int32")
        layer = keras_losses.HierarchicalSoftmax(keras_losses.Tree.balanced(num_classes))
        model = keras_losses.optimizers.sparse_updates(keras.Model([hidden, labels], layer([hidden, labels])))
        optimizer = {
            "sgd": lambda: keras.optimizers.SGD(0.1),
            "lazy": lambda: keras_losses.optimizers.LazyAdam(1e-3),
            "adam": lambda: keras.optimizers.Adam(1e-3),
        }[FAST[method]]()
        loss = keras_losses.HierarchicalSoftmaxLoss(from_path_logits=True)
        inputs = [x, y]
    else:
        model = keras.Model(hidden, keras.layers.Dense(num_classes, kernel_initializer="zeros")(hidden))
        optimizer = keras.optimizers.SGD(0.1)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        inputs = x
    model.compile(optimizer, loss, jit_compile=backend != "torch")
    return lambda: model.train_on_batch(inputs, y)


def backend_worker(args):
    """Measures every method at each size on this process's backend; prints JSON lines."""
    sizes = [int(v) for v in args.sizes.split(",")]
    fast = {(method, size): _train_step(size, method) for method in ("fast SGD", "fast lazy") for size in sizes}
    times = harness.compare(fast, args.repeats, warmup=3)
    for size in sizes:  # steps of O(V * d): each alone, fewer repeats at large V
        slow_repeats = max(2, args.repeats // (1 if size <= 10_000 else 10))
        for method in ("fast Adam", "full SGD"):
            step = _train_step(size, method)
            times[(method, size)] = harness.compare({"step": step}, slow_repeats, warmup=2)["step"]
            del step
            gc.collect()
    for (method, size), seconds in times.items():
        print(json.dumps({"backend": keras.backend.backend(), "method": method, "V": size, "ms": seconds * 1e3}))


def compare_backends(args):
    sizes = (1000, 10_000) if args.quick else (10_000, 1_000_000)
    harness.header(
        f"model.train_on_batch, batch {BATCH}, d = {UNITS}: hierarchical softmax fast path "
        "(sparse_updates) with SGD / LazyAdam / Adam vs a full softmax, one process per backend"
    )
    results = {}
    for backend in args.backends.split(","):
        command = [
            sys.executable, os.path.abspath(__file__), "--worker", backend, "--repeats", str(args.repeats),
            "--sizes", ",".join(str(v) for v in sizes),
        ]
        done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "KERAS_BACKEND": backend})
        lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode or not lines:
            print(f"# {backend}: failed\n{done.stderr[-2000:]}")
            continue
        for line in lines:
            results[(backend, line["method"], line["V"])] = line["ms"]
        print(f"# {backend}: measured", flush=True)
    rows, goals = [], []
    small, large = sizes[0], sizes[-1]
    for backend in args.backends.split(","):
        if (backend, "fast SGD", small) not in results:
            continue
        get = lambda method, size: results[(backend, method, size)]  # noqa: E731
        for size in sizes:
            rows.append(
                {
                    "backend": backend,
                    "V": size,
                    "fast SGD ms": get("fast SGD", size),
                    "fast LazyAdam ms": get("fast lazy", size),
                    "fast Adam ms": get("fast Adam", size),
                    "full SGD ms": get("full SGD", size),
                    "LazyAdam / SGD": get("fast lazy", size) / get("fast SGD", size),
                    "full / fast SGD": get("full SGD", size) / get("fast SGD", size),
                }
            )
        goals += [
            (f"{backend}: fast SGD at V={large} / at V={small}", get("fast SGD", large) / get("fast SGD", small), "<=", 1.6),
            (f"{backend}: fast LazyAdam at V={large} / at V={small}", get("fast lazy", large) / get("fast lazy", small), "<=", 1.6),
            *[
                (f"{backend}: LazyAdam / SGD at V={size}", get("fast lazy", size) / get("fast SGD", size), "<=", 3)
                for size in sizes
            ],
            (f"{backend}: full / fast SGD at V={large}", get("full SGD", large) / get("fast SGD", large), ">=", 300),
        ]
    if rows:
        harness.table(rows, list(rows[0]))
    print("goals (quick sizes are smaller than the goals' 10k / 1M):" if args.quick else "goals:")
    for name, value, op, target in goals:
        met = value >= target if op == ">=" else value <= target
        print(f"  {name}: {value:.3g} ({op} {target}) {'met' if met else 'NOT met'}")


def _plot(times, sizes, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.5, 4.5))
    styles = {
        ("fast path", "sgd"): ("tab:green", "o-"),
        ("fast path", "adam"): ("tab:green", "s--"),
        ("full", "sgd"): ("tab:red", "o-"),
        ("full", "adam"): ("tab:red", "s--"),
        ("sampled", "sgd"): ("tab:blue", "D"),
    }
    for (method, optimizer), (color, style) in styles.items():
        points = [
            (size, min(t for m in MODES if (t := times.get((method, optimizer, m, size)))) * 1e3)
            for size in sizes
            if (method, optimizer, "tf.function", size) in times
        ]
        if points:
            xs, ys = zip(*points)
            label = f"{method}, {optimizer.upper() if optimizer == 'sgd' else 'Adam'}"
            axes.plot(xs, ys, style, color=color, label=label, markersize=6)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("number of classes V")
    axes.set_ylabel("training step (ms, best of tf.function / XLA)")
    axes.set_title(f"Output layer step, batch {BATCH}, d = {UNITS}")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
