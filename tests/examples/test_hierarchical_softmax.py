"""The hierarchical softmax example runs to the end and reaches its own targets."""

import os
import subprocess
import sys

import keras
import pytest

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "hierarchical_softmax.py")


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="run once, on the reference backend")
def test_example_runs():
    result = subprocess.run(
        [sys.executable, EXAMPLE],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert "probabilities sum to 1.000000..1.000000" in result.stdout
    assert "same tree True" in result.stdout
