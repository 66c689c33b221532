"""One table-driven test over every exported object (the table is testing/catalog.py)."""

import inspect
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_losses
from keras_losses.testing import catalog
from keras_losses.testing import roundtrip

ENTRIES = {entry.name: entry for entry in catalog.ENTRIES}
KERAS_BASES = (keras.losses.Loss, keras.layers.Layer, keras.regularizers.Regularizer, keras.initializers.Initializer,
               keras.optimizers.Optimizer)


def exported_classes():
    return {
        name: obj
        for name, obj in vars(keras_losses).items()
        if inspect.isclass(obj) and not name.startswith("_")
    }


def test_every_exported_class_is_in_the_catalog():
    missing = sorted(set(exported_classes()) - set(ENTRIES))
    assert not missing, f"add an example of {missing} to keras_losses/testing/catalog.py"


@pytest.mark.parametrize("name", sorted(exported_classes()))
def test_exported_in_its_submodule(name):
    cls = exported_classes()[name]
    submodule = sys.modules[cls.__module__.rsplit(".", 1)[0]]
    if submodule is keras_losses:  # a top-level module such as keras_losses.trees
        submodule = sys.modules[cls.__module__]
    assert getattr(submodule, name) is cls


def _config_form(value, stored):
    """Whether `stored`, a config's entry, holds the argument `value` the entry gave."""
    if isinstance(value, keras_losses.Tree):
        value = value.get_config()
    elif hasattr(value, "get_config"):  # a nested Keras object: its serialized form
        value = keras.saving.serialize_keras_object(value)
    elif isinstance(value, str) and isinstance(stored, dict):  # "glorot_uniform": the initializer it names
        return stored["class_name"] == type(keras.initializers.get(value)).__name__
    if isinstance(value, (float, list)) and not isinstance(value, bool):  # a float32 variable (learning_rate) rounds
        return np.shape(stored) == np.shape(value) and np.allclose(stored, value, rtol=1e-6, atol=0)
    return stored == value


@pytest.mark.parametrize("name", sorted(ENTRIES))
class TestConfig:
    def test_config_gives_back_every_argument_and_round_trips(self, name):
        # The expectation is the entry's own record of its arguments, not the
        # signature that get_config reads.
        entry = ENTRIES[name]
        obj = entry.build()
        restored = type(obj).from_config(obj.get_config()).get_config()
        assert restored == obj.get_config()
        for key, value in entry.arguments.items():
            if key in entry.in_weights:
                assert key in restored, key  # the rest travels in the weights (the fresh-process load)
                continue
            assert key in restored and _config_form(value, restored[key]), (key, value, restored.get(key))

    def test_serialize_keras_object_round_trip(self, name):
        obj = ENTRIES[name].build()
        if not isinstance(obj, KERAS_BASES):
            pytest.skip("not a Keras object: it travels inside the configs of the objects that hold it")
        serialized = keras.saving.serialize_keras_object(obj)
        assert serialized["registered_name"] == f"keras_losses>{type(obj).__name__}"
        restored = keras.saving.deserialize_keras_object(serialized)
        assert type(restored) is type(obj)
        assert restored.get_config() == obj.get_config()

    def test_dict_form_is_accepted_by_keras_get(self, name):
        obj = ENTRIES[name].build()
        if not isinstance(obj, keras.losses.Loss):
            pytest.skip("losses only")
        restored = keras.losses.get(keras.saving.serialize_keras_object(obj))
        assert restored.get_config() == obj.get_config()


GOLDEN = os.path.join(os.path.dirname(__file__), "golden")


def golden_directories():
    if not os.path.isdir(GOLDEN):
        return []
    return sorted(
        os.path.join(GOLDEN, version)
        for version in os.listdir(GOLDEN)
        if os.path.isdir(os.path.join(GOLDEN, version))
    )


@pytest.fixture(scope="module")
def fresh_process_results(tmp_path_factory):
    """Saves every example model, then loads it, and every golden model, in ONE new
    Python that ran nothing but `import keras_losses` (with `safe_mode=True`)."""
    fresh = tmp_path_factory.mktemp("saved")
    for entry in catalog.ENTRIES:
        if entry.model is not None:
            roundtrip.save(entry, str(fresh))
    result = subprocess.run(
        [sys.executable, "-m", "keras_losses.testing.roundtrip", str(fresh), *golden_directories()],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    by_directory = {}
    for line in lines:
        by_directory.setdefault(line["directory"], []).append(line)
    return str(fresh), by_directory, result.stderr[-3000:]


@pytest.mark.subprocess
def test_saved_models_load_in_a_fresh_process(fresh_process_results):
    """Same predictions and the same evaluated loss after loading elsewhere."""
    fresh, by_directory, stderr = fresh_process_results
    results = by_directory.get(fresh, [])
    expected = sorted(e.name for e in catalog.ENTRIES if e.model is not None)
    assert sorted(r["name"] for r in results) == expected, stderr
    assert all(r["ok"] for r in results), [r for r in results if not r["ok"]]


@pytest.mark.subprocess
@pytest.mark.parametrize("directory", golden_directories(), ids=os.path.basename)
def test_golden_models_of_earlier_releases_still_load(fresh_process_results, directory):
    """Models saved by every earlier release load and reproduce their stored outputs."""
    _, by_directory, stderr = fresh_process_results
    results = by_directory.get(directory, [])
    assert results, stderr
    assert all(r["ok"] for r in results), [r for r in results if not r["ok"]]


def test_golden_files_exist_for_this_release():
    assert os.path.isdir(os.path.join(GOLDEN, keras_losses.__version__)), (
        "run `python tests/golden/generate.py` to save this release's golden models"
    )


def test_loading_without_the_import_names_the_missing_package(tmp_path):
    entry = ENTRIES["Hinge"]
    roundtrip.save(entry, str(tmp_path))
    code = (
        "import keras, sys\n"
        f"try:\n    keras.saving.load_model({str(tmp_path / 'Hinge.keras')!r})\n"
        "except Exception as e:\n    print(type(e).__name__, e)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert "keras_losses>Hinge" in result.stdout


def test_catalog_models_train():
    rng = np.random.default_rng(0)
    for entry in catalog.ENTRIES:
        if entry.model is None:
            continue
        x, y = entry.data(rng)
        history = entry.model(entry.build()).fit(x, y, epochs=2, verbose=0)
        assert np.all(np.isfinite(history.history["loss"])), entry.name
