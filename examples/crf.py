"""Train a CRF tagger with model.compile / fit, decode with predict, reload it elsewhere.

    python examples/crf.py

Sequences of random tokens with a hidden rhythm: before a start token (id 1) every
tag is 0; from it on the tags alternate 1, 2, 1, 2, ... No other token says which of
1 and 2 a step has, and the emissions see one token at a time, so only the CRF's
transition matrix can get it right. Variable lengths, padded with 0 and masked by
the Embedding. The script trains with `CRFLoss`, prints the held-out accuracy of the
Viterbi tags and the learned transitions, saves the tagger, reloads it in a fresh
process, and checks all of it.
"""

import os
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_losses  # noqa: E402

NUM_TAGS, VOCABULARY, STEPS = 3, 30, 12


def sequences(count, seed):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, STEPS + 1, count)
    real = np.arange(STEPS)[None, :] < lengths[:, None]
    tokens = np.where(real, rng.integers(2, VOCABULARY, (count, STEPS)), 0)
    begin = rng.integers(0, lengths)
    tokens[np.arange(count), begin] = 1
    offset = np.arange(STEPS)[None, :] - begin[:, None]
    tags = np.where(offset < 0, 0, 1 + offset % 2)
    return tokens.astype("int32"), np.where(real, tags, -1).astype("int32"), real


def main():
    keras.utils.set_random_seed(0)
    x_train, y_train, _ = sequences(512, seed=0)
    x_test, y_test, real = sequences(256, seed=1)

    tokens = keras.Input((None,), dtype="int32")
    hidden = keras.layers.Embedding(VOCABULARY, 8, mask_zero=True)(tokens)
    emissions = keras.layers.Dense(NUM_TAGS)(hidden)  # one token at a time: no context
    crf = keras_losses.layers.CRF(NUM_TAGS)
    training = keras.Model(tokens, crf(emissions))  # the potentials, for the loss
    training.compile(optimizer=keras.optimizers.Adam(0.05), loss=keras_losses.CRFLoss())
    tagger = keras.Model(tokens, crf(emissions, decode=True))  # Viterbi tags, same weights

    history = training.fit(x_train, y_train, epochs=10, batch_size=32, verbose=0)
    predicted = tagger.predict(x_test, verbose=0)
    accuracy = float(np.mean(predicted[real] == y_test[real]))
    whole = float(np.mean(np.all((predicted == y_test) | ~real, axis=1)))
    transitions = keras.ops.convert_to_numpy(crf.transitions)
    print(f"loss {history.history['loss'][0]:.3f} -> {history.history['loss'][-1]:.3f}")
    print(f"held-out tag accuracy {accuracy:.4f}, whole sequences right {whole:.4f}")
    print("learned transitions (row: from, column: to)")
    print(np.round(transitions, 1))

    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "tagger.keras")
        tagger.save(path)
        np.save(os.path.join(directory, "x.npy"), x_test)
        np.save(os.path.join(directory, "tags.npy"), predicted)
        code = (
            "import sys, numpy as np, keras, keras_losses\n"
            f"tagger = keras.saving.load_model({path!r})\n"
            f"x = np.load({os.path.join(directory, 'x.npy')!r})\n"
            f"same = (tagger.predict(x, verbose=0) == np.load({os.path.join(directory, 'tags.npy')!r})).all()\n"
            "print('reloaded in a fresh process, same tags:', bool(same)); sys.exit(0 if same else 1)\n"
        )
        reloaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        print(reloaded.stdout.strip() or reloaded.stderr[-2000:])

    ok = True
    if not whole > 0.95:
        print(f"FAILED: whole-sequence accuracy {whole:.3f} <= 0.95")
        ok = False
    if not np.all(predicted[~real] == -1):
        print("FAILED: padding is not tagged -1")
        ok = False
    if not (transitions[1, 2] > transitions[1, 1] and transitions[2, 1] > transitions[2, 2]):
        print("FAILED: the transitions did not learn the 1, 2 alternation")
        ok = False
    if reloaded.returncode != 0:
        print("FAILED: the reloaded tagger differs")
        ok = False
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
