"""Save models to `.keras` files and check them in a fresh process.

    python -m keras_losses.testing.roundtrip DIRECTORY [DIRECTORY ...]

loads every `NAME.keras` in each DIRECTORY with `safe_mode=True`, after nothing but
`import keras_losses`, and checks that its predictions and its evaluated loss equal
those stored beside it in `NAME.npz`. It prints one line per model and exits 1 if
any differs. The serialization tests and the golden-file tests both use it.
"""

import json
import os
import sys

import numpy as np


def _examples(x):
    """The number of examples in `x`: an array, or a list of arrays (several inputs)."""
    return len(x[0]) if isinstance(x, (list, tuple)) else len(x)


def _stored_inputs(x):
    """`x` as `.npz` entries: `x`, or `x_0, x_1, ...` for a model of several inputs."""
    if isinstance(x, (list, tuple)):
        return {f"x_{i}": array for i, array in enumerate(x)}
    return {"x": x}


def _loaded_inputs(stored):
    if "x" in stored:
        return stored["x"]
    count = sum(1 for key in stored.files if key.startswith("x_"))
    return [stored[f"x_{i}"] for i in range(count)]


def save(entry, directory, seed=0):
    """Saves `entry`'s model and the outputs it gives to `directory`."""
    rng = np.random.default_rng(seed)
    x, y = entry.data(rng)
    batch = _examples(x)
    model = entry.model(entry.build())
    # Move the trainable weights off their initial values (cheaper than a fit, which
    # traces a training function per model), so a reload that re-initialised a
    # weight would show.
    for variable in model.trainable_variables:
        noise = rng.normal(0.0, 0.1, tuple(variable.shape)).astype(variable.dtype)
        variable.assign(variable + noise)
    predictions = model.predict(x, batch_size=batch, verbose=0)
    loss = model.evaluate(x, y, batch_size=batch, verbose=0)
    model.save(os.path.join(directory, f"{entry.name}.keras"))
    np.savez(
        os.path.join(directory, f"{entry.name}.npz"),
        **_stored_inputs(x),
        y=y,
        predictions=predictions,
        loss=np.asarray(loss),
    )


def check(directory):
    """Loads every model in `directory` and compares; returns a list of result dicts."""
    import keras

    import keras_losses  # noqa: F401  (registers every object; nothing else is imported)

    results = []
    for file in sorted(os.listdir(directory)):
        if not file.endswith(".keras"):
            continue
        name = file[: -len(".keras")]
        result = {"name": name, "ok": False}
        try:
            stored = np.load(os.path.join(directory, f"{name}.npz"))
            model = keras.saving.load_model(os.path.join(directory, file), safe_mode=True)
            x = _loaded_inputs(stored)
            batch = _examples(x)
            predictions = model.predict(x, batch_size=batch, verbose=0)
            loss = model.evaluate(x, stored["y"], batch_size=batch, verbose=0)
            result["prediction_error"] = float(np.max(np.abs(predictions - stored["predictions"])))
            result["loss_error"] = float(np.max(np.abs(np.asarray(loss) - stored["loss"])))
            result["ok"] = bool(
                np.allclose(predictions, stored["predictions"], rtol=1e-5, atol=1e-6)
                and np.allclose(loss, stored["loss"], rtol=1e-5, atol=1e-6)
            )
        except Exception as error:  # reported per model
            result["error"] = f"{type(error).__name__}: {error}"
        results.append(result)
    return results


def main(argv):
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    ok = True
    for directory in argv:
        results = check(directory)
        for result in results:
            print(json.dumps({"directory": directory, **result}))
        ok = ok and bool(results) and all(r["ok"] for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
