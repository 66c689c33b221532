"""A CRF training step and Viterbi decoding: ours against pytorch-crf and a naive loop.

At batch 64, T = 128, K = 9 and K = 50 (random lengths from T/2 to T, the first step
always real, as pytorch-crf needs), side by side in one process (round-robin):

* train: the log-likelihood summed over the batch and its gradient with respect to
  the emissions and the transitions (start and end too): ours
  (`keras_losses.crf.log_likelihood`) against `torchcrf.CRF.forward` + `backward`;
* decode: ours (`keras_losses.crf.viterbi_decode`) against `torchcrf.CRF.decode`;
* and both against a naive per-sequence Python loop over the steps (torch autograd
  for the gradient, NumPy for Viterbi), what a home-made CRF often is.

A Keras process has one backend, so the script runs itself twice: with
`KERAS_BACKEND=tensorflow`, ours under `tf.function(jit_compile=True)` (XLA); with
`KERAS_BACKEND=torch`, ours eager on the torch backend. pytorch-crf is timed in both
processes, so each ratio is of two things timed in the same process.

Both libraries run on `--threads` CPU threads (default 1: on a shared machine,
oversubscribed thread pools make the timings of OpenMP-based torch erratic).

Goals: ours / pytorch-crf <= 1 for the training step and for decoding.

    python benchmarks/crf.py [--quick] [--repeats N]
"""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

CHILD = os.environ.get("KERAS_LOSSES_CRF_BENCHMARK_CHILD")
if CHILD:
    os.environ["KERAS_BACKEND"] = CHILD

import harness  # noqa: E402
import numpy as np  # noqa: E402

BATCH, STEPS = 64, 128


