import os
import subprocess
import sys

import keras_losses


def test_version():
    assert keras_losses.__version__.count(".") == 2


def test_clear_error_when_the_backend_is_missing():
    code = "import sys; sys.modules['tensorflow'] = None; import keras_losses"
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode != 0
    assert "keras_losses needs Keras 3 and one backend" in result.stderr
    assert "pip install 'keras-losses[tensorflow]'" in result.stderr


def test_function_twins_are_exported_beside_classes():
    for name in ("hinge", "squared_hinge", "multiclass_hinge", "sparse_multiclass_hinge",
                 "mean_squared_logarithmic_error"):
        assert callable(getattr(keras_losses, name))
        assert getattr(keras_losses.losses, name) is getattr(keras_losses, name)
