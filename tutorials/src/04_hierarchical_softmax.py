# %% [markdown]
# # Hierarchical softmax for a large vocabulary
#
# A softmax classifier over $V$ classes scores every class for every example. With a
# hidden vector $h \in \mathbb{R}^d$ and one output row $u_w$ (and bias $b_w$) per class,
#
# $$P(w \mid h) = \frac{e^{u_w^\top h + b_w}}{\sum_{w'=1}^{V} e^{u_{w'}^\top h + b_{w'}}},$$
#
# and the denominator needs all $V$ scores: $V d$ multiply-adds forward, as many again
# backward, and a gradient for every one of the $V$ rows, at every step. For ten
# classes nobody notices. For a vocabulary of tens of thousands of words (or a
# catalogue of a million products) the output layer is most of the work of the whole
# network, and most of it is spent on classes that have nothing to do with the
# example.
#
# **The tree factorisation.** A hierarchical softmax puts the $V$ classes at the
# leaves of a binary tree with $V - 1$ internal nodes. Each node $n$ owns a vector
# $v_n$ and a bias $c_n$ and makes a binary decision with a logistic unit: go one way
# with probability $\sigma(z_n)$, the other with $\sigma(-z_n) = 1 - \sigma(z_n)$, where
# $z_n = v_n^\top h + c_n$ and $\sigma(z) = 1 / (1 + e^{-z})$. A class is reached by
# one path from the root, $n_1(w), \dots, n_{L(w)}(w)$, taking branch
# $s_k(w) \in \{+1, -1\}$ at the $k$-th node, so its probability is the product of
# the decisions along that path:
#
# $$P(w \mid h) = \prod_{k=1}^{L(w)} \sigma\!\left(s_k(w)\, z_{n_k(w)}\right), \qquad
# -\log P(w \mid h) = \sum_{k=1}^{L(w)} \log\!\left(1 + e^{-s_k(w)\, z_{n_k(w)}}\right).$$
#
# This is a proper distribution, not an approximation of one: at every node the two
# branches share the probability that reached it, because $\sigma(z) + \sigma(-z) = 1$,
# so summing the leaves below any node gives the probability of the node itself, and
# summing all leaves gives the root's, which is 1. Training needs only the $L(w)$
# nodes on the path of the true class: the loss above costs $L(w)\, d$ work, and its
# gradient with respect to a node vector,
#
# $$\frac{\partial(-\log P(w \mid h))}{\partial v_{n_k(w)}} = -s_k(w)\,\sigma\!\left(-s_k(w)\, z_{n_k(w)}\right) h,$$
#
# is zero for every node off the path. With a balanced tree $L(w) \approx \log_2 V$, so
# a training example costs $O(d \log V)$ instead of $O(V d)$: for the vocabulary below,
# a path of about $\log_2 V$ nodes instead of tens of thousands of rows (section 2
# prints both).
#
# **Which tree.** The factorisation holds for any binary tree; the tree decides which
# questions the model asks. A *balanced* tree gives every class about $\log_2 V$
# nodes. A *Huffman* tree, built from class frequencies as word2vec does, gives
# frequent classes short paths and rare ones long paths. The average path length
# under the class frequencies $p$, $\bar L = \sum_w p(w) L(w)$, is then the length of
# an optimal prefix code, and Shannon's source coding theorem pins it between the
# entropy and one bit more:
#
# $$H(p) = -\sum_w p(w) \log_2 p(w) \;\le\; \bar L_{\text{Huffman}} \;<\; H(p) + 1 .$$
#
# This tutorial trains a next-word model on a real corpus with a vocabulary of tens of
# thousands of words and measures what the tree buys and what it costs: steps per
# second, held-out perplexity against a full softmax after the same number of steps
# and after the same training time, the two trees side by side, and predictions.
# `keras_losses` provides the three pieces: `keras_losses.Tree` (the tree),
# `keras_losses.HierarchicalSoftmax` (the output layer holding one $v_n$ and $c_n$ per
# node) and `keras_losses.HierarchicalSoftmaxLoss` (the loss above).

# %%
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
FAST = os.environ.get("KERAS_LOSSES_TUTORIAL_MODE") == "fast"  # CI runs a short version

import collections
import logging
import re
import sys
import sysconfig
import time

import keras
import matplotlib.pyplot as plt
import numpy as np

import keras_losses

logging.getLogger("tensorflow").setLevel(logging.ERROR)  # no retracing notices in the outputs
keras.utils.set_random_seed(0)
MAX_VOCABULARY = 2_000 if FAST else None  # the fast run keeps only the most frequent words
STEP_MARKS = (2,) if FAST else (10, 30, 60)  # section 4: every model is scored after these steps...
TIME_MARKS = (0.5,) if FAST else (2, 4, 7, 12, 20, 30)  # ...and after these seconds of training
SLICE = 0.5 if FAST else 2.0  # the models take turns of at most SLICE seconds
EVAL_CONTEXTS = 300 if FAST else 2000  # held-out examples each model is scored on
print("keras", keras.__version__, "| backend", keras.backend.backend(), "| fast run" if FAST else "| full run")

