"""Train a small classifier with a keras_losses loss, save it, load it in a new process.

    python examples/quickstart.py

A linear multiclass SVM (CS231n's Weston-Watkins hinge) on three Gaussian clusters:
it trains with `model.compile(loss=keras_losses.MulticlassHinge())`, is saved to a
`.keras` file, and a second Python process that only ran `import keras_losses`
loads it and reproduces the predictions and the evaluated loss.
"""

import os
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_losses  # noqa: E402

LOAD_AND_CHECK = """
import sys
import numpy as np
import keras
import keras_losses  # registers the package's objects: nothing else is needed

path, data = sys.argv[1], np.load(sys.argv[2])
model = keras.saving.load_model(path)  # safe_mode=True, the default
loss, _ = model.evaluate(data["x"], data["y"], verbose=0)
same = np.allclose(model.predict(data["x"], verbose=0), data["predictions"], atol=1e-6)
print(f"loaded in a new process: loss {loss:.4f}, predictions identical: {same}")
sys.exit(0 if same and abs(loss - float(data["loss"])) < 1e-5 else 1)
"""


def clusters(n_per_class=200, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 3.0], [-3.0, -1.5], [3.0, -1.5]])
    x = np.concatenate([c + rng.normal(size=(n_per_class, 2)) for c in centres])
    y = np.repeat(np.arange(3), n_per_class)
    order = rng.permutation(len(y))
    return x[order].astype("float32"), np.eye(3, dtype="float32")[y[order]]


def main():
    keras.utils.set_random_seed(0)
    x, y = clusters()
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, name="scores")])
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=keras_losses.MulticlassHinge(margin=1.0),
        metrics=["categorical_accuracy"],
    )
    history = model.fit(x, y, epochs=10, batch_size=32, verbose=0)
    loss, accuracy = model.evaluate(x, y, verbose=0)
    print(
        f"trained: hinge loss {history.history['loss'][0]:.3f} -> {loss:.3f}, "
        f"accuracy {accuracy:.3f}"
    )
    if not (loss < history.history["loss"][0] and accuracy > 0.9):
        print("the demo model did not learn", file=sys.stderr)
        return 1

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "svm.keras")
        model.save(path)
        data = os.path.join(folder, "data.npz")
        np.savez(data, x=x, y=y, predictions=model.predict(x, verbose=0), loss=loss)
        print(f"saved to {os.path.basename(path)} ({os.path.getsize(path)} bytes)")
        return subprocess.run([sys.executable, "-c", LOAD_AND_CHECK, path, data]).returncode


if __name__ == "__main__":
    sys.exit(main())
