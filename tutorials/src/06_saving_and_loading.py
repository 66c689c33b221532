# %% [markdown]
# # Saving and loading
#
# A trained model is only useful if it can leave the process that trained it: to be
# evaluated tomorrow, trained further next week, or served by a program that has
# never seen the training code. Keras saves a model to one `.keras` file, a zip
# archive with two parts:
#
# - **the architecture as JSON** (`config.json`): every layer, and every object a
#   layer holds (its regularizers, its initializers), written as a class name and
#   the arguments to build it again; and the **compile config**: the loss, the
#   metrics, the optimizer;
# - **the weights** (`model.weights.h5`): the numbers, including the optimizer's.
#
# Loading runs this backwards: Keras reads each class name, finds the class, calls
# `from_config(arguments)` and fills in the weights. Finding the class is the step
# that matters here. Keras cannot import arbitrary code named in a file (that would
# let a downloaded model run anything), so it only looks in its own modules and in a
# **registry** of classes that the running program has registered. Every object of
# `keras_losses` registers itself when the package is imported, under the name
# `keras_losses>ClassName`. So the rule this tutorial checks, step by step, is short:
#
# > **wherever a model is loaded, run `import keras_losses` first.** Nothing else:
# > no `custom_objects`, no `safe_mode=False`.
#
# We train two small models that hold `keras_losses` objects in every place a model
# can hold them, save them, and then load them for real in **new Python processes**
# (started from this notebook with `subprocess`): one that imports `keras_losses`,
# and one that does not. We also export them for serving, look inside the file, and
# end with the promise that files saved today keep loading in later releases.

# %%
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
FAST = os.environ.get("KERAS_LOSSES_TUTORIAL_MODE") == "fast"  # CI runs a short version

import json
import logging
import re
import subprocess
import sys
import tempfile
import zipfile

import keras
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import keras_losses

logging.getLogger("tensorflow").setLevel(logging.ERROR)  # no retracing notices in the outputs
keras.utils.set_random_seed(0)
EPOCHS = 3 if FAST else 60
WORK = tempfile.mkdtemp(prefix="keras_losses_saving_")  # where the files of this tutorial go
print("keras", keras.__version__, "| backend", keras.backend.backend(), "| keras_losses", keras_losses.__version__,
      "| fast run" if FAST else "| full run")

# %% [markdown]
# ## 1. Two models worth saving
#
# **A tumour classifier.** scikit-learn's breast cancer data: 569 tumours, 30
# measurements each, 37% malignant (our positive class). A small network with
# three `keras_losses` objects in it:
#
# - the loss in `compile`: `BinaryFocalLoss(gamma=2.0, alpha=None, from_logits=True)`,
#   which down-weights the examples the model already gets right by $(1 - p_t)^\gamma$;
# - a regularizer on the hidden kernel: `L2(1e-3, half=True)`, which adds
#   $\tfrac{1}{2}\lambda \lVert W \rVert^2$ to the loss;
# - a bias initializer on the output: `PriorProbability(0.37)`, which sets the output
#   bias to $b = \log\frac{\pi}{1 - \pi}$ so that $\sigma(b) = \pi$: with small
#   starting weights on that layer (RetinaNet's normal of standard deviation 0.01),
#   the untrained model already predicts the base rate instead of 50%.
#
# **A digit reader with a hierarchical softmax.** The 8x8 digits, with a
# `HierarchicalSoftmax` output layer: the ten classes are the leaves of a binary tree
# (a Huffman tree built from the class counts), and the layer outputs one logit per
# internal node, $z_n = w_n^\top h + b_n$. A class's probability is the product of the
# branch probabilities on its path,
#
# $$p(c \mid h) = \prod_{n \in \text{path}(c)} \sigma\big(\pm z_n\big),$$
#
# with the sign saying which branch the path takes. The loss,
# `HierarchicalSoftmaxLoss(tree=tree)`, is its negative logarithm. Here the tree
# itself has to travel with the model: a file that restored the weights but not which
# node leads to which class would be useless. The hidden layer carries an
# `ElasticNet` regularizer.

# %%
cancer = load_breast_cancer()
x_all = cancer.data.astype("float32")
y_all = (cancer.target == 0).astype("float32")[:, None]  # 1 = malignant
x_train, x_test, y_train, y_test = train_test_split(x_all, y_all, test_size=0.25, random_state=0, stratify=y_all)
mean, std = x_train.mean(0), x_train.std(0)
x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
prior = float(y_train.mean())