# %% [markdown]
# ## 1. A corpus that every machine has: Python's standard library
#
# Every Python installation carries a few megabytes of text written by people: the
# source of its standard library, with its docstrings and comments. We walk the
# directory that `sysconfig.get_paths()["stdlib"]` names, in sorted order, skip the
# test suites, third-party packages and the `encodings` tables (generated character
# maps), blank out backslash escapes such as `\n` (so that they do not turn into
# words), and cut each file into **words** with one regular expression: runs of
# letters, digits and underscores that start with a letter or an underscore. That
# yields Python names (`self`, `isinstance`, `ValueError`), keywords and the English
# words of docstrings and comments, all case-sensitive.
#
# The task is **next-word prediction**: given the three words before a position,
# predict the word there. Every tenth file (in sorted order) is held out, so the
# scores below are measured on modules the model never saw. The vocabulary is every
# word that occurs at least twice in the training files, plus `<unk>`, which stands
# for all the others (in the context and as a target). The held-out modules bring
# names of their own, so `<unk>` is more common there. The corpus is the one of the
# Python that runs this notebook, so its sizes differ a little between versions; the
# lines below say which.

# %%
STDLIB = sysconfig.get_paths()["stdlib"]
SKIP = {"site-packages", "dist-packages", "__pycache__", "test", "tests", "idle_test", "encodings"}
ESCAPE = re.compile(r"\\.")  # \n, \t, \d, ...: not words
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

files = []
for folder, subfolders, names in os.walk(STDLIB):
    subfolders[:] = sorted(name for name in subfolders if name not in SKIP)  # sorted: a deterministic walk
    files += [os.path.join(folder, name) for name in sorted(names) if name.endswith(".py")]
texts = []
for path in files:
    with open(path, encoding="utf-8", errors="replace") as f:
        texts.append(WORD.findall(ESCAPE.sub(" ", f.read())))
train_words = [word for i, words in enumerate(texts) if i % 10 != 0 for word in words]
held_out_words = [word for i, words in enumerate(texts) if i % 10 == 0 for word in words]

word_counts = collections.Counter(train_words)
frequent = sorted((w for w, c in word_counts.items() if c >= 2), key=lambda w: (-word_counts[w], w))
vocabulary = ["<unk>"] + frequent[:MAX_VOCABULARY]
index = {word: i for i, word in enumerate(vocabulary)}
V = len(vocabulary)
train_ids = np.array([index.get(word, 0) for word in train_words], dtype="int32")
held_out_ids = np.array([index.get(word, 0) for word in held_out_words], dtype="int32")
print(f"Python {sys.version.split()[0]}: {len(files)} files under {STDLIB}")
print(f"{len(train_ids):,} training words, {len(held_out_ids):,} held-out words; vocabulary V = {V:,} "
      f"(<unk> is {np.mean(train_ids == 0):.1%} of the training words, {np.mean(held_out_ids == 0):.1%} of the held-out ones)")
print("the most frequent words:", ", ".join(vocabulary[1:16]))
print("a piece of training text:", " ".join(train_words[1000:1024]))
if not FAST:
    assert V > 20_000, V  # tens of thousands of classes

# %% [markdown]
# Word frequencies follow Zipf's law: a few words (`self`, `the`, `if`) are very
# common and most words are rare. That skew is what a Huffman tree exploits.
#
# Each example is a context of `CONTEXT = 3` word ids and the id of the word that
# follows, taken at every position of the training text. We score the models on a
# fixed random sample of held-out positions.

# %%
CONTEXT = 3


def examples(ids):
    """(contexts, next words): every window of CONTEXT ids and the id after it."""
    windows = np.lib.stride_tricks.sliding_window_view(ids, CONTEXT + 1)
    return windows[:, :CONTEXT].copy(), windows[:, CONTEXT].copy()


x_train, y_train = examples(train_ids)
x_held_out, y_held_out = examples(held_out_ids)
rng = np.random.default_rng(0)
sample = rng.choice(len(y_held_out), EVAL_CONTEXTS, replace=False)
x_eval, y_eval = x_held_out[sample], y_held_out[sample]
print(f"{len(y_train):,} training examples; {len(y_eval):,} held-out examples to score")

# %% [markdown]
# ## 2. Two trees over the vocabulary
#
# `keras_losses.Tree.balanced(V)` needs only the number of classes.
# `keras_losses.Tree.huffman(counts)` needs a positive count per class: we use the
# training counts plus one, so that every word has a leaf even if it never occurred
# as a target. The number that matters for the cost of training is the **expected
# path length**: the path length of each word, averaged over the word occurrences
# of the training text. Section 5 looks at the two trees in detail.

