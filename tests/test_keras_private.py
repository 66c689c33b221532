"""What this package takes from Keras's private code still is what it was read from.

`keras_losses/_backend.py` is the only module that uses `keras.src`; it lists every
private name it uses (`KERAS_PRIVATE`), the locals of Keras's loading functions it
reads (`KERAS_LOCALS`) and the private functions it mirrors with a change
(`KERAS_MIRRORED`, with a fingerprint of their source). A Keras release that moves or
rewrites any of them fails here, by name, rather than changing results silently. CI
runs this file against keras-nightly too (scripts/keras_nightly.sh).
"""

import inspect
import re

import keras
import numpy as np
import pytest

from keras_losses import _backend
from keras_losses.losses.base import Loss


def test_no_other_module_imports_keras_private_code():
    import pathlib

    import keras_losses

    root = pathlib.Path(keras_losses.__file__).parent
    users = sorted(
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if "keras.src" in path.read_text() and path.name != "_backend.py"
    )
    assert users == []


@pytest.mark.parametrize("path", _backend.KERAS_PRIVATE)
def test_private_name_exists(path):
    for backend in ("jax", "torch"):
        if f".backend.{backend}." in path:
            pytest.importorskip(backend)
    _backend.keras_private(path)


def test_every_private_import_is_listed():
    source = inspect.getsource(_backend)
    imported = re.findall(r"from (keras\.src\.[\w.]+) import (\w+)", source)
    listed = {p.strip() for path in _backend.KERAS_PRIVATE for p in path.split("|")}
    assert imported and {f"{module}.{name}" for module, name in imported} <= listed


def test_private_attributes_exist():
    examples = {
        "a KerasTensor made by a layer": keras.layers.Dense(2)(keras.Input((3,))),
        "a built optimizer": _built_optimizer(),
    }
    assert examples.keys() == _backend.KERAS_ATTRIBUTES.keys()
    for kind, attribute in _backend.KERAS_ATTRIBUTES.items():
        assert hasattr(examples[kind], attribute), (
            f"Keras {keras.__version__}: {kind} has no {attribute}, which "
            "keras_losses/_backend.py reads."
        )


def _built_optimizer():
    optimizer = keras.optimizers.SGD()
    optimizer.build([keras.Variable(np.zeros(2, "float32"))])
    return optimizer


@pytest.mark.parametrize("path, names", sorted(_backend.KERAS_LOCALS.items()))
def test_loading_functions_have_the_locals_read_from_the_stack(path, names):
    function = _backend.keras_private(path)
    missing = [n for n in names if n not in function.__code__.co_varnames]
    assert not missing, (
        f"Keras {keras.__version__} changed {path}: it has no local {missing}, which "
        "_backend.adopt_late_variables reads (written for Keras "
        f"{_backend.KERAS_VERSION_READ})."
    )


@pytest.mark.parametrize("path, fingerprints", sorted(_backend.KERAS_MIRRORED.items()))
def test_mirrored_code_is_unchanged(path, fingerprints):
    for backend in ("jax", "torch"):
        if f".backend.{backend}." in path:
            pytest.importorskip(backend)
    found = _backend.source_fingerprint(_backend.keras_private(path))
    assert found in fingerprints, (
        f"Keras {keras.__version__} changed {path}, which keras_losses/_backend.py "
        f"mirrors as of Keras {_backend.KERAS_VERSION_READ}. Read the new source, bring "
        f"the mirror in line, then add its fingerprint {found} to KERAS_MIRRORED."
    )


def test_keras_private_tries_each_alternative():
    assert _backend.keras_private("keras.src.nowhere.Gone | keras.Layer") is keras.Layer
    with pytest.raises((AttributeError, ImportError)):
        _backend.keras_private("keras.Layer._not_a_keras_method | keras.src.nowhere.Gone")


class _Absolute(Loss):
    def call(self, y_true, y_pred):
        return keras.ops.mean(keras.ops.abs(y_true - y_pred), axis=-1)


@pytest.mark.parametrize(
    "reduction", ["sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None]
)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_loss_call_matches_keras(reduction, weighted, masked):
    """`loss_call` in the loss's own dtype is `keras.losses.Loss.__call__`."""
    rng = np.random.default_rng(0)
    y_true = rng.normal(size=(6, 3)).astype("float32")
    y_pred = keras.ops.convert_to_tensor(rng.normal(size=(6, 3)).astype("float32"))
    if masked:
        _backend.set_mask(y_pred, keras.ops.convert_to_tensor([1, 0, 1, 1, 0, 1], "bool"))
    weight = rng.uniform(0.5, 2, size=(6,)).astype("float32") if weighted else None
    loss = _Absolute(reduction=reduction)
    ours = _backend.loss_call(loss, y_true, y_pred, weight, "float32")
    theirs = keras.losses.Loss.__call__(loss, y_true, y_pred, sample_weight=weight)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(ours), keras.ops.convert_to_numpy(theirs), rtol=1e-6
    )


def test_mirror_sources_are_read_from_the_installed_keras():
    # a fingerprint is of the installed source, not of a copy: it changes with it
    function = _backend.keras_private("keras.src.losses.loss.Loss.__call__")
    assert inspect.getsourcefile(function).startswith(str(__import__("pathlib").Path(keras.__file__).parent))