features = keras.Input((30,), name="features")
hidden = keras.layers.Dense(16, activation="relu", kernel_regularizer=keras_losses.L2(1e-3, half=True))(features)
logit = keras.layers.Dense(1, kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),  # RetinaNet's start
                           bias_initializer=keras_losses.PriorProbability(prior), name="logit")(hidden)
tumour = keras.Model(features, logit, name="tumour")
start = float(np.mean(1 / (1 + np.exp(-tumour.predict(x_test, verbose=0)))))  # sigmoid of the first logits
tumour.compile(
    optimizer=keras.optimizers.Adam(1e-3),
    loss=keras_losses.BinaryFocalLoss(gamma=2.0, alpha=None, from_logits=True),
    metrics=[keras.metrics.BinaryAccuracy(threshold=0.0)],  # on logits: positive means malignant
)
tumour_history = tumour.fit(x_train, y_train, validation_data=(x_test, y_test), epochs=EPOCHS, batch_size=32,
                            verbose=0).history
print(f"Before training the tumour model predicts {start:.1%} malignant on average (the prior is {prior:.1%}); "
      f"after {EPOCHS} epochs its test accuracy is {tumour_history['val_binary_accuracy'][-1]:.1%}.")

digits = load_digits()
dx_train, dx_test, dy_train, dy_test = train_test_split(
    (digits.data / 16.0).astype("float32"), digits.target.astype("int32"), test_size=0.2, random_state=0
)
tree = keras_losses.Tree.huffman(np.bincount(dy_train, minlength=10))
pixels = keras.Input((64,), name="pixels")
digit_hidden = keras.layers.Dense(64, activation="relu", kernel_regularizer=keras_losses.ElasticNet(1e-5, 1e-4),
                                  name="hidden")(pixels)
tree_output = keras_losses.HierarchicalSoftmax(tree, name="tree_output")
reader = keras.Model(pixels, tree_output(digit_hidden), name="digit_reader")
reader.compile(optimizer=keras.optimizers.Adam(3e-3), loss=keras_losses.HierarchicalSoftmaxLoss(tree=tree))
reader.fit(dx_train, dy_train, epochs=EPOCHS, batch_size=32, verbose=0)
reader_features = keras.Model(pixels, digit_hidden)  # the same Dense layer: shares its weights
digit_log_probs = np.asarray(tree_output.log_probs(reader_features.predict(dx_test, verbose=0)))
digit_accuracy = float(np.mean(digit_log_probs.argmax(1) == dy_test))
print(f"The digit reader's {tree.num_nodes} node logits give a test accuracy of {digit_accuracy:.1%} "
      f"through its {tree!r}.")
if not FAST:
    assert abs(start - prior) < 0.02 and tumour_history["val_binary_accuracy"][-1] > 0.9
    assert digit_accuracy > 0.9

# %% [markdown]
# Saving is one call per model. Beside each file we keep the test inputs, the labels,
# the predictions and the evaluated loss, so that another process can check what it
# loads against them. Note that the evaluated loss is the focal loss **plus** the
# regularization penalty of the weights: if either object came back different, the
# number would change.

# %%
tumour_predictions = tumour.predict(x_test, verbose=0)
tumour_loss = tumour.evaluate(x_test, y_test, verbose=0, return_dict=True)["loss"]
reader_predictions = reader.predict(dx_test, verbose=0)
reader_loss = reader.evaluate(dx_test, dy_test, verbose=0, return_dict=True)["loss"]

tumour.save(os.path.join(WORK, "tumour.keras"))
reader.save(os.path.join(WORK, "digit_reader.keras"))
np.savez(os.path.join(WORK, "tumour.npz"), x=x_test, y=y_test, predictions=tumour_predictions, loss=tumour_loss)
np.savez(os.path.join(WORK, "digit_reader.npz"), x=dx_test, y=dy_test, predictions=reader_predictions,
         loss=reader_loss)
for name in sorted(os.listdir(WORK)):
    print(f"{name:20s} {os.path.getsize(os.path.join(WORK, name)) / 1024:6.1f} KiB")

# %% [markdown]
# ## 2. Loading elsewhere, after `import keras_losses`
#
# "Elsewhere" should mean a program that shares nothing with this notebook: no class
# defined here, no object still in memory. So we write the loading program to a file
# and run it in a **new Python process**. It is what a user of the saved model
# writes: import Keras, import `keras_losses`, and call `keras.saving.load_model`
# with `safe_mode=True` (the default, spelled out: safe mode refuses to run code
# stored in a file, such as a `Lambda` layer's bytecode; our objects are plain
# configs, so they need no exception).
#
# The program loads each model twice: normally, to predict and to evaluate the loss
# (which needs the compile config), and with `compile=False`, the inference-only
# load that skips the loss, the metrics and the optimizer state.