# %%
counts = np.bincount(train_ids, minlength=V) + 1
unigram = counts / counts.sum()
huffman = keras_losses.Tree.huffman(counts)
balanced = keras_losses.Tree.balanced(V)
mean_path = {tree.kind: float(np.sum(unigram * tree.path_lengths)) for tree in (huffman, balanced)}
for tree in (huffman, balanced):
    print(f"{tree.kind:8s} tree: {tree.num_nodes:,} internal nodes, expected path length "
          f"{mean_path[tree.kind]:.2f} nodes, longest path {tree.depth} nodes")
print(f"A full softmax computes V = {V:,} scores per example; the Huffman tree needs {mean_path['huffman']:.2f} "
      f"node decisions on average and the balanced tree {mean_path['balanced']:.2f} (log2 V = {np.log2(V):.2f}).")
assert mean_path["huffman"] < mean_path["balanced"] <= np.ceil(np.log2(V))

# %% [markdown]
# ## 3. The models: a training model with the labels as an input, and an inference model
#
# The network is a small neural language model in the style of Bengio et al. (2003):
# each of the three context words is looked up in a 64-dimensional embedding table,
# the three embeddings are concatenated, and a `tanh` layer maps them to a hidden
# vector $h$ of $d = 128$ units. Only the output layer differs between the models:
#
# - **hierarchical softmax**: `keras_losses.HierarchicalSoftmax(tree)`, with a Huffman
#   tree and with a balanced tree;
# - **full softmax**: `keras.layers.Dense(V)` trained with the built-in
#   `keras.losses.SparseCategoricalCrossentropy(from_logits=True)`.
#
# The fast path of the hierarchical softmax needs the true word *inside* the model, to
# know which path to compute. So the training model takes the labels as a second
# input, and its output is not a prediction but the logits of the nodes on each
# label's path, `(batch, tree.depth)`, signed so that the branch towards the label is
# positive and masked past the end of each path (Huffman paths differ in length).
# `HierarchicalSoftmaxLoss(from_path_logits=True)` turns them into $-\log P(w \mid h)$.
# At inference time there are no labels: a second model, the **encoder**, maps a
# context to $h$ with the same layers (the same weights), and the output layer's
# `log_probs(h)` and `top_k(h, k)` score the whole vocabulary.
#
# **Starting point.** All three models start as the unigram model, the best guess
# that ignores the context: the output kernels are zero (so $h$ plays no part at
# first), the full softmax's biases are $\log p(w)$, and each tree node's bias is
# $c_n = \log(N_+(n) / N_-(n))$, where $N_\pm(n)$ counts the training words below each
# branch. Then $\sigma(c_n)$ is the share of the words under $n$ that lie on its $+1$
# side, and the product along a path telescopes to $p(w)$. The comparison below
# therefore starts from the same place, and any gain is learned from the context.
#
# **Optimizers.** Each kind of output layer gets the optimizer that trained it best
# in a short sweep of learning rates run while writing this tutorial:
#
# - The tree models use plain **SGD**. With the fast path, the gradients of the
#   embedding table and of the tree's kernel are sparse (`IndexedSlices` on
#   TensorFlow), and SGD updates only the rows a batch used. Keras's Adam, momentum
#   or a kernel regularizer would touch all $V$ rows at every step again and throw the
#   saving away; `keras_losses.optimizers.LazyAdam` keeps Adam's step to the rows used
#   (with `keras_losses.optimizers.sparse_updates(model)` on JAX and PyTorch; see
#   `docs/hierarchical.md`). SGD trained these small models well, so they keep it.
#   Their learning rate is the largest of the sweep that did not diverge.
# - The full softmax uses **Adam**, which beat plain SGD at every learning rate we
#   tried. Its step touches every row anyway, so Adam's extra work per weight costs it
#   little. This makes the baseline as strong as we could make it, not a straw man.
#
# All models are compiled with `jit_compile=True` (XLA, the fastest mode for both
# output layers on a CPU).

# %%
EMBEDDING, HIDDEN, BATCH = 64, 128, 256


def unigram_node_bias(tree, counts):
    """Node biases with which the tree gives every class its share of `counts`."""
    words = np.broadcast_to(np.arange(tree.num_classes)[:, None], tree.paths.shape)
    below = {}
    for side in (+1, -1):
        on_side = tree.codes == side
        below[side] = np.bincount(tree.paths[on_side], weights=counts[words[on_side]], minlength=tree.num_nodes)
    return np.log(below[+1] / below[-1])  # sigmoid(bias) = N+ / (N+ + N-)


