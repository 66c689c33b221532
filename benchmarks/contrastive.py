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

    python benchmarks/contrastive.py [--quick] [--repeats N]
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


def main():
    args = harness.arguments(
        __doc__.splitlines()[0],
        replicas_memory=dict(action="store_true", help="only the per-replica memory of across_replicas (TensorFlow)"),
    )
    if args.replicas_memory:
        return replica_memory(args.quick)
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
