"""The pure function twins of the losses as Keras losses: registered, saved, reloaded.

Issue 12, item 3: a model compiled with `loss=keras_losses.sparse_categorical_focal_loss`
saved but did not load ("Could not locate function"), and a twin named like a Keras
function (`hinge`) would have come back as Keras's.
"""

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


def public_functions():
    return {
        name: obj
        for name, obj in vars(keras_losses).items()
        if inspect.isfunction(obj) and not name.startswith("_")
    }


# The same names as functions of keras.losses: a reload must not give Keras's.
KERAS_NAMESAKES = ("hinge", "squared_hinge", "mean_squared_logarithmic_error")


def test_every_public_loss_function_is_registered_as_ours():
    functions = public_functions()
    assert {entry.name for entry in twin_entries()} <= set(functions)  # the listing found them
    for name, function in functions.items():
        assert keras.saving.get_registered_name(function) == f"keras_losses>{name}", name
        serialized = keras.saving.serialize_keras_object(function)
        assert keras.saving.deserialize_keras_object(serialized) is function, name
        assert keras.losses.get(serialized) is function, name


@pytest.mark.parametrize("name", KERAS_NAMESAKES)
def test_namesakes_of_keras_functions_come_back_as_ours(name):
    ours = getattr(keras_losses, name)
    assert ours is not getattr(keras.losses, name)  # the premise: Keras has one too
    serialized = keras.saving.serialize_keras_object(ours)
    assert keras.saving.deserialize_keras_object(serialized) is ours


def twin_entries():
    """An example for every twin a catalog entry names: its loss's model, or the
    twin's own where the function's default arguments need another."""
    return [
        catalog.Entry(
            lambda f=entry.twin.function: f,
            {},
            entry.twin.model or entry.model,
            entry.twin.data or entry.data,
            name=entry.twin.function.__name__,
        )
        for entry in catalog.ENTRIES
        if entry.twin is not None
    ]


def test_every_twin_but_two_has_a_model_in_the_catalog():
    # hierarchical_softmax_loss needs `tree` (or path logits): a class does that job.
    # linear_cross_entropy(hidden, kernel, labels) is no (y_true, y_pred) function: it
    # takes the head's weights; LinearCrossEntropyLoss is the `loss=` of that head.
    covered = {entry.name for entry in twin_entries()}
    assert len(covered) == len(twin_entries()), "two catalog entries name the same twin"
    missing = sorted(set(public_functions()) - covered)
    assert missing == ["hierarchical_softmax_loss", "linear_cross_entropy"], (
        "give the loss's catalog entry `twin=Twin(function)`"
    )


@pytest.mark.subprocess
def test_models_compiled_with_twins_reload_in_a_fresh_process(tmp_path):
    for entry in twin_entries():
        roundtrip.save(entry, str(tmp_path))
    code = (
        "import json, sys, keras, keras_losses\n"
        "from keras_losses.testing import roundtrip\n"
        "directory = sys.argv[1]\n"
        "for result in roundtrip.check(directory):\n"
        "    model = keras.saving.load_model(f\"{directory}/{result['name']}.keras\")\n"
        "    result['ours'] = model.loss is getattr(keras_losses, result['name'])\n"
        "    print(json.dumps(result))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    results = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
    assert sorted(r["name"] for r in results) == sorted(e.name for e in twin_entries()), completed.stderr[-3000:]
    for result in results:
        assert result["ok"], result
        assert result["ours"], result
        assert np.isfinite(result["loss_error"]), result
