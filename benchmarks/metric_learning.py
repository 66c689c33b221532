"""Semi-hard triplet loss: ours (sort + binary search) against TFA's algorithm.

Value and gradient with respect to the embeddings `(n, 128)`, float32, at
n = 256, 1024 and 4096 (8 examples per class), side by side in one process, in each
compiled mode of the backend (TensorFlow: tf.function and XLA; JAX: jax.jit;
PyTorch: eager).

"TFA's algorithm" is a straightforward `keras.ops` transcription of
`tfa.losses.triplet_semihard_loss`: it tiles the distance matrix `n` times and
compares every (anchor, positive) pair with every negative at once, an `(n^2, n)`
tensor, so its memory grows as n^3 (about 4 n^3 bytes per such tensor: 1 GiB at
n = 645, 256 GiB at n = 4096). It runs only where that fits in `--tfa-max-gib`
(default 2 GiB of such tensors); elsewhere the table says how much it would need.
Ours sorts each anchor's negative distances once and places every positive among
them by binary search: O(n^2 log n) time and O(n^2) memory. Goal: at most 1x TFA's
time, and memory linear in n^2.

Peak memory (TensorFlow only): the CPU allocator's peak during one step above the
inputs (`TF_CPU_ALLOCATOR_USE_BFC=true`, set here), as in benchmarks/contrastive.py.

    python benchmarks/metric_learning.py [--quick] [--repeats N] [--tfa-max-gib G]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")

import harness  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
from contrastive import _device  # noqa: E402
from contrastive import _jax_steps  # noqa: E402
from contrastive import _tensorflow_steps  # noqa: E402
from contrastive import _torch_steps  # noqa: E402
from keras import ops  # noqa: E402

import keras_losses  # noqa: E402

DIM = 128
PER_CLASS = 8


def tfa_semi_hard(labels, embeddings, margin=1.0):
    """TFA's semi-hard triplet loss, transcribed step by step (the batch mean)."""
    x = ops.cast(embeddings, "float32")
    n = ops.shape(x)[0]
    # Pairwise Euclidean distances, zero diagonal (TFA's pairwise_distance).
    squared = (
        ops.sum(ops.square(x), axis=1, keepdims=True)
        + ops.expand_dims(ops.sum(ops.square(x), axis=1), 0)
        - 2.0 * ops.matmul(x, ops.transpose(x))
    )
    squared = ops.maximum(squared, 0.0)
    zero = ops.less_equal(squared, 0.0)
    d = ops.sqrt(squared + ops.cast(zero, "float32") * 1e-16) * ops.cast(ops.logical_not(zero), "float32")
    d = d * (1.0 - ops.eye(n))
    labels = ops.reshape(labels, (-1, 1))
    adjacency = ops.equal(labels, ops.transpose(labels))
    adjacency_not = ops.logical_not(adjacency)
    # Every (anchor, positive) row against every negative: the (n^2, n) tensors.
    d_tile = ops.tile(d, (n, 1))
    mask = ops.logical_and(
        ops.tile(adjacency_not, (n, 1)), ops.greater(d_tile, ops.reshape(ops.transpose(d), (-1, 1)))
    )
    mask_final = ops.reshape(ops.any(mask, axis=1), (n, n))
    mask_final = ops.transpose(mask_final)
    mask_float = ops.cast(mask, "float32")
    row_max = ops.max(d_tile, axis=1, keepdims=True)
    outside = ops.min((d_tile - row_max) * mask_float, axis=1, keepdims=True) + row_max
    outside = ops.transpose(ops.reshape(outside, (n, n)))
    adjacency_not_float = ops.cast(adjacency_not, "float32")
    row_min = ops.min(d, axis=1, keepdims=True)
    inside = ops.max((d - row_min) * adjacency_not_float, axis=1, keepdims=True) + row_min
    inside = ops.tile(inside, (1, n))
    negatives = ops.where(mask_final, outside, inside)
    loss = margin + d - negatives
    positives = ops.cast(adjacency, "float32") - ops.eye(n)
    return ops.sum(ops.maximum(loss * positives, 0.0)) / ops.sum(positives)


def ours(labels, embeddings):
    return ops.mean(keras_losses.triplet_loss(labels, embeddings))


def tfa_tensor_gib(n):
    return 4.0 * n**3 / 2**30


def main():
    args = harness.arguments(
        __doc__.splitlines()[0],
        tfa_max_gib=dict(type=float, default=2.0, help="run TFA's algorithm only where one (n^2, n) float tensor is at most this"),
    )
    backend = keras.backend.backend()
    builders = {"tensorflow": _tensorflow_steps, "jax": _jax_steps, "torch": _torch_steps}[backend]
    device = _device()
    sizes = (64, 128) if args.quick else (256, 512, 1024, 4096)
    keras_device = "gpu:0" if "gpu" in device.lower() or "cuda" in device.lower() else "cpu:0"
    harness.header(
        f"Semi-hard triplet loss, value and gradient of (n, {DIM}) float32 embeddings on {device}"
    )
    rows = []
    rng = np.random.default_rng(0)
    for n in sizes:
        with keras.device(keras_device):
            labels = ops.convert_to_tensor(np.repeat(np.arange(n // PER_CLASS), PER_CLASS).astype("int32"))
            x = rng.normal(size=(n, DIM))
            x /= np.linalg.norm(x, axis=1, keepdims=True)
            embeddings = ops.convert_to_tensor(x.astype("float32"))
            # Both compute the same loss: checked before timing.
            ours_steps, peak_mib = builders(ours, device)
            run_tfa = tfa_tensor_gib(n) <= args.tfa_max_gib
            tfa_steps, _ = builders(tfa_semi_hard, device)
            for mode in ours_steps:
                fns = {"ours": (lambda f: lambda: f(labels, embeddings))(ours_steps[mode])}
                if run_tfa:
                    fns["tfa"] = (lambda f: lambda: f(labels, embeddings))(tfa_steps[mode])
                    a, b = harness.block(fns["ours"]())[0], harness.block(fns["tfa"]())[0]
                    np.testing.assert_allclose(float(a), float(b), rtol=1e-4)
                times = harness.compare(fns, args.repeats, warmup=2)
                row = {
                    "n": n,
                    "mode": mode,
                    "ours ms": 1e3 * times["ours"],
                    "TFA ms": 1e3 * times["tfa"] if run_tfa else None,
                    "ours / TFA": times["ours"] / times["tfa"] if run_tfa else None,
                    "ours peak MiB": peak_mib(ours_steps[mode], (labels, embeddings)),
                    "TFA peak MiB": peak_mib(tfa_steps[mode], (labels, embeddings)) if run_tfa else None,
                    "TFA (n^2, n) tensor GiB": tfa_tensor_gib(n),
                }
                rows.append(row)
                print(f"# n={n} {mode}: done", flush=True)
    harness.table(rows, list(rows[0]))
    print(
        "# TFA's columns are '-' where one of its (n^2, n) tensors would exceed "
        f"--tfa-max-gib={args.tfa_max_gib:g}; peak memory '-' where the backend gives none."
    )


if __name__ == "__main__":
    main()
