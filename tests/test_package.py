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


# The public surface, written from API.md (not from the code): a new public object is
# a change of the contract, so its names are added here by hand.
LOSSES = {
    "MeanSquaredLogarithmicError": "mean_squared_logarithmic_error",
    "Hinge": "hinge",
    "SquaredHinge": "squared_hinge",
    "MulticlassHinge": "multiclass_hinge",
    "SparseMulticlassHinge": "sparse_multiclass_hinge",
    "BinaryFocalLoss": "binary_focal_loss",
    "CategoricalFocalLoss": "categorical_focal_loss",
    "SparseCategoricalFocalLoss": "sparse_categorical_focal_loss",
    "CLIPLoss": "clip_loss",
    "SigLIPLoss": "siglip_loss",
    "HierarchicalSoftmaxLoss": "hierarchical_softmax_loss",
    "TripletLoss": "triplet_loss",
    "ContrastivePairLoss": "contrastive_pair_loss",
    "NPairsLoss": "npairs_loss",
    "LiftedStructLoss": "lifted_struct_loss",
    "MultiSimilarityLoss": "multi_similarity_loss",
    "SupervisedContrastiveLoss": "supervised_contrastive_loss",
    "PinballLoss": "pinball_loss",
    "SparsemaxLoss": "sparsemax_loss",
    "CRFLoss": "crf_loss",
    "StructuredHingeLoss": "structured_hinge_loss",
    "LinearCrossEntropyLoss": "linear_cross_entropy",
}
OTHER_OBJECTS = {
    "layers": ["ContrastiveLogits", "CRF", "HierarchicalSoftmax", "LinearCrossEntropyHead"],
    "regularizers": ["DataLoss", "ElasticNet", "GroupLasso", "L1", "L2", "LogRegularizationLoss", "MaxNormPenalty"],
    "initializers": ["PriorProbability"],
    "optimizers": ["LazyAdam"],
    "trees": ["Tree"],
}
MODULES = ["crf", "initializers", "layers", "losses", "optimizers", "regularizers", "trees"]


# Sub-packages for tests and the verify command: an import of them binds their name.
SUPPORT = {"testing", "verify"}


def _public(module):
    return {name for name in vars(module) if not name.startswith("_")} - SUPPORT


def test_the_top_level_is_the_public_surface_of_api_md():
    expected = {*LOSSES, *LOSSES.values(), *sum(OTHER_OBJECTS.values(), []), *MODULES, "keras"}
    assert sorted(_public(keras_losses) - expected) == [], "a name that API.md does not list"
    assert sorted(expected - _public(keras_losses)) == [], "a name of API.md that is not exported"


def test_every_top_level_object_is_its_sub_module_s():
    for name in LOSSES.keys() | set(LOSSES.values()):
        assert getattr(keras_losses.losses, name) is getattr(keras_losses, name), name
    assert set(keras_losses.losses.__all__) == LOSSES.keys() | set(LOSSES.values())
    for module, names in OTHER_OBJECTS.items():
        for name in names:
            assert getattr(getattr(keras_losses, module), name) is getattr(keras_losses, name), name
    # Tools that change a model stay in their sub-module; the base class stays in losses.
    assert callable(keras_losses.regularizers.apply) and callable(keras_losses.optimizers.sparse_updates)
    assert issubclass(keras_losses.losses.Loss, __import__("keras").losses.Loss)
    assert keras_losses.crf.__name__ == "keras_losses.crf"  # the module, not the layer or a loss


def test_unset_backend_error_says_what_is_installed_and_what_to_set(tmp_path):
    # As with `pip install keras-losses[jax]` and no KERAS_BACKEND: Keras falls back
    # to TensorFlow, which is not there.
    from keras_losses import _startup

    block = (
        "import sys\n"
        "class NotInstalled:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'tensorflow':\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, NotInstalled())\n"
        "import keras_losses\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["KERAS_HOME"] = str(tmp_path)  # no keras.json choosing a backend
    result = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode != 0
    message = result.stderr.split("ImportError: ")[-1]
    assert "KERAS_BACKEND is not set" in message
    assert "'tensorflow', which is not installed" in message
    others = [b for b in _startup.installed_backends() if b != "tensorflow"]
    if others:
        assert f"Installed backends: {', '.join(others)}." in message
        assert f"export KERAS_BACKEND={others[0]}" in message
    assert "pip install 'keras-losses[tensorflow]'" in message


def test_backend_error_messages():
    from keras_losses import _startup

    missing_keras = ModuleNotFoundError("No module named 'keras'", name="keras")
    assert "Install it with one of them" in _startup.import_error_message(missing_keras)
    os.environ["KERAS_BACKEND"], saved = "torch", os.environ.get("KERAS_BACKEND")
    try:
        message = _startup.import_error_message(ModuleNotFoundError("No module named 'torch'", name="torch"))
    finally:
        if saved is None:
            del os.environ["KERAS_BACKEND"]
        else:
            os.environ["KERAS_BACKEND"] = saved
    assert "KERAS_BACKEND is set to 'torch'" in message


def _keras_requirement():
    tomllib = __import__("pytest").importorskip("tomllib")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "pyproject.toml"), "rb") as f:
        dependencies = tomllib.load(f)["project"]["dependencies"]
    from packaging.requirements import Requirement

    (keras_req,) = [Requirement(d) for d in dependencies if Requirement(d).name == "keras"]
    with open(os.path.join(root, "constraints", "ci.txt")) as f:
        pinned = [line.split("==")[1].strip() for line in f if line.startswith("keras==")]
    return keras_req, pinned


def test_declared_keras_range_is_the_tested_one():
    # keras_losses imports keras.src (private): the range must be closed, its floor
    # the version CI pins, and the Keras running this test (the pinned one, or
    # keras-nightly in its CI stage) must lie inside it.
    import keras

    keras_req, pinned = _keras_requirement()
    bounds = {spec.operator: spec.version for spec in keras_req.specifier}
    assert bounds.get(">=") == pinned[0], (keras_req, pinned)
    assert "<" in bounds, f"{keras_req}: keras.src is imported, so the range needs a ceiling"
    assert keras_req.specifier.contains(keras.__version__, prereleases=True), (keras.__version__, str(keras_req))