# %%
LOAD_ELSEWHERE = '''
import json, sys
import numpy as np
import keras
import keras_losses  # registers every keras_losses class with Keras: the only line this file needs

folder, report = sys.argv[1], {}
for name in ("tumour", "digit_reader"):
    stored = np.load(f"{folder}/{name}.npz")
    model = keras.saving.load_model(f"{folder}/{name}.keras", safe_mode=True)
    predictions = model.predict(stored["x"], verbose=0)
    loss = model.evaluate(stored["x"], stored["y"], verbose=0, return_dict=True)["loss"]
    np.save(f"{folder}/{name}_reloaded.npy", predictions)
    inference_only = keras.saving.load_model(f"{folder}/{name}.keras", compile=False)
    held = [model.loss] + [getattr(layer, attribute) for layer in model.layers
                           for attribute in ("kernel_regularizer", "bias_initializer") if hasattr(layer, attribute)]
    report[name] = {
        "prediction_error": float(np.max(np.abs(predictions - stored["predictions"]))),
        "loss": float(loss),
        "loss_error": abs(float(loss) - float(stored["loss"])),
        "optimizer_steps": int(model.optimizer.iterations),
        "keras_losses_objects": [type(obj).__name__ for obj in held + model.layers
                                 if type(obj).__module__.startswith("keras_losses")],
        "inference_only_compiled": inference_only.compiled,
        "inference_only_error": float(np.max(np.abs(inference_only.predict(stored["x"], verbose=0)
                                                    - stored["predictions"]))),
    }
    if name == "digit_reader":
        report[name]["tree"] = repr(model.get_layer("tree_output").tree)
print(json.dumps(report))
'''


def run_python(code, *args):
    """Runs `code` in a new Python process and returns the JSON it prints last."""
    path = os.path.join(WORK, "program.py")
    with open(path, "w") as f:
        f.write(code)
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(keras_losses.__file__)))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": os.pathsep.join([package_root, os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, path, *args], capture_output=True, text=True, env=env, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"the program failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


elsewhere = run_python(LOAD_ELSEWHERE, WORK)
for name, report in elsewhere.items():
    print(f"{name}: keras_losses objects restored {report['keras_losses_objects']}")
    print(f"    predictions differ by at most {report['prediction_error']:.1e}, evaluated loss "
          f"{report['loss']:.5f} (here {float(np.load(os.path.join(WORK, name + '.npz'))['loss']):.5f}, "
          f"difference {report['loss_error']:.1e}), optimizer steps {report['optimizer_steps']}")
    print(f"    compile=False: compiled={report['inference_only_compiled']}, "
          f"predictions differ by at most {report['inference_only_error']:.1e}")
print(f"    the tree came back as {elsewhere['digit_reader']['tree']}")

reload_error = max(r["prediction_error"] for r in elsewhere.values())
reload_loss_error = max(r["loss_error"] for r in elsewhere.values())
print(f"In a fresh process, after nothing but `import keras_losses`, both models load with safe_mode=True and "
      f"reproduce their predictions to within {reload_error:.1e} and their evaluated losses to within "
      f"{reload_loss_error:.1e}.")
if not FAST:
    assert reload_error <= 1e-6 and reload_loss_error <= 1e-6, elsewhere
    assert set(elsewhere["tumour"]["keras_losses_objects"]) == {"BinaryFocalLoss", "L2", "PriorProbability"}
    assert set(elsewhere["digit_reader"]["keras_losses_objects"]) == {
        "HierarchicalSoftmaxLoss", "ElasticNet", "HierarchicalSoftmax"}
    assert elsewhere["digit_reader"]["tree"] == repr(tree)
    assert elsewhere["tumour"]["optimizer_steps"] == int(tumour.optimizer.iterations)
    assert not any(r["inference_only_compiled"] for r in elsewhere.values())
    assert max(r["inference_only_error"] for r in elsewhere.values()) <= 1e-6

