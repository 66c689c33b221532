"""A small shared harness for the benchmarks: warm-up, medians, ratios, a table.

Every benchmark measures the things it compares side by side in one process, so the
ratios it prints hold on the machine that ran it; absolute times are only context.
Run a benchmark as a script: `python benchmarks/<name>.py` (add `--quick` for a
short smoke run, which CI uses to keep the scripts working).
"""

import argparse
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402


def arguments(description, **extra):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few repeats: a smoke run")
    parser.add_argument("--repeats", type=int, default=20, help="timed runs per measurement (median)")
    for name, kwargs in extra.items():
        parser.add_argument(f"--{name.replace('_', '-')}", **kwargs)
    args = parser.parse_args()
    if args.quick:
        args.repeats = 3
    return args


def block(result):
    """Waits until `result` (a tensor or a nested structure of them) is computed.

    TensorFlow and PyTorch run CPU work synchronously; JAX dispatches asynchronously,
    and accelerators need an explicit synchronisation.
    """
    for leaf in keras.tree.flatten(result):
        if hasattr(leaf, "block_until_ready"):
            leaf.block_until_ready()
    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()
    elif backend == "tensorflow":
        import tensorflow as tf

        if tf.config.list_logical_devices("GPU"):
            tf.test.experimental.sync_devices()
    return result


def value_and_gradient(fn):
    """`run(*args)`: `fn(*args)` and its gradient with respect to the last argument.

    TensorFlow only (a `tf.GradientTape`), for wrapping in `tf.function`.
    """
    import tensorflow as tf

    def run(*args):
        with tf.GradientTape() as tape:
            tape.watch(args[-1])
            value = fn(*args)
        return value, tape.gradient(value, args[-1])

    return run


def median_seconds(fn, repeats=20, warmup=3):
    """Median wall time of `fn()` over `repeats` runs, after `warmup` untimed runs."""
    return compare({"fn": fn}, repeats, warmup)["fn"]


def compare(fns, repeats=20, warmup=3):
    """Median wall time of each `fn()` in `fns` (a dict), timed round-robin.

    The functions take turns, run after run, so a slow spell of the machine falls
    on all of them alike and the ratios between them stay meaningful.

    Returns:
        A dict of the same keys: median seconds per call.
    """
    for fn in fns.values():
        for _ in range(warmup):
            block(fn())
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            block(fn())
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def header(title):
    print(f"# {title}")
    print(
        f"# keras {keras.__version__}, backend {keras.backend.backend()}, python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}"
    )


def table(rows, columns):
    """Prints dict rows as an aligned text table (Markdown-compatible)."""
    cells = [list(columns)] + [[_format(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    print("\n".join(lines))


def _format(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        if value >= 100:
            return f"{value:.0f}"
        return f"{value:.3g}"
    return str(value)
