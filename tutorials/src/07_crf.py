# %% [markdown]
# # Sequence labelling with a CRF and a structured SVM
#
# Some labels are whole structures. Here a label is a **sequence of tags**, one per
# character of a string, and the tags of neighbouring characters constrain each
# other. The task: the standard library is full of identifiers such as
# `get_terminal_size` and `parseHeaderValue`. Strip the underscores, lower-case
# everything (`getterminalsize`, `parseheadervalue`), and ask a model to put the word
# boundaries back: tag each character **B** (begins a word), **I** (inside a word) or
# **O** (a digit, outside the words). A word never starts with `I`, and `I` never
# follows `O`: a tag sequence is either valid or not as a whole.
#
# **Three ways to train the same encoder.** A character encoder (an embedding and a
# bidirectional GRU) gives every step $t$ a score $e_t(k)$ for every tag $k$, the
# *emissions*. Then:
#
# 1. **Per-step softmax.** Each step is its own classifier,
#    $p(y_t = k) = \operatorname{softmax}_k e_t(k)$, trained with cross-entropy at each
#    step and decoded with an argmax per step. Nothing stops it from predicting an
#    invalid sequence.
# 2. **Linear-chain CRF** (Lafferty et al. 2001). A learned transition matrix $A$
#    ($A_{ij}$ scores tag $i$ followed by tag $j$) and start and end scores $s, f$ turn
#    the emissions into a score for a whole sequence and a distribution over all
#    $K^T$ sequences:
#
# $$\operatorname{score}(y) = s_{y_1} + \sum_{t=1}^{T} e_t(y_t) + \sum_{t=2}^{T} A_{y_{t-1} y_t} + f_{y_T}, \qquad
# p(y) = \frac{e^{\operatorname{score}(y)}}{Z}, \qquad Z = \sum_{y'} e^{\operatorname{score}(y')} .$$
#
# $\log Z$ is computed by the forward algorithm in $O(T K^2)$:
# $\alpha_1 = s + e_1$, $\alpha_t(j) = \log\sum_i e^{\alpha_{t-1}(i) + A_{ij}} + e_t(j)$,
# $\log Z = \log\sum_j e^{\alpha_T(j) + f_j}$. Training minimises $-\log p(y)$; prediction
# takes the most likely sequence by the Viterbi algorithm (the same recursion with
# max in place of log-sum-exp).
# 3. **Structured SVM** (Taskar et al. 2003; Tsochantaridis et al. 2005). The same
#    scores, a margin instead of probabilities: the true sequence must beat every other
#    by a cost per wrong tag,
#
# $$\ell(y) = \max_{y'} \left[\operatorname{score}(y') + c \cdot \operatorname{hamming}(y, y')\right] - \operatorname{score}(y) \;\ge\; 0,$$
#
# the CS231n multiclass SVM with the classes replaced by all $K^T$ sequences. The max is
# found exactly by *loss-augmented* Viterbi ($c$ added to the emission of every wrong tag).
#
# `keras_losses.layers.CRF` holds $A$, $s$ and $f$; `keras_losses.CRFLoss` and
# `keras_losses.StructuredHingeLoss` train them with the encoder through an ordinary
# `model.compile` / `model.fit`.

# %%
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
FAST = os.environ.get("KERAS_LOSSES_TUTORIAL_MODE") == "fast"  # CI runs a short version

import logging
import re
import sysconfig

import keras
import matplotlib.pyplot as plt
import numpy as np

import keras_losses

logging.getLogger("tensorflow").setLevel(logging.ERROR)
keras.utils.set_random_seed(0)
MAX_IDENTIFIERS = 600 if FAST else 5000  # identifiers used (train + held out)
EPOCHS = 1 if FAST else 8
print("keras", keras.__version__, "| backend", keras.backend.backend(), "| fast run" if FAST else "| full run")

# %% [markdown]
# ## 1. Data: the identifiers of the standard library
#
# We walk the standard library's source (`sysconfig.get_paths()["stdlib"]`, test
# suites and third-party packages skipped), collect every distinct identifier of at
# most 24 characters made of at least two words, and split it into words at
# underscores and at lower-to-upper case changes (`parseHeaderValue` →
# parse, Header, Value; `HTTPServer` → HTTP, Server); runs of digits are their own
# "word" and are tagged O. Every fifth identifier (in sorted order) is held out.

# %%
STDLIB = sysconfig.get_paths()["stdlib"]
SKIP = {"site-packages", "dist-packages", "__pycache__", "test", "tests", "idle_test"}
IDENTIFIER = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*\b")
PIECE = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")

names = set()
for folder, subfolders, files in os.walk(STDLIB):
    subfolders[:] = sorted(s for s in subfolders if s not in SKIP)
    for file in sorted(files):
        if file.endswith(".py"):
            with open(os.path.join(folder, file), encoding="utf-8", errors="replace") as f:
                names.update(IDENTIFIER.findall(f.read()))