def problem(batch, steps, tags, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(steps // 2, steps + 1, batch)
    lengths[0] = steps
    mask = np.arange(steps)[None, :] < lengths[:, None]
    return {
        "emissions": rng.normal(size=(batch, steps, tags)).astype("float32"),
        "tags": np.where(mask, rng.integers(0, tags, (batch, steps)), 0).astype("int64"),
        "mask": mask,
        "transitions": rng.normal(0, 0.1, (tags, tags)).astype("float32"),
        "start": rng.normal(0, 0.1, tags).astype("float32"),
        "end": rng.normal(0, 0.1, tags).astype("float32"),
    }


# -- pytorch-crf and the naive loop (torch / NumPy, any Keras backend) -------------------


def torchcrf_functions(p):
    import torch
    import torchcrf

    model = torchcrf.CRF(p["emissions"].shape[-1], batch_first=True)
    with torch.no_grad():
        model.transitions.copy_(torch.as_tensor(p["transitions"]))
        model.start_transitions.copy_(torch.as_tensor(p["start"]))
        model.end_transitions.copy_(torch.as_tensor(p["end"]))
    emissions = torch.as_tensor(p["emissions"]).requires_grad_(True)
    tags, mask = torch.as_tensor(p["tags"]), torch.as_tensor(p["mask"]).to(torch.uint8)

    def train():
        emissions.grad = None
        model.zero_grad()
        value = model(emissions, tags, mask=mask, reduction="sum")
        value.backward()
        return value.detach()

    def decode():
        with torch.no_grad():
            return model.decode(emissions.detach(), mask=mask)

    return train, decode


def naive_functions(p):
    """One sequence at a time, one step at a time."""
    import torch

    emissions = torch.as_tensor(p["emissions"]).requires_grad_(True)
    transitions = torch.as_tensor(p["transitions"]).requires_grad_(True)
    start, end = torch.as_tensor(p["start"]), torch.as_tensor(p["end"])
    lengths = p["mask"].sum(1)
    tags = p["tags"]

    def train():
        emissions.grad = transitions.grad = None
        total = 0.0
        for b, n in enumerate(lengths):
            e, y = emissions[b], tags[b]
            alpha = start + e[0]
            score = start[y[0]] + e[0, y[0]]
            for t in range(1, n):
                alpha = torch.logsumexp(alpha[:, None] + transitions, 0) + e[t]
                score = score + transitions[y[t - 1], y[t]] + e[t, y[t]]
            total = total + score + end[y[n - 1]] - torch.logsumexp(alpha + end, 0)
        total.backward()
        return total.detach()

    e_np, tr_np = p["emissions"], p["transitions"]

    def decode():
        paths = []
        for b, n in enumerate(lengths):
            delta, pointers = p["start"] + e_np[b, 0], []
            for t in range(1, n):
                candidates = delta[:, None] + tr_np
                pointers.append(candidates.argmax(0))
                delta = candidates.max(0) + e_np[b, t]
            best = [int(np.argmax(delta + p["end"]))]
            for pointer in reversed(pointers):
                best.append(int(pointer[best[-1]]))
            paths.append(best[::-1])
        return paths

    return train, decode


# -- ours --------------------------------------------------------------------------------


def our_functions(p):
    import keras

    from keras_losses import crf

    backend = keras.backend.backend()
    tags, mask = p["tags"].astype("int32"), p["mask"]
    if backend == "tensorflow":
        import tensorflow as tf

        tensors = [tf.constant(p[k]) for k in ("emissions", "transitions", "start", "end")]
        tags, mask = tf.constant(tags), tf.constant(mask)

        @tf.function(jit_compile=True)
        def train_step(emissions, transitions, start, end):
            with tf.GradientTape() as tape:
                tape.watch([emissions, transitions, start, end])
                value = tf.reduce_sum(crf.log_likelihood(
                    emissions, tags, transitions, start_transitions=start, end_transitions=end, mask=mask
                ))
            return value, tape.gradient(value, [emissions, transitions, start, end])

        @tf.function(jit_compile=True)
        def decode_step(emissions, transitions, start, end):
            return crf.viterbi_decode(emissions, transitions, start_transitions=start, end_transitions=end, mask=mask)

        return (lambda: train_step(*tensors)), (lambda: decode_step(*tensors))
    import torch

    tensors = [torch.as_tensor(p[k]).requires_grad_(True) for k in ("emissions", "transitions", "start", "end")]
    tags, mask = torch.as_tensor(tags), torch.as_tensor(mask)

    def train():
        for x in tensors:
            x.grad = None
        emissions, transitions, start, end = tensors
        value = crf.log_likelihood(
            emissions, tags, transitions, start_transitions=start, end_transitions=end, mask=mask
        ).sum()
        value.backward()
        return value.detach()

    def decode():
        with torch.no_grad():
            emissions, transitions, start, end = tensors
            return crf.viterbi_decode(emissions, transitions, start_transitions=start, end_transitions=end, mask=mask)

    return train, decode


def child(args):
    import keras
    import torch

    torch.set_num_threads(args.threads)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    backend = keras.backend.backend()
    ours_name = "ours, TF + XLA" if backend == "tensorflow" else "ours, torch backend"
    batch, steps = (8, 16) if args.quick else (BATCH, STEPS)
    sizes = (9,) if args.quick else (9, 50)
    rows = []
    for tags in sizes:
        p = problem(batch, steps, tags)
        ours = our_functions(p)
        theirs = torchcrf_functions(p)
        naive = naive_functions(p)
        for index, task in enumerate(("train (value + grad)", "decode (Viterbi)")):
            fns = {"ours": ours[index], "pytorch-crf": theirs[index]}
            if not args.no_naive:
                fns["naive"] = naive[index]
            times = harness.compare(fns, repeats=args.repeats, warmup=2)
            rows.append({
                "task": task, "K": tags, "ours": ours_name,
                "ours ms": 1e3 * times["ours"], "pytorch-crf ms": 1e3 * times["pytorch-crf"],
                "naive ms": 1e3 * times["naive"] if "naive" in times else None,
                "ours / pytorch-crf": times["ours"] / times["pytorch-crf"],
                "naive / ours": times["naive"] / times["ours"] if "naive" in times else None,
            })
    harness.table(rows, ["task", "K", "ours", "ours ms", "pytorch-crf ms", "naive ms", "ours / pytorch-crf", "naive / ours"])


def main():
    args = harness.arguments(
        __doc__.splitlines()[0],
        no_naive={"action": "store_true", "help": "skip the naive loop (slow at full size)"},
        threads={"type": int, "default": 1, "help": "CPU threads of torch and TensorFlow (1: stable on a busy machine)"},
    )
    if CHILD:
        child(args)
        return 0
    batch, steps = (8, 16) if args.quick else (BATCH, STEPS)
    harness.header(f"CRF training step and Viterbi decoding, batch {batch}, T = {steps}")
    print("# goals: ours / pytorch-crf <= 1 for both tasks; each row's times come from one process")
    failed = 0
    for backend in ("tensorflow", "torch"):
        result = subprocess.run(
            [sys.executable, os.path.abspath(__file__), *sys.argv[1:]],
            env={**os.environ, "KERAS_LOSSES_CRF_BENCHMARK_CHILD": backend, "TF_CPP_MIN_LOG_LEVEL": "2"},
            capture_output=True, text=True,
        )
        print("\n".join(line for line in result.stdout.splitlines() if line.startswith("|")))
        if result.returncode != 0:
            failed = 1
            print(result.stderr[-2000:], file=sys.stderr)
    return failed


if __name__ == "__main__":
    sys.exit(main())
