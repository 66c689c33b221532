"""Runs verification cases in each mode, device and dtype, and compares."""

import dataclasses
import importlib
import zlib

import keras
import numpy as np

from keras_losses import _backend
from keras_losses.testing import backends
from keras_losses.testing import reference as numpy_reference
from keras_losses.verify import case as case_lib


@dataclasses.dataclass
class Row:
    """One comparison: an object against one reference in one mode/device/dtype."""

    case: str
    reference: str
    backend: str
    mode: str
    device: str
    dtype: str
    value_abs: float
    value_rel: float
    grad_abs: float  # NaN where the reference has no gradient to compare
    grad_rel: float
    passed: bool
    note: str = ""
    skipped: bool = False  # the reference's library is not installed: not compared


def _seed(name):
    return zlib.crc32(name.encode())


def _normwise(ours, theirs):
    """(max abs error, max abs error / max abs reference)."""
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    if ours.shape != theirs.shape:
        return np.inf, np.inf
    if not np.all(np.isfinite(ours)):
        return np.inf, np.inf
    error = float(np.max(np.abs(ours - theirs))) if ours.size else 0.0
    scale = float(np.max(np.abs(theirs))) if theirs.size else 0.0
    return error, (error / scale if scale > 0 else error)


class _Inputs:
    """The inputs of a case as tensors of one dtype, and the values they hold."""

    def __init__(self, case, dtype):
        arrays = case.inputs(np.random.default_rng(_seed(case.name)))
        self.tensors, self.seen = {}, {}
        for key, array in arrays.items():
            array = np.asarray(array)
            if np.issubdtype(array.dtype, np.floating):
                tensor_dtype = dtype if key in case.low_precision else "float32"
                tensor = backends.to_tensor(array, tensor_dtype)
                self.seen[key] = backends.as_float64(tensor)
            else:
                tensor = backends.to_tensor(array)
                self.seen[key] = array
            self.tensors[key] = tensor


_installed = {}


def missing_library(ref):
    """The name of the package `ref` needs when it cannot be imported, else `None`."""
    library = ref.requires
    if library is None:
        return None
    if library not in _installed:
        try:
            importlib.import_module(library)
            _installed[library] = True
        except ImportError:
            _installed[library] = False
    return None if _installed[library] else library


def _references(case):
    return [
        r for r in case.references if r.backends is None or _backend.name() in r.backends
    ]


def _reference_result(case, ref, seen, cotangent):
    """(values, gradient or None) of a reference on the inputs the object saw."""
    if ref.kind == case_lib.NUMPY:
        value = np.asarray(ref.fn(**seen), np.float64)
        grad = None
        if case.wrt is not None:
            grad = numpy_reference.finite_difference_vjp(ref.fn, seen, case.wrt, cotangent)
        return value, grad
    if ref.kind == case_lib.KERAS:
        builtin = ref.fn()
        tensors = {
            k: backends.to_tensor(v, "float32" if np.issubdtype(v.dtype, np.floating) else None)
            for k, v in seen.items()
        }
        return backends.run(
            lambda **x: case.apply(builtin, x), tensors, case.wrt, cotangent, mode="eager"
        )
    if ref.kind == case_lib.TORCH:
        import torch

        tensors = {k: torch.as_tensor(np.asarray(v)) for k, v in seen.items()}
        if case.wrt is not None:
            tensors[case.wrt] = tensors[case.wrt].double().requires_grad_(True)
        value = ref.fn(**tensors)
        grad = None
        if case.wrt is not None:
            (grad,) = torch.autograd.grad(
                value, tensors[case.wrt], grad_outputs=torch.as_tensor(cotangent).to(value.dtype)
            )
            grad = grad.double().numpy()
        return value.detach().double().numpy(), grad
    raise ValueError(f"Unknown reference kind {ref.kind!r}.")