# %% [markdown]
# The lines printed above are this section's result. Every `keras_losses` object came
# back as itself (the loss, the regularizers, the initializer and the layer), the
# predictions and the evaluated loss (data loss plus penalties) match, and the
# optimizer's step count came back too: a model loaded this way can continue training
# where it stopped, with Adam's moment estimates intact. The Huffman tree came back
# from the class counts stored in the config.
#
# The `compile=False` load gives the same predictions, and a model that is not
# compiled: it has no loss and no optimizer, so `evaluate` and `fit` need a new
# `compile` first. Use it for inference: it skips building the loss and the
# optimizer, and it lets you compile with something else (a different learning rate
# for fine-tuning, say). It does **not** free you from the import when the model's
# layers hold `keras_losses` objects, as section 4 shows.
#
# ## 3. Exporting for serving
#
# A `.keras` file is for Python programs that have Keras and `keras_losses`. A
# serving system (TensorFlow Serving, a C++ or Java program, a TFLite converter) wants
# something else: a **TensorFlow SavedModel**, a directory holding the forward pass
# as a TensorFlow graph plus the weights as variables. On the TensorFlow backend,
# `model.export(path)` writes one. Tracing turns every Python object that takes part
# in the forward pass into graph operations, so the result needs no Python class at
# all to run.
#
# What the forward pass is matters. For the tumour model it is the logit, which is
# what a server wants. The digit reader's `call` returns the nine node logits, and
# turning them into ten class probabilities is a method of the layer,
# `log_probs`, which `model.export` would leave out. `keras.export.ExportArchive`
# lets us trace that method into the SavedModel as a second endpoint, so that the
# server gets the class probabilities, with the tree's path tables inside the graph's
# variables.

# %%
tumour.export(os.path.join(WORK, "tumour_serving"), verbose=False)

archive = keras.export.ExportArchive()
archive.track(reader)
archive.add_endpoint("serve", reader, input_signature=[keras.InputSpec(shape=(None, 64), dtype="float32", name="pixels")])
archive.add_endpoint(
    "class_log_probs",
    lambda x: tree_output.log_probs(reader_features(x)),
    input_signature=[keras.InputSpec(shape=(None, 64), dtype="float32", name="pixels")],
)
archive.write_out(os.path.join(WORK, "digit_reader_serving"), verbose=False)
np.save(os.path.join(WORK, "digit_log_probs.npy"), digit_log_probs)
print(sorted(os.listdir(os.path.join(WORK, "tumour_serving"))))

# %% [markdown]
# ## 4. A process without `keras_losses`
#
# Now a second new process, which never imports `keras_losses`. It first serves both
# exported models with nothing but TensorFlow (`tf.saved_model.load`, then the
# signatures a server would call), and checks that `keras_losses` is still absent from
# `sys.modules`. Then it tries what does **not** work: loading the `.keras` files.
# Besides our two models it gets a third, tiny one, saved just below: one `Dense`
# layer with an `L1` regularizer, compiled with `Hinge`, to show the two forms the
# error takes.

# %%
tiny = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, kernel_regularizer=keras_losses.L1(0.01))],
                        name="tiny")
tiny.compile(optimizer="sgd", loss=keras_losses.Hinge())
tiny.save(os.path.join(WORK, "tiny.keras"))

WITHOUT_THE_IMPORT = '''
import json, sys
import numpy as np
import tensorflow as tf  # and nothing else: no keras_losses

folder, report = sys.argv[1], {}
tumour = tf.saved_model.load(f"{folder}/tumour_serving")
signature = tumour.signatures["serving_default"]
inputs = list(signature.structured_input_signature[1])
stored = np.load(f"{folder}/tumour.npz")
served = signature(**{inputs[0]: tf.constant(stored["x"])})
served = next(iter(served.values())).numpy()
np.save(f"{folder}/tumour_served.npy", served)
report["tumour_signature"] = {"inputs": inputs, "outputs": list(signature.structured_outputs)}
report["tumour_served_error"] = float(np.max(np.abs(served - stored["predictions"])))

reader = tf.saved_model.load(f"{folder}/digit_reader_serving")
stored = np.load(f"{folder}/digit_reader.npz")
log_probs = reader.signatures["class_log_probs"](pixels=tf.constant(stored["x"]))["output_0"].numpy()
np.save(f"{folder}/digit_served.npy", log_probs)
report["digit_signatures"] = sorted(reader.signatures)
report["digit_served_error"] = float(np.max(np.abs(log_probs - np.load(f"{folder}/digit_log_probs.npy"))))
report["digit_served_accuracy"] = float(np.mean(log_probs.argmax(1) == stored["y"]))
report["keras_losses_imported"] = "keras_losses" in sys.modules

import keras
report["loads"] = {}
for name, compile in [("tumour", True), ("tumour", False), ("digit_reader", True), ("tiny", True), ("tiny", False)]:
    try:
        model = keras.saving.load_model(f"{folder}/{name}.keras", compile=compile)
        regularizer = type(model.layers[-1].kernel_regularizer)
        outcome = f"loaded; its kernel_regularizer is {regularizer.__module__}.{regularizer.__name__}"
    except Exception as error:
        outcome = f"{type(error).__name__}: {error}"
    report["loads"][f"load_model('{name}.keras', compile={compile})"] = outcome
print(json.dumps(report))
'''