def words_of(name):
    return [piece.lower() for part in name.split("_") for piece in PIECE.findall(part)]


B, I, O = 0, 1, 2
TAG_NAMES = ["B", "I", "O"]
examples = {}
for name in sorted(names):
    words = words_of(name)
    text = "".join(words)
    if len(words) >= 2 and len(text) <= 24 and text not in examples:
        examples[text] = [O if w.isdigit() else tag for w in words for tag in [B] + [I] * (len(w) - 1)]
texts = sorted(examples)
keep = np.random.default_rng(0).permutation(len(texts))[:MAX_IDENTIFIERS]
texts = [texts[i] for i in sorted(keep)]
print(f"{len(names)} identifiers in the standard library, {len(texts)} used")
for text in texts[:: len(texts) // 6][:6]:
    print(f"  {text:24s} {''.join(TAG_NAMES[t] for t in examples[text])}")

# %%
ALPHABET = sorted(set("".join(texts)))
CHAR_ID = {c: i + 1 for i, c in enumerate(ALPHABET)}  # 0 pads
STEPS = max(len(t) for t in texts)


def encode(batch):
    x = np.zeros((len(batch), STEPS), "int32")
    y = np.full((len(batch), STEPS), -1, "int32")
    for row, text in enumerate(batch):
        x[row, : len(text)] = [CHAR_ID[c] for c in text]
        y[row, : len(text)] = examples[text]
    return x, y


held_out = [t for i, t in enumerate(texts) if i % 5 == 0]
train = [t for i, t in enumerate(texts) if i % 5 != 0]
x_train, y_train = encode(train)
x_test, y_test = encode(held_out)
real_test = x_test > 0
print(f"{len(train)} training and {len(held_out)} held-out identifiers, {len(ALPHABET)} characters, "
      f"padded to {STEPS}")

# %% [markdown]
# ## 2. One encoder, three heads
#
# The encoder is the same for all three: characters → embedding (`mask_zero=True`,
# so padding is masked all the way to the loss) → bidirectional GRU → a `Dense(3)`
# giving the emissions. The softmax model ends there and trains with sparse
# cross-entropy per character (padding tags set to 0 and masked out). The CRF and
# SVM models end in `layers.CRF(3)`: in the training model it returns the
# *potentials* (emissions, its own transitions and the mask, packed in one tensor) that
# the loss reads; the same layer with `decode=True` makes the tagger, whose `predict`
# gives the Viterbi tags, -1 at padding.


# %%
def encoder():
    chars = keras.Input((None,), dtype="int32")
    hidden = keras.layers.Embedding(len(ALPHABET) + 1, 16, mask_zero=True)(chars)
    hidden = keras.layers.Bidirectional(keras.layers.GRU(24, return_sequences=True))(hidden)
    return chars, keras.layers.Dense(3)(hidden)


def train_softmax():
    chars, emissions = encoder()
    model = keras.Model(chars, emissions)
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=not FAST)
    model.fit(x_train, np.maximum(y_train, 0), epochs=EPOCHS, batch_size=64, verbose=0)
    predicted = np.argmax(model.predict(x_test, verbose=0), axis=-1)
    return np.where(real_test, predicted, -1), None


def train_structured(loss):
    chars, emissions = encoder()
    crf = keras_losses.layers.CRF(3)
    training = keras.Model(chars, crf(emissions))
    training.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss, jit_compile=not FAST)
    training.fit(x_train, y_train, epochs=EPOCHS, batch_size=64, verbose=0)
    tagger = keras.Model(chars, crf(emissions, decode=True))
    return tagger.predict(x_test, verbose=0), crf


results = {}
for label, run in [
    ("per-step softmax", train_softmax),
    ("CRF", lambda: train_structured(keras_losses.CRFLoss())),
    ("structured SVM", lambda: train_structured(keras_losses.StructuredHingeLoss(cost=1.0))),
]:
    keras.utils.set_random_seed(0)
    results[label] = run()


def invalid(tags):
    """Whether each tag sequence breaks the rules: I first, or I right after O."""
    previous = np.concatenate([np.full((len(tags), 1), O), tags[:, :-1]], axis=1)
    return np.any((tags == I) & (previous == O), axis=1)


scores = {}
for label, (predicted, _) in results.items():
    right = predicted == y_test
    scores[label] = {
        "characters": right[real_test].mean(),
        "identifiers": np.all(right | ~real_test, axis=1).mean(),
        "invalid": invalid(predicted).mean(),
    }
    print(f"{label:17s} characters {scores[label]['characters']:.4f}   whole identifiers "
          f"{scores[label]['identifiers']:.4f}   invalid sequences {scores[label]['invalid']:.4f}")

