"""Forward and backward of CLIPLoss and SigLIPLoss against the Keras built-ins.

CLIP's loss from Keras built-ins is the mean of two sparse cross-entropies, over
the rows and over the columns of the logit matrix, with `arange(n)` targets. Ours
also takes integer pair ids (compared exactly, repeats allowed), so it builds an
`(n, n)` match matrix the built-in form does not need. SigLIP's built-in form is
`n * BinaryCrossentropy(from_logits=True)` against the identity. Each pair is timed
side by side (round-robin), value and gradient with respect to the logits, in
each compiled mode of the backend (TensorFlow: tf.function and XLA; JAX: jax.jit;
PyTorch: eager), at n = 1024 and 4096. Goal: ours at most 1.1x the built-in's
time.

Peak memory, per backend (KERAS_BACKEND, TensorFlow by default):

* tensorflow: the allocator's peak during one step above what was allocated before
  it (the inputs), from `tf.config.experimental.get_memory_info`; on the CPU this
  needs the BFC allocator, which this script switches on with
  `TF_CPU_ALLOCATOR_USE_BFC=true` (TF's default CPU allocator keeps no statistics).
* jax: XLA's compiled plan of the step, scratch plus output buffers
  (`memory_analysis()`), the same measure on CPU and GPU.
* torch: `torch.cuda.max_memory_allocated` above the inputs on a GPU; none on CPU.

The tiled forms (`--tiled`): value and gradient with respect to both embeddings,
the scale and the bias, of `CLIPLoss(tiled=True)` / `SigLIPLoss(tiled=True)` on
the packed embeddings against the dense losses on the materialised logits, at
n = 4096 and 16384, d = 512, each n in a fresh process (TensorFlow under XLA, or
JAX under jit with KERAS_BACKEND=jax). Goals at n = 16384: the tiled loss's extra
peak memory at most 64 MiB (one (n, n) float32 matrix is 1 GiB) and its time at
most 1.3x the dense loss's. It ends with a projection to n = 65,536 on 8 replicas
from the measured costs.

    python benchmarks/contrastive.py [--quick] [--repeats N] [--tiled]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")

import harness  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_losses  # noqa: E402


class TwoSparseCrossEntropies:
    """CLIP from built-ins: (SCCE(arange, L) + SCCE(arange, L.T)) / 2, batch mean."""

    def __init__(self):
        self.cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def __call__(self, y_true, y_pred):
        targets = keras.ops.arange(keras.ops.shape(y_pred)[0])
        return 0.5 * (
            self.cross_entropy(targets, y_pred)
            + self.cross_entropy(targets, keras.ops.transpose(y_pred))
        )


class RowBinaryCrossEntropy:
    """SigLIP from built-ins: n * BinaryCrossentropy(from_logits=True)(eye(n), L)."""

    def __init__(self):
        self.cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)

    def __call__(self, y_true, y_pred):
        n = keras.ops.shape(y_pred)[0]
        return keras.ops.cast(n, "float32") * self.cross_entropy(keras.ops.eye(n), y_pred)


def _tensorflow_steps(loss, device):
    """{mode: step(ids, logits) -> (value, gradient)} and a peak-memory probe."""
    import tensorflow as tf

    def step(ids, logits):
        with tf.GradientTape() as tape:
            tape.watch(logits)
            value = loss(ids, logits)
        return value, tape.gradient(value, logits)

    def peak_mib(fn, args):
        try:
            tf.config.experimental.reset_memory_stats(device)
            before = tf.config.experimental.get_memory_info(device)["current"]
            harness.block(fn(*args))
            return (tf.config.experimental.get_memory_info(device)["peak"] - before) / 2**20
        except ValueError:  # no allocator statistics on this device
            return None

    steps = {mode: tf.function(step, jit_compile=jit) for mode, jit in (("tf.function", False), ("xla", True))}
    return steps, peak_mib


def _jax_steps(loss, device):
    import jax

    def value(logits, ids):
        return loss(ids, logits)

    step = jax.jit(lambda ids, logits: jax.value_and_grad(value)(logits, ids))

    def peak_mib(fn, args):
        # XLA's own plan: the scratch and output buffers of the compiled step.
        analysis = jax.jit(fn).lower(*args).compile().memory_analysis()
        if analysis is None:
            return None
        return (analysis.temp_size_in_bytes + analysis.output_size_in_bytes) / 2**20

    return {"jax.jit": step}, peak_mib


def _torch_steps(loss, device):
    import torch

    def step(ids, logits):
        logits = logits.detach().requires_grad_(True)
        value = loss(ids, logits)
        (grad,) = torch.autograd.grad(value, logits)
        return value.detach(), grad

    def peak_mib(fn, args):
        if not torch.cuda.is_available():
            return None
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        harness.block(fn(*args))
        return (torch.cuda.max_memory_allocated() - before) / 2**20

    return {"eager": step}, peak_mib


def _device():
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return "GPU:0" if tf.config.list_logical_devices("GPU") else "CPU:0"
    if backend == "jax":
        import jax

        return str(jax.devices()[0])
    import torch

    return "cuda:0" if torch.cuda.is_available() else "cpu"


def replica_memory(quick):
    """Peak memory of one replica's step: global negatives, two ways (TensorFlow).

    `across_replicas=True` (ours): this replica's `(n_local, 2 * n_global)` logits
    (open_clip's local loss). The alternative: the full `(n_global, n_global)`
    matrix and the global loss on every replica. Both are one replica's
    computation (value and gradients with respect to the local and the gathered
    embeddings) without the collective itself, whose buffers (the gathered
    embeddings) are inputs here and the same for both. Compiled with XLA, whose
    buffer plan does not vary between runs as graph-mode scheduling does.
    """
    import tensorflow as tf

    from keras_losses.losses import contrastive

    n_global, dim = (512, 64) if quick else (4096, 256)
    rng = np.random.default_rng(0)
    everything = []  # the gathered (unit) image and text embeddings
    for _ in range(2):
        x = rng.normal(size=(n_global, dim))
        everything.append(tf.constant((x / np.linalg.norm(x, axis=1, keepdims=True)).astype("float32")))
    ids = np.arange(n_global)
    scale = 1 / 0.07

    @tf.function(jit_compile=True)  # XLA's buffer plan is the same from run to run
    def local_rows(a, b, all_a, all_b, matches):
        with tf.GradientTape() as tape:
            tape.watch([a, b, all_a, all_b])
            logits = scale * tf.concat([a @ tf.transpose(all_b), b @ tf.transpose(all_a)], axis=1)
            loss = tf.reduce_mean(contrastive._clip_from_matches(matches, logits, True))
        return loss, tape.gradient(loss, [a, b, all_a, all_b])

    @tf.function(jit_compile=True)
    def full_matrix(all_a, all_b, matches):
        with tf.GradientTape() as tape:
            tape.watch([all_a, all_b])
            logits = scale * all_a @ tf.transpose(all_b)
            loss = tf.reduce_mean(contrastive._clip_from_matches(matches, logits, False))
        return loss, tape.gradient(loss, [all_a, all_b])

    def peak(fn, *args):
        harness.block(fn(*args))  # trace first
        tf.config.experimental.reset_memory_stats("CPU:0")
        before = tf.config.experimental.get_memory_info("CPU:0")["current"]
        harness.block(fn(*args))
        return (tf.config.experimental.get_memory_info("CPU:0")["peak"] - before) / 2**20

    harness.header(f"One replica's CLIP step with global negatives, d = {dim}, float32, XLA, CPU allocator peak")
    full_matches = tf.constant(np.equal.outer(ids, ids).astype("float32"))
    full = peak(full_matrix, *everything, full_matches)
    rows = []
    for replicas in (2, 4, 8):
        n_local = n_global // replicas
        local = [x[:n_local] for x in everything]
        matches = tf.constant(np.equal.outer(ids[:n_local], ids).astype("float32"))
        ours = peak(local_rows, *local, *everything, matches)
        rows.append(
            {
                "replicas": replicas,
                "n_global": n_global,
                "n_local": n_local,
                "ours logits": n_local * 2 * n_global,
                "full logits": n_global**2,
                "ours peak MiB": ours,
                "full peak MiB": full,
                "ours / full": ours / full,
            }
        )
    harness.table(rows, list(rows[0]))


def _tiled_steps(kind, n, dim, tile_size):
    """{form: step()} for the dense and the tiled loss of `kind`, and a memory probe.

    Each step takes the embeddings `a`, `b` (unit rows), the scale and the bias and
    returns the loss and its gradients with respect to all four: the dense form
    through the `(n, n)` logits, the tiled form through the packed input.
    """
    from keras import ops

    loss_class = keras_losses.CLIPLoss if kind == "CLIP" else keras_losses.SigLIPLoss
    dense_loss, tiled_loss = loss_class(), loss_class(tiled=True, tile_size=tile_size)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, n, dim)).astype("float32")
    x /= np.linalg.norm(x, axis=2, keepdims=True)
    ids = np.arange(n, dtype="int32")

    def dense(a, b, scale, bias):
        return dense_loss(ids, scale * ops.matmul(a, ops.transpose(b)) + bias)

    def tiled(a, b, scale, bias):
        column = ops.ones((n, 1), "float32")
        return tiled_loss(ids, ops.concatenate([a, b, column * scale, column * bias], axis=1))

    args = [x[0], x[1], np.float32(10.0), np.float32(-5.0)]
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        def compiled(fn):
            @tf.function(jit_compile=True)
            def step(a, b, scale, bias):
                with tf.GradientTape() as tape:
                    tape.watch([a, b, scale, bias])
                    value = fn(a, b, scale, bias)
                return value, tape.gradient(value, [a, b, scale, bias])

            return step

        args = [tf.constant(v) for v in args]

        def peak_mib(step):
            harness.block(step(*args))
            tf.config.experimental.reset_memory_stats("CPU:0")
            before = tf.config.experimental.get_memory_info("CPU:0")["current"]
            harness.block(step(*args))
            return (tf.config.experimental.get_memory_info("CPU:0")["peak"] - before) / 2**20

    elif backend == "jax":
        import jax

        def compiled(fn):
            return jax.jit(jax.value_and_grad(fn, argnums=(0, 1, 2, 3)))

        args = [jax.numpy.asarray(v) for v in args]

        def peak_mib(step):
            analysis = step.lower(*args).compile().memory_analysis()
            return (analysis.temp_size_in_bytes + analysis.output_size_in_bytes) / 2**20

    else:
        raise SystemExit(f"--tiled measures TensorFlow and JAX (their compiled peak memory); not {backend}.")
    steps = {"dense": compiled(dense), "tiled": compiled(tiled)}
    return steps, args, peak_mib


def tiled_one(n, dim, tile_size, repeats):
    """Times and peaks of both forms of both losses at one n; one JSON line."""
    import json

    rows = []
    for kind in ("CLIP", "SigLIP"):
        steps, args, peak_mib = _tiled_steps(kind, n, dim, tile_size)
        peaks = {form: peak_mib(step) for form, step in steps.items()}
        times = harness.compare({form: (lambda s=step: s(*args)) for form, step in steps.items()}, repeats, warmup=1)
        rows.append({"kind": kind, "n": n, "times": times, "peaks": peaks})
    print(json.dumps(rows))


def tiled(args):
    """Each n in a fresh process (peak memory per configuration), then the table."""
    import json
    import subprocess

    dim, tile_size = (64, 128) if args.quick else (512, 256)
    sizes = (512, 1024) if args.quick else (4096, 16384)
    repeats = min(args.repeats, 3) if not args.quick else args.repeats
    rows = []
    for n in sizes:
        command = [sys.executable, __file__, "--tiled-one", f"{n},{dim},{tile_size},{repeats}"]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode:
            sys.exit(f"{command} failed:\n{result.stderr[-3000:]}")
        output = result.stdout
        for row in json.loads(output.strip().splitlines()[-1]):
            matrix_mib = row["n"] ** 2 * 4 / 2**20
            rows.append(
                {
                    "loss": row["kind"],
                    "n": row["n"],
                    "dense ms": row["times"]["dense"] * 1e3,
                    "tiled ms": row["times"]["tiled"] * 1e3,
                    "tiled / dense": row["times"]["tiled"] / row["times"]["dense"],
                    "dense peak MiB": row["peaks"]["dense"],
                    "tiled peak MiB": row["peaks"]["tiled"],
                    "(n, n) matrix MiB": matrix_mib,
                }
            )
    mode = "XLA" if keras.backend.backend() == "tensorflow" else "jax.jit"
    harness.header(
        f"Tiled vs dense contrastive losses, value and gradient w.r.t. embeddings, scale and bias; "
        f"d = {dim}, tile_size = {tile_size}, {keras.backend.backend()} {mode}"
    )
    harness.table(rows, list(rows[0]))
    embeddings_mib = 2 * sizes[-1] * dim * 4 / 2**20
    print(
        f"peak includes the step's outputs: the gradients of both embeddings, {embeddings_mib:.0f} MiB "
        f"at n = {sizes[-1]} (the same for both forms); goals at n = {sizes[-1]}: tiled peak minus that "
        "<= 64 MiB, tiled / dense <= 1.3"
    )
    # Projection: one replica of 8 at n = 65,536 holds its 8,192 rows against the
    # 65,536 gathered columns in two row passes (image-to-text, text-to-image), the
    # same work as 2 * 8192 * 65536 / n**2 single-device tiled steps at n.
    largest = [r for r in rows if r["n"] == sizes[-1] and r["loss"] == "CLIP"][0]
    n, n_global, replicas = sizes[-1], 65536, 8
    n_local = n_global // replicas
    work = 2 * n_local * n_global / n**2
    gathered_mib = 2 * 2 * n_global * dim * 4 / 2**20  # both embeddings and their gradients
    tile_mib = 4 * n_local * tile_size * 4 / 2**20  # about four (n_local, tile) temporaries
    print(
        f"projection (not measured), CLIP at n = {n_global} on {replicas} replicas, d = {dim}: "
        f"{work:.1f} x the n = {n} step = {work * largest['tiled ms'] / 1e3:.1f} s per step on this CPU; "
        f"per replica about {gathered_mib:.0f} MiB of gathered embeddings and their gradients plus "
        f"{tile_mib:.0f} MiB of tiles, where the dense form would hold a "
        f"({n_local}, {2 * n_global}) block of {n_local * 2 * n_global * 4 / 2**30:.1f} GiB"
    )


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--tiled-one":
        n, dim, tile_size, repeats = (int(v) for v in sys.argv[2].split(","))
        return tiled_one(n, dim, tile_size, repeats)
    args = harness.arguments(
        __doc__.splitlines()[0],
        replicas_memory=dict(action="store_true", help="only the per-replica memory of across_replicas (TensorFlow)"),
        tiled=dict(action="store_true", help="only the tiled forms against the dense ones, each n in its own process"),
    )
    if args.replicas_memory:
        return replica_memory(args.quick)
    if args.tiled:
        return tiled(args)
    backend = keras.backend.backend()
    builders = {"tensorflow": _tensorflow_steps, "jax": _jax_steps, "torch": _torch_steps}[backend]
    device = _device()
    sizes = (128, 256) if args.quick else (1024, 4096)
    pairs = {
        "CLIPLoss": (keras_losses.CLIPLoss(), TwoSparseCrossEntropies()),
        "SigLIPLoss": (keras_losses.SigLIPLoss(), RowBinaryCrossEntropy()),
    }

    harness.header(f"Contrastive losses, value and gradient of (n, n) float32 logits on {device}")
    rows = []
    rng = np.random.default_rng(0)
    for n in sizes:
        keras_device = "gpu:0" if "gpu" in device.lower() or "cuda" in device.lower() else "cpu:0"
        with keras.device(keras_device):
            logits = keras.ops.convert_to_tensor(rng.normal(0.0, 3.0, (n, n)).astype("float32"))
            ids = keras.ops.convert_to_tensor((2**24 + rng.permutation(n)).astype("int32"))
            for name, (ours, builtin) in pairs.items():
                ours_steps, peak_mib = builders(ours, device)
                theirs_steps, _ = builders(builtin, device)
                for mode in ours_steps:
                    ours_fn, theirs_fn = ours_steps[mode], theirs_steps[mode]
                    times = harness.compare(
                        {
                            "ours": lambda: ours_fn(ids, logits),
                            "built-in": lambda: theirs_fn(ids, logits),
                        },
                        args.repeats,
                    )
                    rows.append(
                        {
                            "loss": name,
                            "n": n,
                            "mode": mode,
                            "ours ms": times["ours"] * 1e3,
                            "built-in ms": times["built-in"] * 1e3,
                            "ours / built-in": times["ours"] / times["built-in"],
                            "ours peak MiB": peak_mib(ours_fn, (ids, logits)),
                            "built-in peak MiB": peak_mib(theirs_fn, (ids, logits)),
                        }
                    )
    harness.table(
        rows,
        ["loss", "n", "mode", "ours ms", "built-in ms", "ours / built-in", "ours peak MiB", "built-in peak MiB"],
    )
    print(f"(one (n, n) float32 matrix: {sizes[-1] ** 2 * 4 / 2**20:.1f} MiB at n = {sizes[-1]})")
    print("goal: ours / built-in <= 1.1 for CLIPLoss in each mode")


if __name__ == "__main__":
    main()