without = run_python(WITHOUT_THE_IMPORT, WORK)
print(f"keras_losses imported in that process: {without['keras_losses_imported']}")
print(f"tumour_serving: serving_default takes {without['tumour_signature']['inputs']} and returns "
      f"{without['tumour_signature']['outputs']}; it differs from the Keras predictions by at most "
      f"{without['tumour_served_error']:.1e}")
print(f"digit_reader_serving: signatures {without['digit_signatures']}; class_log_probs differs from "
      f"layer.log_probs by at most {without['digit_served_error']:.1e}, accuracy {without['digit_served_accuracy']:.1%}")
served_error = max(without["tumour_served_error"], without["digit_served_error"])
print(f"Served from the exported SavedModels by a process that never imported keras_losses, the outputs "
      f"match the trained models' to within {served_error:.1e}.")
if not FAST:
    assert not without["keras_losses_imported"]
    assert served_error <= 1e-5, without
    assert without["digit_served_accuracy"] == digit_accuracy

# %% [markdown]
# And the figure of this tutorial: the same numbers in three places. On the left, the
# tumour model's training (the test loss is what `evaluate` reports, penalty
# included), with its evaluated loss after reloading in the first process. In the
# middle and on the right, every test prediction of both models, against what the
# reloaded model (first process, with the import) and the exported SavedModel (second
# process, without it) give for the same input: all on the diagonal.

# %%
tumour_reloaded = np.load(os.path.join(WORK, "tumour_reloaded.npy"))
tumour_served = np.load(os.path.join(WORK, "tumour_served.npy"))
reader_reloaded = np.load(os.path.join(WORK, "digit_reader_reloaded.npy"))
digit_served = np.load(os.path.join(WORK, "digit_served.npy"))
# Node logits -> class log-probabilities, the same way (NumPy, through the tree) for both sides of the comparison.
reader_reloaded_log_probs, reader_log_probs = np.asarray(tree.log_probs(reader_reloaded)), np.asarray(
    tree.log_probs(reader_predictions))

fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
epochs = np.arange(1, EPOCHS + 1)
axes[0].plot(epochs, tumour_history["loss"], label="training loss")
axes[0].plot(epochs, tumour_history["val_loss"], label="test loss")
axes[0].plot(EPOCHS, tumour_loss, "o", ms=11, mfc="none", mec="k", label="evaluate(), this notebook")
axes[0].plot(EPOCHS, elsewhere["tumour"]["loss"], "x", ms=9, color="C3", label="evaluate(), fresh process")
axes[0].set(xlabel="epoch", ylabel="focal loss + L2 penalty", yscale="log", title="Tumour model: training, then reload")
axes[0].legend()

probability = lambda logits: 1 / (1 + np.exp(-logits))  # noqa: E731
p_trained = probability(tumour_predictions[:, 0])
p_reloaded, p_served = probability(tumour_reloaded[:, 0]), probability(tumour_served[:, 0])
axes[1].plot([0, 1], [0, 1], color="lightgrey", lw=4, zorder=0)
axes[1].scatter(p_trained, p_reloaded, s=40, facecolors="none", edgecolors="C0",
                label=f".keras reloaded, with the import: max |diff| {np.abs(p_reloaded - p_trained).max():.0e}")
axes[1].scatter(p_trained, p_served, s=8, color="C3",
                label=f"SavedModel, without it: max |diff| {np.abs(p_served - p_trained).max():.0e}")
axes[1].set(xlabel="P(malignant), trained model", ylabel="P(malignant), elsewhere",
            title="Tumour model: every test prediction")
axes[1].legend(loc="upper left", fontsize=9)

low = float(min(digit_log_probs.min(), -1)) - 1
axes[2].plot([low, 0], [low, 0], color="lightgrey", lw=4, zorder=0)
axes[2].scatter(reader_log_probs.ravel(), reader_reloaded_log_probs.ravel(), s=40, facecolors="none", edgecolors="C0",
                label=f".keras reloaded, with the import: max |diff| "
                      f"{np.abs(reader_reloaded_log_probs - reader_log_probs).max():.0e}")
axes[2].scatter(digit_log_probs.ravel(), digit_served.ravel(), s=8, color="C3",
                label=f"SavedModel, without it: max |diff| {np.abs(digit_served - digit_log_probs).max():.0e}")
axes[2].set(xlim=(low, 1), ylim=(low, 1), xlabel="log p(class), trained model", ylabel="log p(class), elsewhere",
            title="Digit reader: class log-probabilities")
