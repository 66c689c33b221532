"""Helpers the test modules share: reference equality, modes, tolerances."""

import os

import keras
import numpy as np
import pytest

from keras_losses.testing import backends
from keras_losses.verify import cases as case_registry
from keras_losses.verify import report
from keras_losses.verify import runner


# Modes whose 16-bit checks the suite leaves to the verification command, which runs
# every combination (as does the suite with KERAS_LOSSES_FULL_SUITE=1):
# - TensorFlow's tf.function runs the kernels that eager runs (which checks every
#   dtype), only traced; each traced case costs a compilation, and XLA, which checks
#   every dtype too, compiles the same graph and fuses it;
# - eager JAX compiles each primitive again for every new shape and dtype, the most
#   expensive mode of the suite by far; jax.jit checks every dtype.
_FLOAT32_ONLY = {("tensorflow", "tf.function"), ("jax", "eager")}


def dtypes_for(mode):
    """The input dtypes the suite checks in `mode` (see `_FLOAT32_ONLY`)."""
    if (keras.backend.backend(), mode) in _FLOAT32_ONLY and not os.environ.get("KERAS_LOSSES_FULL_SUITE"):
        return ("float32",)
    return backends.DTYPES


def reference_equality_test(family):
    """A test function checking every verification case of `family`.

    Parametrized over case x execution mode x device x dtype: the same checks the
    verification command runs, with the same references and tolerances.
    Usage in a test module: `test_reference_equality = reference_equality_test("hinge")`.
    """
    cases = [c for c in case_registry.CASES if c.family == family]
    if not cases:
        raise ValueError(f"No verification case belongs to family {family!r}.")
    params = [
        pytest.param(case, mode, device, dtype, id=f"{case.name}-{mode}-{device}-{dtype}")
        for case in cases
        for device in backends.devices()
        for mode in backends.modes()
        for dtype in dtypes_for(mode)
    ]

    @pytest.mark.parametrize("case,mode,device,dtype", params)
    def test_reference_equality(case, mode, device, dtype):
        rows = runner.check(case, mode, device, dtype)
        assert rows, f"{case.name} has no reference on this backend"
        assert all(r.passed for r in rows), "\n" + report.text_table(rows) + "\n" + "\n".join(
            f"{r.reference}: {r.note}" for r in rows if r.note
        )

    return test_reference_equality


def mode_params():
    return [pytest.param(m, id=m) for m in backends.modes()]


def run_in_mode(fn, mode, *args):
    """Runs `fn(*args)` (tensors in, one tensor out) in an execution mode; NumPy out."""
    inputs = {f"a{i}": a for i, a in enumerate(args)}
    value, _ = backends.run(lambda **x: fn(*[x[f"a{i}"] for i in range(len(args))]), inputs, None, None, mode=mode)
    return value


def value_and_grad(fn, x, mode="eager"):
    """`fn(x)` and the gradient of its sum with respect to `x`, both NumPy."""
    x = keras.ops.convert_to_tensor(x)
    value, grad = backends.run(lambda x: fn(x), {"x": x}, "x", np.ones(np.shape(_shape_of(fn, x))), mode=mode)
    return value, grad


def _shape_of(fn, x):
    return keras.ops.convert_to_numpy(fn(x))
