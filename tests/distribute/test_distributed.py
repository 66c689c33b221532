"""Data-parallel training gives the single-device result, per loss and reduction.

Each check runs in fresh processes (the CPU is split into two devices before the
backend starts; a strategy is created once per process). They exercise the
backends themselves, so they run once, in the TensorFlow stage of the suite.
"""

import json
import os
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest

pytestmark = [
    pytest.mark.subprocess,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="starts its own TensorFlow and JAX processes; run once, in the TensorFlow stage",
    ),
]

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
# SGD steps on float32: replicas add their gradients in another order than one device.
TOLERANCE = 1e-5


def _env():
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ROOT + (os.pathsep + path if path else "")}


def _json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def same_training():
    """Both engines' runs, started together (they are independent processes)."""
    procs = {
        engine: subprocess.Popen(
            [sys.executable, os.path.join(HERE, "same_training.py"), engine],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
        )
        for engine in ("mirrored", "jax")
    }
    results = {}
    for engine, proc in procs.items():
        try:
            out, err = proc.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        results[engine] = (proc.returncode, _json_lines(out), err[-3000:])
    return results


def _heads(lines):
    return {line["head"]: line["max_weight_difference"] for line in lines if "head" in line}


# Why same_training.py may leave a catalog loss out (its docstring says more).
SKIPPABLE = {
    # contrastive / metric-learning losses that compare each example with the rest of
    # its batch: checked with across_replicas=True in their own tests
    "mines the batch",
    # its catalog model is not one head on the shared float features (e.g. the CRF
    # tagger on token ids, the linear cross-entropy head that takes the labels as input)
    "not a head on the shared features",
}


def _skipped(lines):
    found = [line["skipped"] for line in lines if "skipped" in line]
    assert len(found) == 1, lines
    return found[0]


def _assert_skips_are_explained(lines):
    """Every loss left out is left out for a known reason, named with its family."""
    skipped = _skipped(lines)
    unexplained = {name: why for name, why in skipped.items() if why["kind"] not in SKIPPABLE}
    assert unexplained == {}, (
        "same_training.py skipped these losses for a reason other than mining the batch "
        "(contrastive, metric learning: across_replicas) or a catalog model that is not a "
        f"one-input head (CRF, linear cross-entropy): {unexplained}"
    )
    assert all(why["reason"] for why in skipped.values()), skipped


def test_mirrored_strategy_trains_every_loss_like_one_device(same_training):
    code, lines, err = same_training["mirrored"]
    assert code == 0, err
    _assert_skips_are_explained(lines)
    heads = _heads(lines)
    control = heads.pop("control-keras-mean_with_sample_weight")
    assert len(heads) >= 15 and {line["replicas"] for line in lines if "replicas" in line} == {2}
    assert {name: d for name, d in heads.items() if d > TOLERANCE} == {}
    # Keras alone divides each replica's sum by its own weights: visibly off.
    assert control > 1e-3


def test_mirrored_strategy_fails_on_a_batch_that_does_not_split_evenly(same_training):
    """Documented limitation of Keras/TensorFlow, not of the losses: a global batch of 5
    over 2 replicas (3 + 2 examples) stops fit. Use a batch size divisible by the
    number of replicas (and drop the remainder) under MirroredStrategy."""
    _, lines, err = same_training["mirrored"]
    outcome = [line["uneven_batch"] for line in lines if "uneven_batch" in line]
    assert outcome and outcome[0].startswith("InvalidArgumentError"), (outcome, err)


def test_jax_data_parallel_trains_every_loss_like_one_device(same_training):
    code, lines, err = same_training["jax"]
    assert code == 0, err
    _assert_skips_are_explained(lines)
    heads = _heads(lines)
    assert len(heads) >= 16 and {line["replicas"] for line in lines if "replicas" in line} == {2}
    # On JAX the loss sees the global batch: even the bare Keras form agrees.
    assert {name: d for name, d in heads.items() if d > TOLERANCE} == {}


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_multi_worker_mirrored_strategy_with_two_processes(tmp_path):
    """Two workers on 127.0.0.1 train in a custom loop exactly as one process does.

    Keras 3's `fit` itself cannot run under MultiWorkerMirroredStrategy: on the first
    batch it reduces the distributed batch eagerly (`strategy.reduce("MEAN", ...)` in
    `TensorFlowTrainer._maybe_symbolic_build`), which the collective strategy cannot
    do outside `strategy.run` (keras-team/keras#20585). The workers record that error.
    """
    ports = ",".join(str(_free_port()) for _ in range(2))
    script = os.path.join(HERE, "multi_worker.py")
    runs = [[sys.executable, script, ports, str(i), str(tmp_path / f"worker{i}.npz")] for i in range(2)]
    runs.append([sys.executable, script, "-", "0", str(tmp_path / "single.npz")])
    procs = [subprocess.Popen(r, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env()) for r in runs]
    outputs = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=300)
            outputs.append((proc.returncode, _json_lines(out), err[-2000:]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert [code for code, _, _ in outputs] == [0, 0, 0], outputs
    assert [lines[0]["replicas"] for _, lines, _ in outputs] == [2, 2, 1]
    for _, lines, _ in outputs[:2]:
        assert "Attempt to convert a value (PerReplica" in lines[0]["fit"]
    single = np.load(tmp_path / "single.npz")
    for i in range(2):
        worker = np.load(tmp_path / f"worker{i}.npz")
        np.testing.assert_allclose(worker["kernel"], single["kernel"], atol=TOLERANCE)
        np.testing.assert_allclose(worker["losses"], single["losses"], rtol=1e-5)
