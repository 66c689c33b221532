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
    assert len(functions) >= 11
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
    """A small compiled model for every twin that works with its default arguments."""
    two_tower = lambda loss: catalog.two_tower_model(loss, keras_losses.ContrastiveLogits())  # noqa: E731
    models = {
        "mean_squared_logarithmic_error": (
            catalog.loss_model(2, "softplus"),
            catalog.with_targets(lambda rng: rng.uniform(0, 5, (catalog.BATCH, 2)).astype("float32")),
        ),
        "hinge": (catalog.loss_model(2), catalog.with_targets(catalog.binary)),
        "squared_hinge": (catalog.loss_model(2), catalog.with_targets(catalog.binary)),
        "multiclass_hinge": (catalog.loss_model(4), catalog.with_targets(catalog.one_hot(4))),
        "sparse_multiclass_hinge": (catalog.loss_model(4), catalog.with_targets(catalog.class_ids(4))),
        "binary_focal_loss": (catalog.loss_model(2, "sigmoid"), catalog.with_targets(catalog.binary)),
        "categorical_focal_loss": (catalog.loss_model(4, "softmax"), catalog.with_targets(catalog.one_hot(4))),
        "sparse_categorical_focal_loss": (
            catalog.loss_model(4, "softmax"),
            catalog.with_targets(catalog.class_ids(4)),
        ),
        "clip_loss": (two_tower, catalog.paired_views),
        "siglip_loss": (two_tower, catalog.paired_views),
        # Metric learning: Keras casts the class ids to float, exact while below 2**24.
        "triplet_loss": (catalog.loss_model(4), catalog.with_targets(catalog.class_ids(3))),
        "contrastive_pair_loss": (
            catalog.loss_model(1, "softplus"),
            catalog.with_targets(lambda rng: rng.integers(0, 2, (catalog.BATCH, 1)).astype("float32")),
        ),
        "npairs_loss": (two_tower, lambda rng: (catalog.paired_views(rng)[0], rng.permutation(catalog.BATCH))),
        "lifted_struct_loss": (catalog.loss_model(4), catalog.with_targets(catalog.class_ids(3))),
        "multi_similarity_loss": (catalog.loss_model(4), catalog.with_targets(catalog.class_ids(3))),
        "supervised_contrastive_loss": (catalog.loss_model(4), catalog.with_targets(catalog.class_ids(3))),
        "pinball_loss": (
            catalog.loss_model(1),
            catalog.with_targets(lambda rng: rng.normal(size=(catalog.BATCH, 1)).astype("float32")),
        ),
        "sparsemax_loss": (catalog.loss_model(4), catalog.with_targets(catalog.one_hot(4))),
        "crf_loss": (lambda loss: catalog.crf_training_model(loss=loss), catalog.crf_sequences),
        "structured_hinge_loss": (lambda loss: catalog.crf_training_model(loss=loss), catalog.crf_sequences),
    }
    return [
        catalog.Entry(name, (lambda f=getattr(keras_losses, name): f), model, data)
        for name, (model, data) in models.items()
    ]


def test_every_twin_but_the_tree_one_has_a_model_here():
    # hierarchical_softmax_loss needs `tree` (or path logits): a class does that job.
    # linear_cross_entropy(hidden, kernel, labels) is no (y_true, y_pred) function: it
    # takes the head's weights; LinearCrossEntropyLoss is the `loss=` of that head.
    covered = {entry.name for entry in twin_entries()}
    assert sorted(set(public_functions()) - covered) == ["hierarchical_softmax_loss", "linear_cross_entropy"]


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