axes[2].legend(loc="upper left", fontsize=9)
fig.suptitle("The same numbers in three places: this notebook, a reload in a new process, a served export")
plt.tight_layout()
plt.show()

# %% [markdown]
# ### What exactly the export needs
#
# The second process served both models with **TensorFlow alone**. Precisely:
#
# - **needed**: a TensorFlow runtime that has the graph's operations (this version,
#   or a later 2.x: TensorFlow keeps older graphs loadable within a major version),
#   and the exported directory: `saved_model.pb` (the graph and its signatures) and
#   `variables/` (the weights). In Python, `import tensorflow` loads parts of Keras
#   too, but no Keras object is rebuilt: `tf.saved_model.load` returns plain
#   TensorFlow functions. The same directory is what TensorFlow Serving, a C++ server,
#   reads.
# - **not needed**: `keras_losses`, any Python class, `custom_objects`. The
#   `HierarchicalSoftmax` layer's computation became graph operations on its
#   variables (the node weights and the path tables), the `PriorProbability` and the
#   regularizers already did their work (the first set a starting value, long since
#   trained; the others only shape training).
# - **not there**: the loss, the regularizers, the metrics, the optimizer and its
#   state. An export is for inference only; it cannot evaluate the training loss or
#   continue training. Keep the `.keras` file for that. Only the endpoints you
#   export exist: the digit reader's class probabilities are there because we traced
#   `log_probs` into the archive; its `top_k` is not.
#
# We exported on the TensorFlow backend. `model.export` has other formats too
# (`format="onnx"`, `"litert"`, and `"torch"` on the PyTorch backend), each read by its
# own runtime; the rule is the same: what is traced is the forward pass.
#
# ### Reading the error
#
# The same process then called `keras.saving.load_model` on the `.keras` files. A
# failed load raises one exception whose message nests the failures from the outside
# in: the model could not be built because a layer could not, because an object in
# the layer could not... each step followed by the config it was building, separated
# by `Exception encountered:`. Below, each message is shown as that chain (the first
# line of each step), then the `keras_losses` names its configs contain.

# %%
def read_error(message):
    """The chain of a Keras deserialization error, outermost first, and the keras_losses names it holds."""
    kind, _, text = message.partition(": ")
    steps = [step.strip().splitlines()[0] for step in text.split("Exception encountered:")]
    return kind, steps, sorted(set(re.findall(r"'registered_name': '(keras_losses>\w+)'", text)))


chains = {}
for call, outcome in without["loads"].items():
    print(call)
    if outcome.startswith("loaded"):
        print(f"    {outcome}\n")
        continue
    kind, steps, names = chains[call] = read_error(outcome)
    for depth, step in enumerate(steps):
        print(f"    {'  ' * depth}{kind if depth == 0 else '->'} {step[:105]}{' ...' if len(step) > 105 else ''}")
    print(f"    keras_losses objects named in the message: {names}\n")

tumour_kind, tumour_steps, tumour_names = chains["load_model('tumour.keras', compile=True)"]
tiny_kind, tiny_steps, tiny_names = chains["load_model('tiny.keras', compile=True)"]
print(f"Without `import keras_losses` the tumour model fails with {tumour_kind} (also with compile=False), the "
      f"innermost step being \"{tumour_steps[-1]}\", while its message names {tumour_names}; the tiny model's "
      f"Hinge loss fails with \"{tiny_steps[-1].split('. ')[0]}\", and with compile=False it loads.")
if not FAST:
    assert tumour_kind == "TypeError" and "keras_losses>L2" in tumour_names
    assert "unexpected keyword argument 'half'" in tumour_steps[-1]
    assert chains["load_model('tumour.keras', compile=False)"][0] == "TypeError"
    digit_steps, digit_names = chains["load_model('digit_reader.keras', compile=True)"][1:]
    assert digit_steps[-1].startswith("Could not interpret regularizer identifier") and "keras_losses>ElasticNet" in digit_names
    assert tiny_kind == "TypeError" and tiny_steps[-1].startswith("Could not locate class 'Hinge'")
    assert tiny_names == ["keras_losses>Hinge"]
    assert without["loads"]["load_model('tiny.keras', compile=False)"].endswith("keras.src.regularizers.regularizers.L1")

