"""The catalog's own promises (`keras_losses/testing/catalog.py`) and the helpers that
save and check its models (`keras_losses/testing/roundtrip.py`)."""

import keras
import numpy as np

import keras_losses
from keras_losses.testing import catalog
from keras_losses.testing import roundtrip


def test_names_are_unique_and_by_name_finds_each():
    names = [entry.name for entry in catalog.ENTRIES]
    assert sorted(name for name in set(names) if names.count(name) > 1) == []
    assert all(catalog.by_name()[entry.name] is entry for entry in catalog.ENTRIES)


def test_an_entry_builds_its_class_from_the_recorded_arguments():
    entry = catalog.by_name()["Hinge"]
    assert entry.name == "Hinge" and entry.arguments == {"margin": 0.5, "dtype": "float32"}
    loss = entry.build()
    assert type(loss) is keras_losses.Hinge and loss.margin == 0.5
    assert entry.build() is not loss  # a fresh object each time
    assert catalog.by_name()["Tree"].build() == keras_losses.Tree.huffman([40, 10, 25, 5, 5, 15])


def test_twins_and_extremes_belong_to_losses():
    for entry in catalog.ENTRIES:
        is_loss = isinstance(entry.build(), keras.losses.Loss)
        assert is_loss or (entry.twin is None and not entry.extremes), entry.name
        for extremes in entry.extremes:
            # the property test builds each configuration with these arguments
            assert isinstance(entry.cls(reduction=None, dtype="float32", **extremes.arguments), entry.cls)
            assert (extremes.targets is None) != (extremes.make is None), entry.name


def test_roundtrip_check_passes_a_saved_model_and_fails_a_changed_one(tmp_path):
    entry = catalog.by_name()["Hinge"]
    roundtrip.save(entry, str(tmp_path))
    (result,) = roundtrip.check(str(tmp_path))
    assert result["name"] == "Hinge" and result["ok"], result
    stored = dict(np.load(tmp_path / "Hinge.npz"))
    stored["predictions"] = stored["predictions"] + 1e-3  # what a reload that lost a weight gives
    np.savez(tmp_path / "Hinge.npz", **stored)
    (result,) = roundtrip.check(str(tmp_path))
    assert not result["ok"] and result["prediction_error"] > 5e-4, result
    assert roundtrip.main([str(tmp_path)]) == 1


def test_roundtrip_keeps_the_inputs_of_a_model_of_several(tmp_path):
    entry = catalog.by_name()["CLIPLoss"]  # two inputs: images and texts
    roundtrip.save(entry, str(tmp_path))
    stored = np.load(tmp_path / "CLIPLoss.npz")
    assert sorted(k for k in stored.files if k.startswith("x")) == ["x_0", "x_1"]
    (result,) = roundtrip.check(str(tmp_path))
    assert result["ok"], result


def test_roundtrip_main_refuses_an_empty_directory(tmp_path):
    assert roundtrip.main([str(tmp_path)]) == 1
    assert roundtrip.main([]) == 2