# %%
crf_layer = results["CRF"][1]
transitions = keras.ops.convert_to_numpy(crf_layer.transitions)
start = keras.ops.convert_to_numpy(crf_layer.start_transitions)
end = keras.ops.convert_to_numpy(crf_layer.end_transitions)
figure, (bars, heat) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [1.2, 1]})
labels = list(scores)
errors = [1 - scores[k]["identifiers"] for k in labels]
bars.bar(labels, errors, color=["#999999", "#1f77b4", "#ff7f0e"])
for i, e in enumerate(errors):
    bars.text(i, e, f"{e:.1%}", ha="center", va="bottom")
bars.set_ylabel("held-out identifiers split wrongly")
bars.set_title("Error rate on whole identifiers")
table = np.vstack([np.append(transitions, end[:, None], axis=1), np.append(start, np.nan)])
image = heat.imshow(table, cmap="RdBu_r", vmin=-np.nanmax(np.abs(table)), vmax=np.nanmax(np.abs(table)))
heat.set_xticks(range(4), TAG_NAMES + ["end"])
heat.set_yticks(range(4), TAG_NAMES + ["start"])
heat.set_xlabel("to")
heat.set_ylabel("from")
for (r, c), v in np.ndenumerate(table):
    if np.isfinite(v):
        heat.text(c, r, f"{v:.1f}", ha="center", va="center")
heat.set_title("Learned CRF transition scores")
figure.colorbar(image, ax=heat)
figure.tight_layout()
plt.show()

# %% [markdown]
# The heat map reads row → column: the score added when the row's tag is followed by
# the column's (last column: ending on the row's tag; last row: starting on the
# column's). From data alone the CRF has learned the grammar of the tags: `I` after
# `O`, and `I` first, score below `B` there (a word cannot begin inside itself). The
# scores are small because the recurrent encoder already sees the neighbours and does
# most of the work; the transitions settle what it leaves open, and no sequence the
# CRF decodes is invalid. With the same encoder, the CRF gets more
# whole identifiers right than the per-step softmax (the figure and the lines above
# give the numbers of this run): the softmax picks each character's tag on its own,
# and a boundary it is unsure of is decided without regard to the word it opens or
# closes. The structured SVM trains the same scores with a margin; once the gold
# sequence wins by the margin it stops pushing, so its transitions stay smaller than
# the CRF's, and it lands close to the CRF here.

# %%
print("transitions (from B, I, O to B, I, O):")
print(np.round(transitions, 2))
print("start:", np.round(start, 2), " end:", np.round(end, 2))
if not FAST:
    assert scores["CRF"]["invalid"] == 0, scores
    assert transitions[O, I] < transitions[O, B] and start[I] < start[B], (transitions, start)
    assert scores["CRF"]["identifiers"] > scores["per-step softmax"]["identifiers"], scores

# %% [markdown]
# ## 3. Decoded examples
#
# Held-out identifiers, first as written (the truth), then split at each predicted
# `B` (and around each run of `O`) by the softmax, the CRF and the SVM; a ✗ marks a
# wrong split.


# %%
def split(text, tags):
    words, word = [], ""
    for char, tag in zip(text, tags):
        if word and (tag == B or tag == O and not word[-1].isdigit() or tag == I and word[-1].isdigit()):
            words.append(word)
            word = ""
        word += char
    return "_".join(words + [word])


shown = [i for i, t in enumerate(held_out) if len(t) >= 14][:: max(1, len(held_out) // 40)][:8]
for i in shown:
    truth = split(held_out[i], y_test[i])
    line = f"{truth:26s}"
    for label, (predicted, _) in results.items():
        guess = split(held_out[i], predicted[i])
        line += f" {guess:28s}{'' if guess == truth else '✗'}"
    print(line)

# %% [markdown]
# The CRF also gives probabilities: `crf.marginals(emissions)` runs forward-backward
# and returns $p(y_t = k)$ at every character, the model's confidence in each boundary.
#
# ## 4. What to take away
#
# - A per-step classifier scores tags independently; a CRF scores whole sequences, and
#   its transition matrix is a small, readable model of which tag may follow which.
# - The structured SVM trains the same model with a margin and no partition function
#   (Viterbi instead of the forward algorithm); the CRF adds calibrated probabilities.
# - With `keras_losses`, both train with `model.compile(loss=...)` and `fit`, masks and
#   all; the tagger shares the training model's layers and saves like any Keras model.
#
# References: Lafferty, McCallum and Pereira, 2001, "Conditional Random Fields";
# Taskar, Guestrin and Koller, 2003, "Max-Margin Markov Networks"; Tsochantaridis et
# al., 2005, "Large Margin Methods for Structured and Interdependent Output Variables".
