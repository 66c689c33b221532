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

    python benchmarks/hierarchical_softmax.py [--quick] [--repeats N] [--plot FILE]

Prints the table and saves a plot of step time against V (benchmarks/
hierarchical_softmax.png by default). `--quick` uses V = 1k, 3k and 10k and skips the plot.
"""

import gc
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
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
    )
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
