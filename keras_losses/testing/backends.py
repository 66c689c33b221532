"""Execution modes, devices and dtypes of the active backend, and gradients in each.

The verification command and the test suite run every check through `run`, so a
loss is exercised the way a user's training step runs it:

    tensorflow: eager, tf.function, tf.function(jit_compile=True)   ("xla")
    jax:        eager, jax.jit
    torch:      eager

Compiled functions are cached per (key, mode, device, dtype), so a check that is
repeated in one process traces once.
"""

import keras
import numpy as np

from keras_losses import _backend

MODES = {
    "tensorflow": ("eager", "tf.function", "xla"),
    "jax": ("eager", "jax.jit"),
    "torch": ("eager",),
}
DTYPES = ("float32", "float16", "bfloat16")

# Normwise relative error allowed against a float64 reference, for values and
# gradients. Values are computed in float32 even for 16-bit inputs (the reference
# sees the same rounded inputs); a gradient is returned in the input's dtype, so it
# carries that dtype's rounding: 2**-11 for float16, 2**-8 for bfloat16.
TOLERANCES = {
    "float32": {"value": 2e-5, "grad": 1e-4},
    "float16": {"value": 2e-5, "grad": 2e-3},
    "bfloat16": {"value": 2e-5, "grad": 1.6e-2},
}

_compiled = {}


def modes():
    """The execution modes of the active backend."""
    return MODES.get(_backend.name(), ("eager",))


def devices():
    """Every visible device as a `keras.device` name: "cpu:0", then accelerators."""
    backend = _backend.name()
    found = ["cpu:0"]
    if backend == "tensorflow":
        import tensorflow as tf

        found += [f"gpu:{i}" for i, _ in enumerate(tf.config.list_logical_devices("GPU"))]
    elif backend == "jax":
        import jax

        found += [f"gpu:{i}" for i, d in enumerate(jax.devices()) if d.platform == "gpu"]
    elif backend == "torch":
        import torch

        found += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    return found


def to_tensor(array, dtype=None):
    """A NumPy array as a backend tensor (on the current `keras.device`)."""
    array = np.asarray(array)
    if dtype is None:
        return keras.ops.convert_to_tensor(array)
    if dtype == "bfloat16":  # NumPy has no bfloat16: round through float32
        return keras.ops.cast(keras.ops.convert_to_tensor(array.astype("float32")), dtype)
    return keras.ops.convert_to_tensor(array.astype(dtype))


def as_float64(tensor):
    """The exact values a tensor holds, as float64 NumPy (bfloat16 included)."""
    return _backend.to_numpy(keras.ops.cast(tensor, "float32")).astype(np.float64)


def run(fn, inputs, wrt, cotangent, mode="eager", device="cpu:0", key=None):
    """Runs `fn(**inputs)` and its vector-Jacobian product in one execution mode.

    Args:
        fn: a function of backend tensors returning one tensor.
        inputs: dict of backend tensors (already of their test dtype).
        wrt: the name of the input to differentiate, or `None` for values only.
        cotangent: NumPy array of the output's shape; the gradient returned is
            `d sum(fn(**inputs) * cotangent) / d inputs[wrt]`.
        mode: one of `modes()`.
        device: one of `devices()`.
        key: hashable; when given, the compiled function is cached under it.

    Returns:
        `(value, grad)` as NumPy arrays (`grad` is `None` when `wrt` is `None`).
    """
    backend = _backend.name()
    if mode not in modes():
        raise ValueError(f"Mode {mode!r} does not exist on the {backend} backend: {modes()}.")
    with keras.device(device):
        if backend == "tensorflow":
            step = _cached(key, mode, device, lambda: _tf_step(fn, wrt, mode))
        elif backend == "jax":
            step = _cached(key, mode, device, lambda: _jax_step(fn, wrt, mode))
        elif backend == "torch":
            step = _torch_step(fn, wrt)
        else:
            step = _values_only(fn)
        value, grad = step(inputs, cotangent)
        value = _backend.to_numpy(keras.ops.cast(value, "float32")) if value is not None else None
        grad = None if grad is None else as_float64(grad)
    return value, grad


def _cached(key, mode, device, build):
    if key is None:
        return build()
    full_key = (key, mode, device, _backend.name())
    if full_key not in _compiled:
        _compiled[full_key] = build()
    return _compiled[full_key]


def _values_only(fn):
    def step(inputs, cotangent):
        return fn(**inputs), None

    return step


def _tf_step(fn, wrt, mode):
    import tensorflow as tf

    # Each check traces its own function on purpose; TF's retracing warning is noise here.
    tf.get_logger().setLevel("ERROR")

    def step(inputs, cotangent):
        if wrt is None:
            return fn(**inputs), None
        with tf.GradientTape() as tape:
            tape.watch(inputs[wrt])
            value = fn(**inputs)
        grad = tape.gradient(value, inputs[wrt], output_gradients=tf.cast(cotangent, value.dtype))
        if isinstance(grad, tf.IndexedSlices):  # the gradient of a gather: compare it dense
            grad = tf.convert_to_tensor(grad)
        return value, grad

    if mode == "eager":
        return step
    compiled = tf.function(step, jit_compile=(mode == "xla"), reduce_retracing=False)

    def run_compiled(inputs, cotangent):
        return compiled(inputs, tf.convert_to_tensor(0.0 if cotangent is None else cotangent))

    return run_compiled


def _jax_step(fn, wrt, mode):
    import jax

    def step(inputs, cotangent):
        if wrt is None:
            return fn(**inputs), None

        def of_wrt(x):
            return fn(**{**inputs, wrt: x})

        value, vjp = jax.vjp(of_wrt, inputs[wrt])
        (grad,) = vjp(cotangent.astype(value.dtype))
        return value, grad

    if mode == "eager":
        return step
    compiled = jax.jit(step)

    def run_compiled(inputs, cotangent):
        return compiled(inputs, jax.numpy.asarray(0.0 if cotangent is None else cotangent))

    return run_compiled


def _torch_step(fn, wrt):
    import torch

    def step(inputs, cotangent):
        if wrt is None:
            with torch.no_grad():
                return fn(**inputs), None
        primal = inputs[wrt].detach().clone().requires_grad_(True)
        value = fn(**{**inputs, wrt: primal})
        cot = torch.as_tensor(cotangent, dtype=value.dtype, device=value.device)
        (grad,) = torch.autograd.grad(value, primal, grad_outputs=cot)
        return value.detach(), grad

    return step