def make_encoder():
    context = keras.Input((CONTEXT,), dtype="int32", name="context")
    embedded = keras.layers.Embedding(V, EMBEDDING, name="embedding")(context)  # (batch, 3, 64)
    hidden = keras.layers.Dense(HIDDEN, activation="tanh", name="hidden")(keras.layers.Flatten()(embedded))
    return keras.Model(context, hidden, name="encoder")


def hierarchical_model(tree):
    encoder = make_encoder()
    output = keras_losses.HierarchicalSoftmax(tree, name="hierarchical_softmax")
    context = keras.Input((CONTEXT,), dtype="int32", name="context")
    labels = keras.Input((), dtype="int32", name="next_word")
    training = keras.Model([context, labels], output([encoder(context), labels]))  # path logits
    output.bias.assign(unigram_node_bias(tree, counts).astype("float32"))
    training.compile(
        optimizer=keras.optimizers.SGD(learning_rate=3.0),
        loss=keras_losses.HierarchicalSoftmaxLoss(from_path_logits=True),
        jit_compile=True,
    )
    return training, encoder, output


def full_softmax_model():
    encoder = make_encoder()
    output = keras.layers.Dense(V, kernel_initializer="zeros", name="softmax")
    context = keras.Input((CONTEXT,), dtype="int32", name="context")
    training = keras.Model(context, output(encoder(context)))  # (batch, V) logits
    output.bias.assign(np.log(unigram).astype("float32"))
    training.compile(
        optimizer=keras.optimizers.Adam(learning_rate=3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=True,
    )
    return training, encoder, output


keras.utils.set_random_seed(1)
models = {}
models["Huffman tree"] = hierarchical_model(huffman)
models["balanced tree"] = hierarchical_model(balanced)
models["full softmax"] = full_softmax_model()


def inputs(name, contexts, next_words):
    """What each training model takes: the tree models want the labels as an input too."""
    return contexts if name == "full softmax" else [contexts, next_words]


for name, (training, encoder, output) in models.items():
    print(f"{name:14s} output layer: {output.count_params():>9,} weights; "
          f"training model output {tuple(training.output.shape)}")

# %% [markdown]
# **Perplexity.** We score a model on held-out text by its perplexity,
#
# $$\text{PPL} = \exp\!\Big(-\frac{1}{N} \sum_{t=1}^{N} \log P(w_t \mid w_{t-3}, w_{t-2}, w_{t-1})\Big),$$
#
# the exponential of the mean loss: a model with perplexity 200 is, on average, as
# unsure as a uniform choice among 200 words. Both kinds of output layer give an exact,
# normalised distribution over the same $V$ words, so their perplexities compare
# directly (a *sampled* softmax, which only estimates its loss during training, would
# need its full softmax computed to be scored this way). For the tree models, the
# training model's `test_on_batch` computes the exact $-\log P(w \mid h)$ of the true
# word through the fast path.
#
# Before any training all three give the unigram distribution, so they agree:

# %%
def perplexity(name):
    """exp(mean negative log-likelihood of the next word) on the held-out sample, as one batch."""
    training = models[name][0]
    return float(np.exp(training.test_on_batch(inputs(name, x_eval, y_eval), y_eval)))


start = {name: perplexity(name) for name in models}
unigram_perplexity = float(np.exp(-np.mean(np.log(unigram[y_eval]))))
print(f"held-out perplexity before training: " + ", ".join(f"{name} {p:.1f}" for name, p in start.items())
      + f"; the unigram model's, computed in NumPy: {unigram_perplexity:.1f}")
assert all(abs(p / unigram_perplexity - 1) < 1e-3 for p in start.values()), start

# %% [markdown]
# ## 4. Per step and per second: the hierarchical softmax against the full softmax
#
# Two questions, answered by one run. **Per step**: is a step of the tree models as
# useful as a step of the full softmax? **Per second**: with the same training time,
# which gets further? All models read the same sequence of shuffled batches, so after
# $k$ steps they have seen the same examples.
#
# - First every model takes the same number of steps, scored after each of
#   `STEP_MARKS` steps. The full softmax spends a large part of its time here.
# - Then every model trains until it has used each of `TIME_MARKS` seconds in all,
#   scored after each.
#
# The models take turns (Huffman, balanced, full, Huffman, ...) of at most `SLICE`
# seconds, so all three run under the same load on this shared machine. Each step is
# one `train_on_batch` call (the same compiled training step that `fit` runs, without
# its data pipeline), so that every step can be timed and a turn can end on time.
# Scoring on the held-out sample is not counted in the training time, nor is the very
# first step, which traces and compiles the training function.

# %%
order = np.concatenate([rng.permutation(len(y_train)).astype("int32") for _ in range(3)])  # the batches, in order
now = {name: {"seconds": 0.0, "steps": 0} for name in models}  # where each model is
race = {name: {"seconds": [0.0], "steps": [0], "perplexity": [start[name]]} for name in models}  # scored points
step_seconds = {name: [] for name in models}


def train(name, steps, seconds=np.inf, timed=True):
    """Trains a model on from where it stopped: `steps` steps, or fewer if `seconds` run out."""
    training = models[name][0]
    begin = time.perf_counter()
    for _ in range(steps):
        rows = order[now[name]["steps"] * BATCH: (now[name]["steps"] + 1) * BATCH]
        step_begin = time.perf_counter()
        training.train_on_batch(inputs(name, x_train[rows], y_train[rows]), y_train[rows])
        step_end = time.perf_counter()
        now[name]["steps"] += 1
        if timed:
            step_seconds[name].append(step_end - step_begin)
        if step_end - begin >= seconds:
            break
    now[name]["seconds"] += time.perf_counter() - begin if timed else 0.0


def score(name):
    """Adds a point (seconds, steps, held-out perplexity) to a model's log, if it has moved."""
    if now[name]["steps"] != race[name]["steps"][-1]:
        for key in ("seconds", "steps"):
            race[name][key].append(now[name][key])
        race[name]["perplexity"].append(perplexity(name))


for name in models:  # the first step traces and compiles: not timed
    train(name, steps=1, timed=False)
    score(name)
for mark in STEP_MARKS:  # the same steps for every model
    for name in models:
        train(name, steps=mark - now[name]["steps"])
        score(name)
    print(f"after {mark:3d} steps: " + " | ".join(
        f"{name} {log['perplexity'][-1]:6.1f} ({log['seconds'][-1]:5.1f} s)" for name, log in race.items()), flush=True)
for mark in TIME_MARKS:  # then the same time for every model, in turns of at most SLICE seconds
    while behind := [name for name in models if mark - now[name]["seconds"] > 0.05]:
        for name in behind:
            train(name, steps=5000, seconds=min(SLICE, mark - now[name]["seconds"]))
    for name in models:
        score(name)
    print(f"after {mark:4.1f} s: " + " | ".join(
        f"{name} {log['perplexity'][-1]:6.1f} ({log['steps'][-1]:,} steps)" for name, log in race.items()), flush=True)

# %% [markdown]
# First the speed. The median step time of each model over the whole run:

# %%
median_step = {name: float(np.median(seconds)) for name, seconds in step_seconds.items()}
for name, seconds in median_step.items():
    print(f"{name:14s}: median step {1e3 * seconds:8.2f} ms = {1 / seconds:7.1f} steps/s "
          f"({len(step_seconds[name]):,} steps timed)")
speedup = median_step["full softmax"] / median_step["Huffman tree"]
print(f"At V = {V:,} and d = {HIDDEN}, a full softmax training step takes {speedup:.0f}x as long as a "
      f"hierarchical softmax step (Huffman tree, batch {BATCH}).")
if not FAST:
    assert speedup > 10, median_step

# %% [markdown]
# Now what that speed buys. The left panel shows held-out perplexity against training
# time, the middle one against training steps (log scale), and the right one the
# speed. The dotted line is where every model started: the unigram model.

# %%
colours = {"Huffman tree": "tab:green", "balanced tree": "tab:blue", "full softmax": "tab:red"}
names = list(models)
fig, axes = plt.subplots(1, 3, figsize=(16, 4.6), gridspec_kw={"width_ratios": [1.25, 1.25, 0.7]})
for name, log in race.items():
    axes[0].plot(log["seconds"], log["perplexity"], "o-", color=colours[name], label=name, markersize=4)
    axes[1].plot(np.maximum(log["steps"], 1), log["perplexity"], "o-", color=colours[name], label=name, markersize=4)
for ax in axes[:2]:
    ax.axhline(unigram_perplexity, color="grey", ls=":", lw=1, label="unigram model (the start)")
    ax.set(ylabel="held-out perplexity (lower is better)", ylim=(None, 1.12 * unigram_perplexity))  # room for the legend
    ax.legend(loc="upper right")
axes[0].set(xlabel="training time (s)", title="The same training time")
axes[1].set(xscale="log", xlabel=f"training steps of {BATCH} examples (log scale)", title="The same number of steps")
axes[2].bar(range(3), [1 / median_step[n] for n in names], color=[colours[n] for n in names])
axes[2].set_xticks(range(3), [n.replace(" ", "\n") for n in names])
axes[2].set(yscale="log", ylabel="training steps per second (log scale)", title=f"Speed: {speedup:.0f}x more steps per second")
for i, n in enumerate(names):
    axes[2].annotate(f"{1 / median_step[n]:.1f}", (i, 1 / median_step[n]), ha="center", va="bottom")
fig.suptitle(f"Next-word model on Python's standard library, V = {V:,} words: hierarchical vs full softmax")
plt.tight_layout()
plt.show()

# %% [markdown]
# **Per step**, the full softmax is the better learner. Every step of it moves all
# $V$ scores: the probability of the true word up and that of every other word down,
# with Adam adapting each weight's step size. A step of a tree model adjusts a handful
# of binary decisions along one path per example. After the same number of steps:

# %%
k = STEP_MARKS[-1]
at_k = {name: log["perplexity"][log["steps"].index(k)] for name, log in race.items()}
print(f"After the same {k} steps ({k * BATCH:,} examples), held-out perplexity is {at_k['full softmax']:.1f} with the "
      f"full softmax, {at_k['Huffman tree']:.1f} with the Huffman tree and {at_k['balanced tree']:.1f} with the balanced tree.")
if not FAST:
    assert at_k["full softmax"] < min(at_k["Huffman tree"], at_k["balanced tree"]), at_k

# %% [markdown]
# **Per second**, the tree models win, because they take many more steps in the same
# time. Two ways to say by how much: the perplexity each model reached in the same
# training time, and how long the tree models took to reach the perplexity that the
# full softmax ended with.

# %%
final = {name: log["perplexity"][-1] for name, log in race.items()}
budget = {name: log["seconds"][-1] for name, log in race.items()}
steps_done = {name: log["steps"][-1] for name, log in race.items()}


def time_to_reach(log, target):
    """(seconds, steps) at which a log first reaches `target` perplexity, interpolated linearly."""
    for i in range(1, len(log["perplexity"])):
        if log["perplexity"][i] <= target:
            before, after = log["perplexity"][i - 1], log["perplexity"][i]
            share = (before - target) / (before - after)
            return tuple(log[key][i - 1] + share * (log[key][i] - log[key][i - 1]) for key in ("seconds", "steps"))
    return np.inf, np.inf


print(f"After {budget['full softmax']:.1f} s of training each, held-out perplexity is {final['Huffman tree']:.1f} "
      f"with the Huffman tree ({steps_done['Huffman tree']:,} steps), {final['balanced tree']:.1f} with the balanced tree "
      f"({steps_done['balanced tree']:,} steps) and {final['full softmax']:.1f} with the full softmax "
      f"({steps_done['full softmax']:,} steps), from {unigram_perplexity:.1f} at the start.")
reach = {name: time_to_reach(race[name], final["full softmax"]) for name in ("Huffman tree", "balanced tree")}
for name, (seconds, steps) in reach.items():
    if np.isfinite(seconds):
        print(f"The {name} model reached the full softmax's final perplexity, {final['full softmax']:.1f}, after about "
              f"{steps:,.0f} steps and {seconds:.1f} s: {steps / steps_done['full softmax']:.1f}x as many steps as the full "
              f"softmax took, in {budget['full softmax'] / seconds:.0f}x less time.")
    else:
        print(f"The {name} model did not reach the full softmax's final perplexity, {final['full softmax']:.1f}.")
if not FAST:
    assert max(budget.values()) < 1.2 * min(budget.values()), budget
    assert max(final["Huffman tree"], final["balanced tree"]) < 0.85 * final["full softmax"] < unigram_perplexity, final
    assert all(steps > steps_done["full softmax"] for _, steps in reach.values()), reach  # worse per step
    assert all(budget["full softmax"] / seconds > 3 for seconds, _ in reach.values()), reach  # far better per second

# %% [markdown]
# The middle panel separates the two effects. At the same number of steps the full
# softmax is ahead, and the tree models need several times as many steps to reach
# the same perplexity (the lines printed above). But a tree step is so much cheaper
# that they get there long before the full softmax does, and they keep going. Which
# effect wins depends on the ratio of costs per step, about $V$ rows against about
# $\log_2 V$ nodes, and that ratio grows with the vocabulary. For a few thousand
# classes a full softmax is usually fast enough, and its better steps can make it the
# right choice; for tens of thousands and up, the tree lets a model see far more data
# in the same time.
#
# ## 5. Huffman or balanced?
#
# Which tree should you use? First, what each tree looks like. The left panel shows
# each word's path length against its rank in the vocabulary; the Huffman tree follows
# the word's information content, $-\log_2 p(w)$ bits, the code length an ideal code
# would give it. The right panel weighs each path by how often its word occurs, which
# is the cost an average training example sees.

# %%
rank = np.arange(1, V + 1)
order_by_count = np.argsort(-counts, kind="stable")
entropy = float(-np.sum(unigram * np.log2(unigram)))

fig, axes = plt.subplots(1, 2, figsize=(13, 4.2))
axes[0].plot(rank, huffman.path_lengths[order_by_count], ".", color="tab:green", markersize=2, label="Huffman tree")
axes[0].plot(rank, balanced.path_lengths[order_by_count], ".", color="tab:blue", markersize=2, label="balanced tree")
axes[0].plot(rank, -np.log2(unigram[order_by_count]), "k--", lw=1, label=r"$-\log_2 p(w)$")
axes[0].set(xscale="log", xlabel="word rank (1 = most frequent, log scale)", ylabel="path length (nodes)",
            title="Path length of each word")
axes[0].legend(markerscale=5)
bins = np.arange(huffman.path_lengths.min(), max(huffman.depth, balanced.depth) + 2) - 0.5
for tree, colour in ((huffman, "tab:green"), (balanced, "tab:blue")):
    axes[1].hist(tree.path_lengths, bins=bins, weights=counts, alpha=0.5, color=colour, density=True,
                 label=f"{tree.kind}: mean {mean_path[tree.kind]:.2f}, longest {tree.depth}")
axes[1].axvline(entropy, color="k", ls="--", lw=1, label=f"entropy H = {entropy:.2f} bits")
axes[1].set(xlabel="path length of the word (nodes)", ylabel="share of word occurrences",
            title="Path lengths weighted by word frequency")
axes[1].legend()
plt.tight_layout()
plt.show()

print(f"The unigram entropy is H = {entropy:.3f} bits; the Huffman tree's expected path length is {mean_path['huffman']:.3f} "
      f"nodes (H <= L < H + 1), the balanced tree's {mean_path['balanced']:.3f} (log2 V = {np.log2(V):.2f}): "
      f"{1 - mean_path['huffman'] / mean_path['balanced']:.0%} fewer nodes per example with Huffman. "
      f"Longest paths: {huffman.depth} (Huffman) and {balanced.depth} (balanced).")
assert entropy <= mean_path["huffman"] < entropy + 1
assert mean_path["huffman"] < mean_path["balanced"] and balanced.depth == int(np.ceil(np.log2(V)))
assert huffman.depth >= balanced.depth  # no binary tree over V leaves is shallower than ceil(log2 V)

# %% [markdown]
# The Huffman tree meets the bound: its expected path is within a small fraction of a
# bit of the entropy (the line printed above), because the frequencies are spread over
# many words and rounding each $-\log_2 p(w)$ to a whole number of nodes costs little
# on average. Against the balanced tree, an average training example touches fewer
# nodes, by the share printed above.
#
# Whether that makes training faster depends on the implementation. word2vec's C
# code walks each example's path in a loop, so its work is the actual path length, and
# Huffman's shorter average is a direct saving. A batched layer on a vector machine
# cannot stop early for one example: `HierarchicalSoftmax` computes `tree.depth`
# positions for every example and masks the rest, so a step costs the **longest**
# path, and the Huffman tree's longest path is longer than the balanced tree's
# (the rare words sit deep). What Huffman keeps is what sequential trainers and beam
# search care about: the frequent words, which most predictions are, lie near the
# root.
#
# For the quality, the trees shape what the nodes have to learn. A Huffman node
# separates groups of words that have similar *frequencies*, which says little about
# their meaning; trees built from word similarity (Mnih and Hinton, 2009, clustered
# learned embeddings) ask easier questions and reach a lower perplexity. Between these
# two frequency-only trees, the run of section 4 gives:

# %%
step_ratio = median_step["Huffman tree"] / median_step["balanced tree"]
print(f"Huffman vs balanced tree: median step {1e3 * median_step['Huffman tree']:.2f} ms vs "
      f"{1e3 * median_step['balanced tree']:.2f} ms (ratio {step_ratio:.2f}, padded depths {huffman.depth} and "
      f"{balanced.depth}); held-out perplexity at the end {final['Huffman tree']:.1f} vs {final['balanced tree']:.1f}, "
      f"and after {k} steps {at_k['Huffman tree']:.1f} vs {at_k['balanced tree']:.1f}.")
if not FAST:
    assert 0.5 < step_ratio < 2, median_step  # the same order of cost: neither tree is a big win per step
    assert abs(final["Huffman tree"] / final["balanced tree"] - 1) < 0.15, final  # nor in quality

# %% [markdown]
# On this corpus the two trees are close on both counts: neither is a clear winner
# for a batched layer. Choose Huffman when the frequent classes should be cheap to
# reach (sequential training, beam search), balanced when the longest path is what
# you pay for, and a tree of similar classes (`Tree.from_paths`) when you have one.
#
# ## 6. Predictions: `top_k` from the inference model
#
# The encoder (the inference model) turns contexts into hidden vectors with the
# trained weights; the output layer then ranks the vocabulary. `log_probs(h)` gives
# all $V$ log-probabilities, `(batch, V)`, whose exponentials sum to one; `top_k(h, k)`
# returns the $k$ best, exactly. Here are the Huffman model's five most likely next
# words after a few contexts written in Python's own style.

# %%
training, encoder, output = models["Huffman tree"]
contexts = [
    ("for", "i", "in"),
    ("if", "__name__", "__main__"),
    ("raise", "TypeError", "expected"),
    ("def", "__init__", "self"),
    ("from", "collections", "import"),
    ("return", "self", "_"),
    ("the", "number", "of"),
    ("isinstance", "value", "str"),
]
context_ids = np.array([[index.get(word, 0) for word in context] for context in contexts], dtype="int32")
hidden = encoder.predict(context_ids, verbose=0)
top_log_probs, top_words = (keras.ops.convert_to_numpy(t) for t in output.top_k(hidden, k=5))
for context, log_p, words in zip(contexts, top_log_probs, top_words):
    guesses = ", ".join(f"{vocabulary[w]} {np.exp(lp):.2f}" for w, lp in zip(words, log_p))
    print(f"{' '.join(context):>28s} -> {guesses}")

# %% [markdown]
# Now the numbers on the held-out sample: how often the true next word is among the
# five most likely for each model, that the probabilities sum to one, and how well a
# **beam search** down the tree (`top_k(h, k, beam_width=W)`), which never scores all
# $V$ words, recovers the exact top 5.

# %%
def top5_hits(name, contexts, next_words):
    """Whether the next word is among each model's 5 most likely (exact ranking)."""
    training, encoder, output = models[name]
    hits = []
    for begin in range(0, len(next_words), 500):  # (500, V) log-probabilities at a time
        h = encoder.predict(contexts[begin:begin + 500], verbose=0)
        if name == "full softmax":
            best = keras.ops.convert_to_numpy(keras.ops.top_k(output(h), 5)[1])
        else:
            best = keras.ops.convert_to_numpy(output.top_k(h, k=5)[1])
        hits.append(np.any(best == next_words[begin:begin + 500, None], axis=1))
    return np.concatenate(hits)


top5 = {name: float(np.mean(top5_hits(name, x_eval, y_eval))) for name in models}
print(f"After the same training time, the true next word is among the 5 most likely in {top5['Huffman tree']:.1%} of "
      f"{len(y_eval):,} held-out examples with the Huffman tree, {top5['balanced tree']:.1%} with the balanced tree and "
      f"{top5['full softmax']:.1%} with the full softmax.")

h = encoder.predict(x_eval[:500], verbose=0)
total = np.exp(keras.ops.convert_to_numpy(output.log_probs(h))).sum(axis=1)
exact = keras.ops.convert_to_numpy(output.top_k(h, k=5)[1])
agreement = {}
for width in (5, 20, 80):
    found = keras.ops.convert_to_numpy(output.top_k(h, k=5, beam_width=width)[1])
    agreement[width] = float(np.mean([len(set(a) & set(b)) / 5 for a, b in zip(found, exact)]))
print(f"P(w | context) summed over all {V:,} words: between {total.min():.6f} and {total.max():.6f} on 500 contexts.")
print("beam search: share of the exact top 5 found with beam width " +
      ", ".join(f"{w}: {a:.3f}" for w, a in agreement.items()))
assert np.allclose(total, 1.0, atol=1e-4)
if not FAST:
    assert min(top5["Huffman tree"], top5["balanced tree"]) > top5["full softmax"], top5
    assert agreement[5] < agreement[20] <= agreement[80] and agreement[20] > 0.8 and agreement[80] > 0.95, agreement

# %% [markdown]
# The model has picked up Python's idioms from three words of context, with some
# mistakes, after the short training of section 4 on a CPU. A narrow beam misses some
# of the exact top 5, because a likely word can sit under a node whose other words are
# unlikely; a beam a few times wider than $k$ finds nearly all of them (the line printed
# above) at a fraction of the cost of scoring the whole vocabulary.
#
# ## Summary
#
# - A hierarchical softmax replaces one $V$-way softmax by a product of binary
#   decisions along a path in a tree; it is exact and normalised, and a training
#   example touches only the nodes on its path, about $\log_2 V$ instead of $V$ rows.
# - Use the two-model pattern: a **training model** that takes the labels as an input,
#   `HierarchicalSoftmax(tree)([hidden, labels])` with
#   `HierarchicalSoftmaxLoss(from_path_logits=True)`, and an **inference model** (the
#   encoder) that shares the layers; the output layer's `log_probs` and `top_k` do the
#   predicting.
# - Train it with plain SGD or `LazyAdam` (both update only the rows used; on JAX and
#   PyTorch add `keras_losses.optimizers.sparse_updates(model)`), without a kernel
#   regularizer, and with `jit_compile=True` on a CPU.
# - Per step, a full softmax learns more; per second, at tens of thousands of classes,
#   the tree is far ahead: its steps are many times cheaper (section 4), it reaches the
#   full softmax's quality several times sooner, and in the same time it gets much
#   further.
# - `Tree.huffman(counts)` gives the shortest expected path (within one bit of the
#   entropy); `Tree.balanced(V)` the shortest longest path, which is what a padded,
#   batched step pays for. For better quality, consider a tree that groups similar
#   classes (`Tree.from_paths`).