class _Prepared:
    """Inputs, cotangent and reference results of a case for one dtype and device.

    Shared by the modes, so references (finite differences included) run once.
    """

    def __init__(self, case, dtype, device):
        self.case, self.device = case, device
        with keras.device(device):
            self.inputs = _Inputs(case, dtype)
            values, _ = backends.run(
                lambda **x: case.apply(case.build(), x), self.inputs.tensors, None, None
            )
        rng = np.random.default_rng(_seed(case.name) + 1)
        self.cotangent = rng.uniform(0.5, 1.5, np.shape(values))
        self._results = {}

    def reference(self, ref):
        if ref.name not in self._results:
            with keras.device("cpu:0"):
                self._results[ref.name] = _reference_result(
                    self.case, ref, self.inputs.seen, self.cotangent
                )
        return self._results[ref.name]


_prepared = {}


def _prepare(case, dtype, device):
    key = (case.name, dtype, device, _backend.name())
    if key not in _prepared:
        _prepared[key] = _Prepared(case, dtype, device)
    return _prepared[key]


def check(case, mode, device, dtype):
    """Compares `case` against each of its references in one mode/device/dtype.

    Returns:
        A list of `Row`, one per reference that runs on the active backend (a
        reference whose library is not installed gives a row marked `skipped`).
    """
    refs = _references(case)
    if not refs:
        return []
    rows = []
    for ref in refs:
        library = missing_library(ref)
        if library is not None:
            rows.append(Row(case.name, ref.name, _backend.name(), mode, device, dtype,
                            np.nan, np.nan, np.nan, np.nan, False,
                            note=f"skipped: {library} is not installed", skipped=True))
    refs = [ref for ref in refs if missing_library(ref) is None]
    if not refs:
        return rows
    prepared = _prepare(case, dtype, device)
    subject = case.build()
    try:
        value, grad = backends.run(
            lambda **x: case.apply(subject, x),
            prepared.inputs.tensors,
            case.wrt,
            prepared.cotangent,
            mode=mode,
            device=device,
            key=(case.name, dtype),
        )
        failure = None
    except Exception as error:  # reported as a failed row, not a crash of the run
        value = grad = None
        failure = f"{type(error).__name__}: {error}".splitlines()[0][:200]
    tolerance = backends.TOLERANCES[dtype]
    for ref in refs:
        row = Row(case.name, ref.name, _backend.name(), mode, device, dtype,
                  np.nan, np.nan, np.nan, np.nan, False)
        if failure is not None:
            row.note = failure
            rows.append(row)
            continue
        ref_value, ref_grad = prepared.reference(ref)
        row.value_abs, row.value_rel = _normwise(value, ref_value)
        passed = row.value_rel <= tolerance["value"]
        notes = [] if passed else [f"value rel {row.value_rel:.1e} > {tolerance['value']:.0e}"]
        if ref_grad is not None and grad is not None:
            row.grad_abs, row.grad_rel = _normwise(grad, ref_grad)
            # A built-in computes in float32 too: allow its rounding on top of ours.
            grad_tolerance = tolerance["grad"] * (2 if ref.kind == case_lib.KERAS else 1)
            if not row.grad_rel <= grad_tolerance:
                passed = False
                notes.append(f"grad rel {row.grad_rel:.1e} > {grad_tolerance:.0e}")
        row.passed = bool(passed)
        row.note = ", ".join(notes)
        rows.append(row)
    return rows


def run_all(cases, modes=None, devices=None, dtypes=None, progress=None):
    """Every case in every mode, device and dtype; returns the list of `Row`.

    `progress(case, rows)`, when given, is called after each case with its rows.
    """
    rows = []
    for case in cases:
        new = []
        for device in devices or backends.devices():
            for dtype in dtypes or backends.DTYPES:
                for mode in modes or backends.modes():
                    new.extend(check(case, mode, device, dtype))
        rows.extend(new)
        if progress is not None:
            progress(case, new)
    return rows