# %% [markdown]
# How to read these:
#
# 1. **Search the message for `keras_losses>`.** Every object in a saved config
#    carries a `registered_name`; the part before `>` is the package that registered
#    the class. Finding `'registered_name': 'keras_losses>L2'` means: run
#    `import keras_losses` (after `pip install keras-losses` if needed) before
#    loading. That is the whole fix.
# 2. **Don't trust the last line alone.** It takes three forms, all above. For a
#    loss (the tiny model's `Hinge`, in the compile config) it says it plainly:
#    `Could not locate class 'Hinge'`, followed by the config with its
#    `registered_name`. For a regularizer held by a layer, Keras looks the short class
#    name up among its *own* regularizers first: `ElasticNet` is not one of them, so
#    the digit reader's error says `Could not interpret regularizer identifier` and
#    prints the config; but `L2` is, so for the tumour model Keras built its own `L2`
#    from our config and failed on the argument it does not have, `half`. That last
#    line blames a keyword argument; the `registered_name` in the configs above it
#    tells the real story. (Layers are built before the model is compiled, so a
#    model whose layers fail never gets as far as its loss.)
# 3. **It can even load.** The tiny model's `L1` has the same name and the same
#    argument as Keras's `L1`, so with `compile=False` (which skips the loss) that
#    model loaded, holding `keras.regularizers.L1` instead of ours. That one computes
#    the same penalty, but the model no longer holds the object it was saved with,
#    and saving it again writes Keras's. A load without the import that happens to
#    succeed is luck, not a guarantee.
# 4. **No `custom_objects`, no `safe_mode=False`.** `custom_objects` exists for
#    classes that were never registered; the import registers all of ours. Safe mode
#    has nothing to do with this error: it only refuses code stored in the file
#    (`Lambda` layers).
# 5. **`compile=False` does not help when layers hold `keras_losses` objects**: it
#    skips the compile config (the loss), but the regularizers, initializers and
#    layers belong to the architecture, which must be built to receive the weights.
#    It only gets around a missing *loss*, and then the model has no loss.
#
# ## 5. What is inside the file
#
# A `.keras` file is an ordinary zip archive, so we can open it. It holds
# `metadata.json` (the Keras version that saved it, and the date), `config.json` and
# `model.weights.h5`.

# %%
with zipfile.ZipFile(os.path.join(WORK, "tumour.keras")) as archive_file:
    for info in archive_file.infolist():
        print(f"{info.filename:18s} {info.file_size:7d} bytes")
    config = json.loads(archive_file.read("config.json"))
    metadata = json.loads(archive_file.read("metadata.json"))
print("metadata.json:", metadata)


