"""Exact softmax cross-entropy over a large vocabulary: chunked (no logits) vs materialized.

One step is the mean loss over N tokens and its gradient with respect to the hidden
states (N, d) and the kernel (d, V), compiled: TensorFlow under XLA
(`tf.function(jit_compile=True)`) and JAX under `jax.jit`. Compared:

    chunked       keras_losses.linear_cross_entropy(hidden, kernel, labels)
    materialized  SparseCategoricalCrossentropy(from_logits=True)(labels, hidden @ kernel)

at N = 2048, d = 512, V = 131,072 (one float32 logits matrix: 1 GiB) and 262,144.
Every configuration runs in its own fresh Python process, one at a time, which
reports:

    extra memory  what one step needs beyond its inputs and the gradients it returns.
                  TensorFlow: the peak of its CPU allocator during a step
                  (`tf.config.experimental.get_memory_info`, reset before the step)
                  minus what was allocated before it and minus the outputs. JAX: the
                  temporary buffers XLA's buffer assignment gives the compiled step
                  (`jax.jit(...).lower(...).compile().memory_analysis()`).
    time          median wall time of a step.

Goals: extra memory at most 10% of one float32 logits matrix; time at most 1.3x
the materialized step. The time ratio compares processes run one after another
(memory cannot be measured for two computations in one process), so on a busy
machine rerun it.

    python benchmarks/linear_cross_entropy.py [--quick] [--repeats N] [--vocabulary 131072 262144]

`--quick`: N = 256, d = 64, V = 16384, a smoke run (four processes).
"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

MIB = 2**20
BACKENDS = {"tensorflow": "xla", "jax": "jax.jit"}


def _step(backend, method, labels, num_classes, chunk_size):
    """A compiled `step(hidden, kernel) -> (loss, grad_hidden, grad_kernel)`."""
    import keras

    import keras_losses

    builtin = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def loss(hidden, kernel):
        if method == "chunked":
            values = keras_losses.linear_cross_entropy(hidden, kernel, labels, chunk_size=chunk_size)
            return keras.ops.mean(values)
        return builtin(labels, keras.ops.matmul(hidden, kernel))

    if backend == "jax":
        import jax

        jitted = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))

        def step(hidden, kernel):
            value, (grad_hidden, grad_kernel) = jitted(hidden, kernel)
            return value, grad_hidden, grad_kernel

        step.compiled = lambda hidden, kernel: jitted.lower(hidden, kernel).compile()
        return step
    import tensorflow as tf

    @tf.function(jit_compile=True)
    def step(hidden, kernel):
        with tf.GradientTape() as tape:
            tape.watch([hidden, kernel])
            value = loss(hidden, kernel)
        return (value, *tape.gradient(value, [hidden, kernel]))

    return step


def worker(backend, method, tokens, units, num_classes, repeats, chunk_size):
    """Runs in a fresh process: one configuration, one JSON line on stdout."""
    os.environ["KERAS_BACKEND"] = backend
    import gc

    import harness
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    hidden = keras.ops.convert_to_tensor(rng.normal(0, 1, (tokens, units)).astype("float32"))
    kernel = keras.ops.convert_to_tensor(rng.normal(0, 0.05, (units, num_classes)).astype("float32"))
    labels = keras.ops.convert_to_tensor(rng.integers(0, num_classes, tokens).astype("int32"))
    step = _step(backend, method, labels, num_classes, chunk_size)
    harness.block(step(hidden, kernel))  # compiles
    gc.collect()
    times = []
    if backend == "jax":
        # What XLA's buffer assignment reserves for the step beyond its inputs and outputs.
        extra = step.compiled(hidden, kernel).memory_analysis().temp_size_in_bytes
    else:
        import tensorflow as tf

        before = tf.config.experimental.get_memory_info("CPU:0")["current"]
        tf.config.experimental.reset_memory_stats("CPU:0")
        start = time.perf_counter()
        result = harness.block(step(hidden, kernel))
        times.append(time.perf_counter() - start)  # the measured step is timed too
        peak = tf.config.experimental.get_memory_info("CPU:0")["peak"]
        extra = peak - before - sum(int(np.prod(r.shape)) * 4 for r in result)
        del result
    while len(times) < repeats:
        start = time.perf_counter()
        harness.block(step(hidden, kernel))
        times.append(time.perf_counter() - start)
    times.sort()
    print(json.dumps({"seconds": times[len(times) // 2], "extra_bytes": extra}))


def run_configuration(backend, method, tokens, units, num_classes, repeats, chunk_size):
    env = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": os.pathsep.join(
            [os.path.dirname(os.path.dirname(os.path.abspath(__file__))), os.environ.get("PYTHONPATH", "")]
        ),
    }
    command = [
        sys.executable, os.path.abspath(__file__), "--worker", backend, method,
        str(tokens), str(units), str(num_classes), str(repeats), str(chunk_size or 0),
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        return {"error": (result.stderr.strip().splitlines() or ["no output"])[-1][:120]}
    return json.loads(lines[-1])


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        backend, method, *numbers = sys.argv[2:]
        tokens, units, num_classes, repeats, chunk_size = map(int, numbers)
        worker(backend, method, tokens, units, num_classes, repeats, chunk_size or None)
        return
    import harness

    args = harness.arguments(
        __doc__.splitlines()[0],
        vocabulary={"type": int, "nargs": "+", "default": [131072, 262144]},
        tokens={"type": int, "default": 2048},
        units={"type": int, "default": 512},
        chunk_size={"type": int, "default": None},
        backends={"nargs": "+", "default": list(BACKENDS)},
    )
    if args.quick:
        args.vocabulary, args.tokens, args.units, args.repeats = [16384], 256, 64, 2
    elif "--repeats" not in sys.argv:
        args.repeats = 3
    harness.header(
        f"linear cross-entropy, value and gradient (hidden, kernel): N={args.tokens}, d={args.units}; "
        "each configuration in a fresh process"
    )
    rows = []
    for backend in args.backends:
        for num_classes in args.vocabulary:
            logits = args.tokens * num_classes * 4
            measured = {}
            for method in ("materialized", "chunked"):
                measured[method] = run_configuration(
                    backend, method, args.tokens, args.units, num_classes, args.repeats, args.chunk_size
                )
                print(f"# {backend} V={num_classes} {method}: {json.dumps(measured[method])}", flush=True)
            for method, result in measured.items():
                row = {"backend": f"{backend} ({BACKENDS[backend]})", "V": num_classes, "method": method}
                if "error" in result:
                    row["seconds"] = result["error"]
                else:
                    row["seconds"] = result["seconds"]
                    row["extra MiB"] = result["extra_bytes"] / MIB
                    row["extra / logits"] = result["extra_bytes"] / logits
                    reference = measured["materialized"]
                    if "seconds" in reference:
                        row["time / materialized"] = result["seconds"] / reference["seconds"]
                rows.append(row)
    harness.table(rows, ["backend", "V", "method", "seconds", "time / materialized", "extra MiB", "extra / logits"])
    print("# goals: chunked extra / logits <= 0.10; chunked time / materialized <= 1.3")


if __name__ == "__main__":
    main()