def registered_names(node, path="config"):
    """(where, registered_name) of every object in a config that a package registered."""
    found = []
    if isinstance(node, dict):
        name = node.get("registered_name")
        if isinstance(name, str) and ">" in name:
            found.append((path, name))
        for key, value in node.items():
            found += registered_names(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += registered_names(value, f"{path}[{i}]")
    return found


print("\nObjects registered by a package, and where the config holds them:")
for where, name in registered_names(config):
    print(f"    {name:32s} at {where}")
print("\nThe loss, in the compile config:")
print(json.dumps(config["compile_config"]["loss"], indent=2))
found = {name for _, name in registered_names(config)}
print(f"The tumour model's config.json names {len(found)} keras_losses objects: {sorted(found)}.")
if not FAST:
    assert found == {"keras_losses>BinaryFocalLoss", "keras_losses>L2", "keras_losses>PriorProbability"}, found

# %% [markdown]
# Every object appears as a small dict: `module` and `class_name` (where the class was
# defined), `config` (the arguments that rebuild it, every one of them, including
# `dtype`: `None` means the loss computes in float32, Keras's default, and an
# explicit dtype would be written here and restored), and `registered_name`, the key
# Keras looks up in its registry. The regularizer and initializer sit inside the
# configs of the layers that hold them; the loss sits in the `compile_config`, which
# is read only when the model is compiled on load. The digit reader's file holds its
# tree the same way, as a Huffman tree's class counts inside the layer's config and
# the loss's, and as the layer's two integer path tables among the weights.
#
# ## 6. One object at a time
#
# The same mechanism works for a single loss, regularizer or initializer, outside any
# model: `keras.saving.serialize_keras_object` produces the dict above and
# `keras.saving.deserialize_keras_object` turns it back into the object. The loss
# getter `keras.losses.get` accepts the dict form too, so a loss can be chosen in a
# JSON or YAML experiment config. It does **not** accept the string form
# `"keras_losses>Hinge"`: for strings it only knows the names of the built-in losses.

# %%
loss = keras_losses.Hinge(margin=0.5, dtype="bfloat16")
serialized = keras.saving.serialize_keras_object(loss)
print("serialize_keras_object:", serialized)
restored = keras.saving.deserialize_keras_object(serialized)
from_dict = keras.losses.get({"class_name": "keras_losses>Hinge", "config": {"margin": 0.5}})
print("deserialize_keras_object:", restored, "| dtype", restored.dtype)
print("keras.losses.get(dict):  ", from_dict)
try:
    keras.losses.get("keras_losses>Hinge")
    string_form = "accepted"
except ValueError as error:
    string_form = f"{type(error).__name__}: {error}"
print("keras.losses.get(str):   ", string_form)
print("keras.saving.get_registered_object(str):", keras.saving.get_registered_object("keras_losses>Hinge"))

builtin = keras.losses.BinaryCrossentropy(dtype="bfloat16")
builtin_back = keras.losses.BinaryCrossentropy.from_config(builtin.get_config())
print(f"Our losses keep dtype through their config ({restored.dtype}); the built-in BinaryCrossentropy's config "
      f"drops it ({builtin_back.dtype} after a round trip). keras.losses.get resolves the dict form and refuses the "
      f"string form with {string_form.split(':')[0]}.")
if not FAST:
    assert isinstance(restored, keras_losses.Hinge) and restored.get_config() == loss.get_config()
    assert restored.dtype == "bfloat16" and builtin_back.dtype == "float32"
    assert isinstance(from_dict, keras_losses.Hinge) and from_dict.get_config()["margin"] == 0.5
    assert string_form.startswith("ValueError: Could not interpret loss identifier")

# %% [markdown]
# In the dict form, `"class_name": "keras_losses>Hinge"` is the registered name (the
# plain `"Hinge"` would give Keras's own hinge), and `config` may leave out arguments
# that keep their defaults. If a string is all you have,
# `keras.saving.get_registered_object("keras_losses>Hinge")` returns the class, as the
# last line shows.
#
# ## 7. The golden-file promise
#
# A model saved today must still load after an upgrade of `keras_losses`. Each
# release commits small models saved with its objects under
# `tests/golden/<version>/` (a `.keras` file and the inputs and outputs it gave, in a
# `.npz`), and the test suite of every later release loads all of them, in a new
# process after only `import keras_losses`, and requires the same predictions and
# evaluated losses. Renaming a class, changing an argument's name or its default, or
# changing what a config holds would break those files, so such a change has to keep
# accepting the old config. The folder ships with the source repository; here we
# check the files that are there with the helper the tests use
# (`python -m keras_losses.testing.roundtrip tests/golden/<version>` does the same
# from a shell).

# %%
from keras_losses.testing import roundtrip

golden = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(keras_losses.__file__))), "tests", "golden")
if os.path.isdir(golden):
    versions = sorted(v for v in os.listdir(golden) if os.path.isdir(os.path.join(golden, v)))
    results = [] if FAST else [r for v in versions for r in roundtrip.check(os.path.join(golden, v))]
    for version in versions:
        names = sorted(f[:-6] for f in os.listdir(os.path.join(golden, version)) if f.endswith(".keras"))
        print(f"tests/golden/{version}: {len(names)} models: {', '.join(names)}")
    if results:
        worst = max(r.get("prediction_error", np.inf) for r in results)
        print(f"All {sum(r['ok'] for r in results)} of {len(results)} golden models load and reproduce their "
              f"stored predictions (largest difference {worst:.1e}).")
        assert all(r["ok"] for r in results), [r for r in results if not r["ok"]]
else:
    print("No tests/golden folder next to this keras_losses (an installed copy): the source repository has it.")

# %% [markdown]
# ## Summary
#
# - Save with `model.save("model.keras")`. Every `keras_losses` object in the model
#   (the loss in `compile`, regularizers and initializers in layers, layers such as
#   `HierarchicalSoftmax` with their trees) is written as a config with
#   `registered_name: "keras_losses>ClassName"`, its `dtype` included.
# - Load anywhere with `import keras_losses` and then `keras.saving.load_model(path)`:
#   safe mode on, no `custom_objects`. The model comes back with its loss and
#   optimizer state, ready to evaluate or to train further; `compile=False` loads it
#   for inference only.
# - Without the import, the error is `TypeError: Could not locate class ...`; the
#   `registered_name` in the config it prints names the package to import.
# - For serving, `model.export(path)` (or `keras.export.ExportArchive` for extra
#   endpoints such as `log_probs`) writes a TensorFlow SavedModel that runs with
#   TensorFlow alone; it holds the forward pass and the weights, not the loss.
# - Single objects go through `keras.saving.serialize_keras_object` and the dict form
#   of `keras.losses.get`; the string `"keras_losses>Hinge"` is not a loss identifier.
# - Files saved by a release keep loading in later ones: `tests/golden/` holds them
#   and the test suite checks them.
