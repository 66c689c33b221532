# %% [markdown]
# # CLIP-style contrastive learning
#
# Classification learns a fixed list of labels. Contrastive learning learns something
# more flexible: two **encoders** ("towers"), one per kind of input, that map matching
# inputs to nearby points of a shared embedding space. CLIP trains an image tower and a
# text tower on image-caption pairs; afterwards any caption can be embedded and
# compared with any image, which gives retrieval (find the images for a sentence) and
# zero-shot classification (describe each class in words, pick the closest) without
# training a classifier.
#
# The training signal comes from the batch itself. Take $n$ pairs; the image tower
# gives embeddings $u_1, \dots, u_n$ and the text tower $v_1, \dots, v_n$. After
# L2-normalising them ($\hat u = u / \lVert u \rVert$), every image is scored against
# every caption of the batch:
#
# $$L_{ij} = s \, \hat u_i^\top \hat v_j, \qquad s = e^{t} = 1/\tau,$$
#
# a cosine similarity in $[-1, 1]$ times a **scale** $s$, the inverse of a temperature
# $\tau$. The diagonal holds the true pairs; the $n - 1$ other entries of each row and
# column are the negatives, for free.
#
# **CLIP's loss (InfoNCE, symmetric).** Each row is a softmax classification "which of
# the $n$ captions belongs to image $i$?", and each column the same question the other
# way round:
#
# $$\ell_i^{\text{image}\to\text{text}} = -\log \frac{e^{L_{ii}}}{\sum_{j=1}^{n} e^{L_{ij}}}, \qquad
# \ell_i^{\text{text}\to\text{image}} = -\log \frac{e^{L_{ii}}}{\sum_{j=1}^{n} e^{L_{ji}}}, \qquad
# \mathcal{L}_{\text{CLIP}} = \frac{1}{n} \sum_{i=1}^{n} \frac{\ell_i^{\text{image}\to\text{text}} + \ell_i^{\text{text}\to\text{image}}}{2}.$$
#
# This is the InfoNCE loss of contrastive predictive coding, applied in both
# directions. Guessing at random costs $\log n$ (all logits equal), and
# $\log n - \mathcal{L}$ is a lower bound on the mutual information between the two
# views: a bigger batch offers more negatives and a tighter bound.
#
# **The temperature is learned.** With cosines bounded by 1, the scale sets how sharp
# each softmax can be: at $s = 1$ even perfect embeddings (cosine 1 for the true pair,
# $-1$ for the rest) give the true pair a probability of only $e / (e + 127 e^{-1})$ in a
# batch of 128, so the loss cannot fall far; at a very large $s$ the gradients concentrate on
# a few entries and training becomes unstable. CLIP learns $t = \log s$ with the weights, starting at
# $s = 1/0.07$, and clips it at $s \le 100$.
#
# **SigLIP's loss (pairwise sigmoid).** SigLIP replaces the two softmaxes by one
# independent yes/no question per pair, with a learned bias $b$:
#
# $$L_{ij} = s \, \hat u_i^\top \hat v_j + b, \qquad z_{ij} = \begin{cases} +1 & \text{if } i \text{ and } j \text{ match} \\ -1 & \text{otherwise} \end{cases}, \qquad
# \mathcal{L}_{\text{SigLIP}} = -\frac{1}{n} \sum_{i=1}^{n} \sum_{j=1}^{n} \log \sigma\!\left(z_{ij} L_{ij}\right).$$
#
# No term is normalised over the batch: each pair's loss depends on its own logit only.
#
# In `keras_losses` the towers are ordinary Keras models,
# `keras_losses.layers.ContrastiveLogits` computes the logit matrix and holds the
# learned scale (and bias), and `keras_losses.CLIPLoss` / `keras_losses.SigLIPLoss`
# read that matrix with **pair ids** as `y_true`: examples whose ids are equal are a
# matching pair.

# %%
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
FAST = os.environ.get("KERAS_LOSSES_TUTORIAL_MODE") == "fast"  # CI runs a short version

import logging

import keras
import matplotlib.pyplot as plt
import numpy as np

import keras_losses

logging.getLogger("tensorflow").setLevel(logging.ERROR)  # no retracing notices in the outputs
keras.utils.set_random_seed(0)
EPOCHS = 2 if FAST else 60
print("keras", keras.__version__, "| backend", keras.backend.backend(), "| fast run" if FAST else "| full run")

# %% [markdown]
# ## 1. Paired data: digits and their descriptions
#
# We need two kinds of input that describe the same thing. The images are
# scikit-learn's handwritten digits (1797 images of 8x8 pixels). The "text" is a short
# description of each image, written from its label and from two attributes measured
# on its pixels:
#
# - **stroke weight**: the total ink, called *faint*, *medium* or *bold*;
# - **width**: the spread of the ink from left to right, called *narrow*, *regular* or *wide*.
#
# Each word covers a third of the images of its digit, so the words are relative, as
# in English: a wide one is still narrower than a narrow zero. A description reads
# "a bold, narrow seven", and a `TextVectorization` layer turns it into a bag of words
# (a multi-hot vector over the vocabulary): the text tower sees words, not labels.
#
# The descriptions are coarse, so many images share one: **repeated pairs**, as in real
# data, where the same caption ("a photo of a dog") belongs to many photos. The pair
# id of an example is the id of its description, so two images with the same
# description match each other's text, as they should (section 5 shows what happens
# otherwise).

# %%
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

digits = load_digits()
images = digits.images.astype("float32") / 16.0  # (1797, 8, 8), ink in [0, 1]
labels = digits.target
pixels = images.reshape(len(images), 64)

_, columns = np.mgrid[0:8, 0:8]
ink = images.sum(axis=(1, 2))
centre = (images * columns).sum(axis=(1, 2)) / ink
spread = np.sqrt((images * (columns - centre[:, None, None]) ** 2).sum(axis=(1, 2)) / ink)


def thirds_within_digit(value):
    """0, 1 or 2: the third of the image's own digit that `value` falls in."""
    level = np.zeros(len(value), dtype=int)
    for digit in range(10):
        mine = labels == digit
        low, high = np.quantile(value[mine], [1 / 3, 2 / 3])
        level[mine] = (value[mine] > low).astype(int) + (value[mine] > high)
    return level


NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
WEIGHTS = ["faint", "medium", "bold"]
WIDTHS = ["narrow", "regular", "wide"]


def describe(digit, weight, width):
    return f"a {WEIGHTS[weight]}, {WIDTHS[width]} {NAMES[digit]}"


captions = np.array([describe(d, w, s) for d, w, s in zip(labels, thirds_within_digit(ink), thirds_within_digit(spread))])
all_descriptions, pair_ids = np.unique(captions, return_inverse=True)  # pair id = description id

vectorizer = keras.layers.TextVectorization(output_mode="multi_hot")
vectorizer.adapt(all_descriptions)


def bag_of_words(texts):
    return keras.ops.convert_to_numpy(vectorizer(np.asarray(texts))).astype("float32")


texts = bag_of_words(captions)
train, test = train_test_split(np.arange(len(labels)), test_size=0.25, random_state=0, stratify=labels)
for i in train[:4]:
    print(f"image {i:4d}: digit {labels[i]}, pair id {pair_ids[i]:2d}, description {str(captions[i])!r}")
print(f"vocabulary: {[str(word) for word in vectorizer.get_vocabulary()]}")
copies = np.bincount(pair_ids[train])
print(f"{len(all_descriptions)} distinct descriptions; in the {len(train)} training pairs each one "
      f"describes {copies[copies > 0].mean():.1f} images on average; {len(test)} pairs are held out.")

# %% [markdown]
# ## 2. Two towers, one logit layer, and training
#
# Each tower is a small multilayer perceptron ending in a 32-dimensional embedding.
# The training model feeds both towers into `ContrastiveLogits`, whose output for a
# batch of $n$ pairs is the $(n, n)$ matrix $L$; `y` is the pair ids. For SigLIP, the
# layer gets SigLIP's start, `logit_scale=10.0` and a learned `logit_bias=-10.0`.
#
# We train four models the same way (Adam, batches of 128, the same epochs and seeds):
#
# 1. **CLIP** with the defaults: the scale starts at $1/0.07$ and may grow up to
#    `max_logit_scale=100`;
# 2. **CLIP with a low ceiling**, `max_logit_scale=18`, to watch the bound act (section 3);
# 3. **SigLIP**;
# 4. **SigLIP with naive ids**: each pair gets its own id (its position in the data
#    set) even where two images share a description (section 5).
#
# A callback records the scale (and bias) the layer uses at the end of every epoch.

# %%
EMBEDDING = 32
VOCABULARY = texts.shape[1]


def tower(input_dim, hidden, name):
    inputs = keras.Input((input_dim,))
    x = inputs
    for units in hidden:
        x = keras.layers.Dense(units, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(EMBEDDING)(x), name=name)


def train_two_towers(loss, ids, **logit_options):
    keras.utils.set_random_seed(1)  # the same starting towers for every run
    image_tower = tower(64, (128, 128), "image_tower")
    text_tower = tower(VOCABULARY, (64,), "text_tower")
    image_in, text_in = keras.Input((64,), name="image"), keras.Input((VOCABULARY,), name="text")
    logits = keras_losses.layers.ContrastiveLogits(name="logits", **logit_options)
    model = keras.Model([image_in, text_in], logits([image_tower(image_in), text_tower(text_in)]))
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=loss)

    trace = {"scale": [], "bias": []}

    def record(epoch, logs):
        trace["scale"].append(float(keras.ops.convert_to_numpy(logits.scale)))
        if logits.bias is not None:
            trace["bias"].append(float(keras.ops.convert_to_numpy(logits.bias)))

    history = model.fit(
        [pixels[train], texts[train]], ids[train], batch_size=128, epochs=EPOCHS, verbose=0,
        callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=record)],
    )
    trace["loss"] = history.history["loss"]
    return {"model": model, "image_tower": image_tower, "text_tower": text_tower, "logits": logits, **trace}


CEILING = 18.0
dataset_index = np.arange(len(labels))  # one id per pair: the naive ids
runs = {
    "CLIP": train_two_towers(keras_losses.CLIPLoss(), pair_ids),
    f"CLIP, max scale {CEILING:g}": train_two_towers(keras_losses.CLIPLoss(), pair_ids, max_logit_scale=CEILING),
    "SigLIP": train_two_towers(keras_losses.SigLIPLoss(), pair_ids, logit_scale=10.0, logit_bias=-10.0),
    "SigLIP, naive ids": train_two_towers(keras_losses.SigLIPLoss(), dataset_index, logit_scale=10.0, logit_bias=-10.0),
}
for name, run in runs.items():
    bias = f", bias {run['bias'][-1]:.2f}" if run["bias"] else ""
    print(f"{name:18s} training loss {run['loss'][0]:6.3f} -> {run['loss'][-1]:.3f}; scale {run['scale'][-1]:.1f}{bias}")

# %% [markdown]
# ## 3. Inference the right way: embed with each tower
#
# The training model's output compares each image with the captions **of its own
# batch**: it is a training signal, not a property of one image. To use the model, run
# each tower on its own inputs and compare the embeddings. The `ContrastiveLogits`
# layer accepts two batches of different sizes, so calling it on (images, candidate
# texts) scores every image against every candidate with the learned scale (and bias).
#
# **Retrieval** on the held-out pairs, in both directions. The candidates are the
# distinct descriptions of the held-out pairs:
#
# - *image to text*: rank every description for each image; a hit when the image's own
#   description is ranked first (top-1) or among the first five (top-5);
# - *text to image*: rank every held-out image for each description; a hit when the
#   first (or one of the first five) images carries that description.
#
# Chance is what a random ranking scores: $1/G$ and $5/G$ for image to text with $G$
# descriptions, and, for text to image, the share of images that carry the
# description (averaged over the descriptions).

# %%
from math import comb

candidates = np.unique(pair_ids[test])  # the distinct held-out descriptions
candidate_texts = bag_of_words(all_descriptions[candidates])
truth = np.searchsorted(candidates, pair_ids[test])  # each held-out image's description, as a candidate index
carriers = np.bincount(truth, minlength=len(candidates))  # images per description


def retrieval(run):
    image_embeddings = run["image_tower"].predict(pixels[test], verbose=0)  # (N, 32)
    text_embeddings = run["text_tower"].predict(candidate_texts, verbose=0)  # (G, 32)
    scores = keras.ops.convert_to_numpy(run["logits"]([image_embeddings, text_embeddings]))  # (N, G)
    best_texts = np.argsort(-scores, axis=1)[:, :5]
    best_images = np.argsort(-scores.T, axis=1)[:, :5]
    found = truth[best_images] == np.arange(len(candidates))[:, None]
    return {
        "image to text top-1": np.mean(best_texts[:, 0] == truth),
        "image to text top-5": np.mean(np.any(best_texts == truth[:, None], axis=1)),
        "text to image top-1": np.mean(found[:, 0]),
        "text to image top-5": np.mean(np.any(found, axis=1)),
    }


n_test = len(test)
chance = {
    "image to text top-1": 1 / len(candidates),
    "image to text top-5": 5 / len(candidates),
    "text to image top-1": np.mean(carriers / n_test),
    "text to image top-5": np.mean([1 - comb(n_test - k, 5) / comb(n_test, 5) for k in carriers]),
}
scores = {name: retrieval(run) for name, run in runs.items()}
print(f"{len(test)} held-out images, {len(candidates)} distinct descriptions among them")
print(f"{'':18s}" + "".join(f"{k:>22s}" for k in chance))
for name, result in {**scores, "chance": chance}.items():
    print(f"{name:18s}" + "".join(f"{result[k]:22.3f}" for k in chance))

# %% [markdown]
# **Zero-shot classification** needs no new training. Describe each class in words,
# embed the descriptions with the text tower, and give each image the class whose
# embedding is closest. One description per class would do ("a medium, regular
# seven"); CLIP's authors average the embeddings of many phrasings of a class instead
# ("prompt ensembling"), and so do we: the nine descriptions of each digit, one per
# stroke weight and width. It helps here too (the two accuracies printed below). The
# layer turns the ten scores of an image into logits with the learned scale, and a
# softmax gives class probabilities. "Zero-shot" means that no classifier was trained:
# the digit names were words of the training descriptions, as class names are words of
# CLIP's captions.

# %%
def normalized(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def zero_shot(run, ensemble=True):
    if ensemble:
        prompts = [describe(d, w, s) for d in range(10) for w in range(3) for s in range(3)]
    else:
        prompts = [describe(d, 1, 1) for d in range(10)]  # "a medium, regular <digit>"
    prompt_embeddings = normalized(run["text_tower"].predict(bag_of_words(prompts), verbose=0))
    class_embeddings = prompt_embeddings.reshape(10, -1, EMBEDDING).mean(axis=1)  # (10, 32)
    image_embeddings = run["image_tower"].predict(pixels[test], verbose=0)
    class_logits = run["logits"]([image_embeddings, class_embeddings])  # (N, 10)
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(class_logits, axis=-1))
    return np.mean(np.argmax(probabilities, axis=1) == labels[test]), probabilities


clip = runs["CLIP"]
zero_shot_accuracy, probabilities = zero_shot(clip)
single_prompt_accuracy, _ = zero_shot(clip, ensemble=False)
print(f"CLIP zero-shot accuracy on {len(test)} held-out digits: {zero_shot_accuracy:.3f} with nine descriptions "
      f"per class, {single_prompt_accuracy:.3f} with one (chance 0.100)")
print(f"the first held-out image, a {labels[test[0]]}: probability {probabilities[0, labels[test[0]]]:.2f} for its class")
siglip_zero_shot, _ = zero_shot(runs["SigLIP"])
print(f"SigLIP zero-shot accuracy: {siglip_zero_shot:.3f}")
if not FAST:
    assert zero_shot_accuracy > 0.8 and siglip_zero_shot > 0.8, (zero_shot_accuracy, siglip_zero_shot)
    assert zero_shot_accuracy > single_prompt_accuracy, (zero_shot_accuracy, single_prompt_accuracy)

# %% [markdown]
# What `model.predict` on the training model would give instead: one $(b, b)$ matrix
# per batch of $b$ inputs, so row $i$ compares image $i$ with the $b$ captions that
# happened to share its batch, and the result changes with `batch_size`.

# %%
batch_view = clip["model"].predict([pixels[test], texts[test]], batch_size=90, verbose=0)
print(f"model.predict on {len(test)} pairs with batch_size=90 returns shape {batch_view.shape}: "
      "each row only sees the 90 captions of its own batch")

# %% [markdown]
# ## 4. The results at a glance
#
# The figure gathers the three things this tutorial is about: the learned scale per
# epoch (left), held-out retrieval against chance (middle), and what naive ids do to
# SigLIP's probabilities (right; section 5 explains it).

# %%
siglip, naive = runs["SigLIP"], runs["SigLIP, naive ids"]


def matching_probabilities(run):
    """sigmoid(L_ii) of SigLIP for each held-out image and its own description."""
    image_embeddings = run["image_tower"].predict(pixels[test], verbose=0)
    text_embeddings = run["text_tower"].predict(texts[test], verbose=0)
    logits = keras.ops.convert_to_numpy(run["logits"]([image_embeddings, text_embeddings]))
    return 1 / (1 + np.exp(-np.diag(logits)))


p_ids, p_naive = matching_probabilities(siglip), matching_probabilities(naive)

fig, axes = plt.subplots(1, 3, figsize=(16, 4.4))
epochs = np.arange(1, EPOCHS + 1)
ax = axes[0]
for name, color in [("CLIP", "C0"), (f"CLIP, max scale {CEILING:g}", "C1"), ("SigLIP", "C2")]:
    ax.plot(epochs, runs[name]["scale"], color=color, marker=".", label=name)
ax.axhline(100, color="C0", ls="--", lw=1, label="max_logit_scale = 100 (default)")
ax.axhline(CEILING, color="C1", ls="--", lw=1, label=f"max_logit_scale = {CEILING:g}")
ax.axhline(1 / 0.07, color="grey", ls=":", lw=1, label="CLIP's start, 1/0.07")
ax.set(yscale="log", ylim=(8, 130), xlabel="epoch", ylabel="scale s = 1/temperature (log axis)",
       title="The learned scale, epoch by epoch")
ax.set_yticks([10, 15, 20, 30, 50, 100], ["10", "15", "20", "30", "50", "100"])
ax.minorticks_off()
ax.legend(fontsize=8, loc="upper left")

ax = axes[1]
keys = list(chance)
x = np.arange(len(keys))
for offset, (name, result, color) in zip((-0.27, 0, 0.27), [("CLIP", scores["CLIP"], "C0"),
                                                              ("SigLIP", scores["SigLIP"], "C2"),
                                                              ("chance", chance, "grey")]):
    ax.bar(x + offset, [result[k] for k in keys], width=0.27, color=color, label=name)
ax.set_xticks(x, [k.replace(" top", "\ntop") for k in keys], fontsize=9)
ax.set(ylim=(0, 1), ylabel="share of queries answered", title=f"Retrieval on {len(test)} held-out pairs")
ax.legend(fontsize=9)

ax = axes[2]
bins = np.linspace(0, 1, 26)
ax.hist(p_ids, bins=bins, alpha=0.7, color="C2", label=f"pair ids (mean {p_ids.mean():.2f})")
ax.hist(p_naive, bins=bins, alpha=0.7, color="C3", label=f"naive ids (mean {p_naive.mean():.2f})")
ax.set(xlabel="SigLIP's probability that an image matches its own description", ylabel="held-out images",
       title="SigLIP with repeated descriptions")
ax.legend(fontsize=9)
plt.tight_layout()
plt.show()

# %% [markdown]
# ### The temperature
#
# The scale is a weight like any other: gradient descent moves $t = \log s$ to
# wherever the loss is lowest. In the first epoch the embeddings are poor, a sharp
# softmax would be confidently wrong, and the scale even dips below its start; once
# matching pairs are more similar than the rest, a sharper softmax lowers the loss and
# the scale rises. It levels off where the remaining confusions (images whose
# attribute sits on the edge between two words) cost as much as more sharpness gains.
# `max_logit_scale` is a ceiling, not a target: the default of 100 is never reached
# here, while the run capped at 18 climbs to its ceiling and stays there, because
# `ContrastiveLogits` clips the variable after every optimizer update (and the forward
# pass never uses more). Holding the scale below where it wanted to go costs the
# capped run some retrieval accuracy (the line printed below).

# %%
free, capped = runs["CLIP"], runs[f"CLIP, max scale {CEILING:g}"]
capped_log_scale = float(keras.ops.convert_to_numpy(capped["logits"].log_scale))
print(f"CLIP learned its scale: {free['scale'][0]:.1f} after the first epoch, {free['scale'][-1]:.1f} after the last "
      f"(start {1 / 0.07:.1f}, ceiling 100).")
print(f"With max_logit_scale={CEILING:g} the scale ends at {capped['scale'][-1]:.3f} (the variable holds "
      f"log s = {capped_log_scale:.4f}, log {CEILING:g} = {np.log(CEILING):.4f}); its held-out image-to-text "
      f"top-1 is {scores[f'CLIP, max scale {CEILING:g}']['image to text top-1']:.3f} against "
      f"{scores['CLIP']['image to text top-1']:.3f} without the low ceiling.")
if not FAST:
    assert free["scale"][0] < 1 / 0.07 < free["scale"][-1] and max(free["scale"]) < 100, free["scale"]
    assert max(free["scale"]) > CEILING  # the capped run was held below where the free one went
    assert max(capped["scale"]) <= CEILING * (1 + 1e-5) and capped["scale"][-1] > CEILING * 0.999, capped["scale"]
    assert capped_log_scale <= np.log(CEILING) + 1e-6
    assert scores[f"CLIP, max scale {CEILING:g}"]["image to text top-1"] < scores["CLIP"]["image to text top-1"], scores

# %% [markdown]
# ### Retrieval
#
# The key result of this tutorial: both objectives learn embeddings that find the
# right description far more often than chance, on pairs they never saw.

# %%
clip_top1, siglip_top1 = scores["CLIP"]["image to text top-1"], scores["SigLIP"]["image to text top-1"]
print(f"On {len(test)} held-out digits, CLIP ranks the right description first among {len(candidates)} "
      f"for {clip_top1:.1%} of the images (top-5 {scores['CLIP']['image to text top-5']:.1%}) and SigLIP for "
      f"{siglip_top1:.1%} (top-5 {scores['SigLIP']['image to text top-5']:.1%}), against a chance of "
      f"{chance['image to text top-1']:.1%} (top-5 {chance['image to text top-5']:.1%}); "
      f"CLIP's learned scale ended at {free['scale'][-1]:.1f}.")
if not FAST:
    assert min(clip_top1, siglip_top1) > 20 * chance["image to text top-1"], scores
    assert clip_top1 > siglip_top1 and scores["CLIP"]["image to text top-5"] > scores["SigLIP"]["image to text top-5"], scores
    assert min(scores["CLIP"]["image to text top-5"], scores["SigLIP"]["image to text top-5"]) > 0.8, scores
    assert min(scores["CLIP"]["text to image top-1"], scores["SigLIP"]["text to image top-1"]) > 3 * chance["text to image top-1"], scores

# %% [markdown]
# The top-1 figure is limited by the data more than by the models: a word covers a
# third of each digit's images, and an image near the edge between "regular" and
# "wide" could honestly be called either. Top-5 forgives those near misses. Here are
# the five images CLIP retrieves for a few held-out descriptions (green: the image
# carries exactly that description; the title of each image is its own description).

# %%
queries = [describe(7, 2, 0), describe(0, 0, 2), describe(3, 1, 1), describe(2, 2, 2)]
query_embeddings = clip["text_tower"].predict(bag_of_words(queries), verbose=0)
gallery_embeddings = clip["image_tower"].predict(pixels[test], verbose=0)
query_scores = keras.ops.convert_to_numpy(clip["logits"]([query_embeddings, gallery_embeddings]))  # (4, N)

fig, axes = plt.subplots(len(queries), 5, figsize=(11, 2.4 * len(queries)))
for row, query in enumerate(queries):
    for rank, image_index in enumerate(np.argsort(-query_scores[row])[:5]):
        ax = axes[row, rank]
        ax.imshow(images[test[image_index]], cmap="gray_r")
        own = str(captions[test[image_index]])
        ax.set_title(own, fontsize=8, color="green" if own == query else "firebrick")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set(color="green" if own == query else "firebrick", linewidth=2)
    axes[row, 0].set_ylabel(f"query:\n{query!r}", fontsize=9, rotation=0, ha="right", va="center")
fig.suptitle("Text-to-image retrieval with CLIP's two towers: the five best held-out images per description")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 5. Repeated ids: the same description twice in a batch
#
# A batch of 128 pairs drawn from this data set often holds two images with the same
# description. What should the loss ask for? Ids tell it: `CLIPLoss` and `SigLIPLoss`
# compare the pair ids, and every pair $(i, j)$ with equal ids is a positive. For CLIP
# each row's target is spread evenly over its $k_i$ matches, a soft target
# $t_{ij} = m_{ij} / k_i$ with $m_{ij} = [\text{id}_i = \text{id}_j]$:
#
# $$\ell_i^{\text{image}\to\text{text}} = -\sum_{j} t_{ij} \log \frac{e^{L_{ij}}}{\sum_{l} e^{L_{il}}},$$
#
# and the same along the columns. The **naive diagonal** (what you get with ids that
# are positions, or with `SparseCategoricalCrossentropy` on `arange(n)` targets) says
# that only $j = i$ matches, and that the image's twin description is a negative.
#
# Take a batch of three where images 0 and 1 share a description, so their text
# embeddings are identical and the first two columns of $L$ are equal. With a
# well-trained model:

# %%
L = np.array([[12.0, 12.0, -3.0],    # image 0: both copies of its description score 12
              [9.0, 9.0, -2.0],      # image 1: the same description, a little less sure
              [-4.0, -4.0, 11.0]])   # image 2: its own description
repeated, naive_ids = np.array([5, 5, 8]), np.array([0, 1, 2])
clip_each = {name: keras.ops.convert_to_numpy(keras_losses.clip_loss(ids, L)) for name, ids in
             [("pair ids", repeated), ("naive", naive_ids)]}
sparse_ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
built_in = 0.5 * (float(sparse_ce(naive_ids, L)) + float(sparse_ce(naive_ids, L.T)))
for name, values in clip_each.items():
    print(f"CLIP, {name:8s}: per example {np.round(values, 3)}, mean {values.mean():.4f}")
print(f"built-in sparse cross-entropy on the diagonal, rows and columns: mean {built_in:.4f}")
print(f"log 2 = {np.log(2):.4f}: the least any model pays in row 0 or 1 (an image against two identical descriptions)")
siglip_each = {name: keras.ops.convert_to_numpy(keras_losses.siglip_loss(ids, L)) for name, ids in
               [("pair ids", repeated), ("naive", naive_ids)]}
for name, values in siglip_each.items():
    print(f"SigLIP, {name:8s}: per example {np.round(values, 3)}")
assert abs(clip_each["pair ids"].mean() - clip_each["naive"].mean()) < 1e-5
assert abs(clip_each["naive"].mean() - built_in) < 1e-5

# %% [markdown]
# Two lessons, one per loss.
#
# **CLIP: the mean is the same, and it has a floor.** The per-example values differ:
# the naive diagonal wants the shared description's second column to pick image 1, the
# less sure of the two images, and charges example 1 for it, while the soft targets
# share that cost. But the batch means agree, and with the built-in formulation too.
# This is not luck. The two copies are the same input, so they get the same embedding:
# columns 0 and 1 of $L$ are equal. Within a row, the naive target (one copy) and the
# soft target (half on each copy) then read the same logit; and the two equal columns,
# one aimed at image 0 and one at image 1, add up to what two columns aimed half at
# each give. The mean loss is the same function of the weights, so are its gradients,
# and training is the same. (When the copies differ, say two photos of one product each
# with its own caption, the two formulations differ, and only the ids say which you
# mean.) What neither can do is go below a floor: no model can prefer one of two
# identical descriptions, so a row or column with $k$ copies costs at least $\log k$,
# the entropy of its soft target. A CLIP loss does not go to zero on data with repeats;
# its floor for a batch is the mean of $\log k_i$ over the batch.

# %%
rng = np.random.default_rng(0)
floors = []
for _ in range(20):  # batches of 128 drawn as fit() draws them: a shuffle per epoch
    order = rng.permutation(pair_ids[train])
    for start in range(0, len(order), 128):
        batch = order[start:start + 128]
        k = np.array([np.sum(batch == i) for i in batch])
        floors.append((np.mean(np.log(k)), len(batch)))
floor = np.average([f for f, _ in floors], weights=[n for _, n in floors])
print(f"The repeated descriptions set CLIP's floor at {floor:.3f} per example on batches of 128; "
      f"CLIP's final training loss is {clip['loss'][-1]:.3f}.")
if not FAST:
    assert clip["loss"][-1] > floor

# %% [markdown]
# **SigLIP: naive ids fight the model.** SigLIP asks one yes/no question per pair.
# With naive ids, "does image 0 match description 1?" must be answered *no*, but
# description 1 is description 0, whose answer must be *yes*: the same logit is pushed
# up by one term and down by the other. With $k$ identical copies in a batch, one term
# says yes and $k - 1$ say no, and the loss is lowest at
# $\sigma(L) = 1/k$ instead of 1. The printed values above show it: with pair ids, a
# confident, correct model pays almost nothing; with naive ids it pays for its right
# answers. The right-hand panel of the figure shows the consequence after training:
# the probabilities SigLIP gives to true pairs are pulled down.

# %%
naive_top1 = scores["SigLIP, naive ids"]["image to text top-1"]
print(f"SigLIP's mean probability that a held-out image matches its own description: {p_ids.mean():.3f} "
      f"with pair ids, {p_naive.mean():.3f} with naive ids; image-to-text top-1 {siglip_top1:.3f} and {naive_top1:.3f}.")
if not FAST:
    assert p_ids.mean() > 1.5 * p_naive.mean(), (p_ids.mean(), p_naive.mean())
    assert naive_top1 >= siglip_top1, scores  # the ranking does not suffer (next cell)

# %% [markdown]
# The ranking is another matter: the naive model's top-1 (printed above) is not lower
# in this run. Retrieval only needs the right description to score above the other
# descriptions, and naive ids pull down every copy of a description together, which
# leaves the order of the candidates largely in place. What they break is the meaning
# of SigLIP's output: $\sigma(L_{ij})$ is meant to be the probability that a pair
# matches, usable with a threshold ("show the images with $\sigma > 0.5$"), and with
# naive ids it is deflated by the number of copies a description happened to have in
# its batches. Give repeated items the same id.
#
# ## 6. SigLIP beside CLIP
#
# Trained the same way on this task, CLIP retrieves better than SigLIP (the table in
# section 3 and the key result above), while zero-shot classification into ten digits,
# a coarser question, comes out about even (the lines printed in section 3). The SigLIP paper reports the sigmoid ahead of
# the softmax at small batch sizes on large image-text collections; on a small task
# with ninety heavily repeated descriptions it is not, which is a reason to measure
# both on your own data. What differs between them:
#
# - **A sigmoid per pair instead of a softmax per row and column.** CLIP's row loss
#   depends on every logit of the row through the normaliser $\sum_j e^{L_{ij}}$; SigLIP's
#   loss is a sum of $n^2$ independent binary cross-entropies, so it equals
#   $n \times$ `BinaryCrossentropy(from_logits=True)` of each row against the identity.
# - **No normalisation over the batch.** Nothing needs the whole row at once, so the
#   matrix can be computed and summed in blocks (and, across devices, exchanged in
#   pieces), and each pair's term does not change meaning with the batch size. CLIP's
#   softmax needs the full row and column.
# - **A learned bias that starts at $-10$.** With $n - 1$ negatives for each positive, a
#   start at $b = 0$ makes every pair a coin toss: each term costs $\log 2$ or more
#   (softplus is convex, so random logits around 0 cost at least $\log 2$ on average),
#   over $n \log 2$ per row, almost all of it from negatives, and the first steps would
#   be spent pushing everything down. With $b = -10$ the model starts out saying "no" to
#   every pair (the right answer for all but one in $n$), and learning is about lifting
#   the positives.
# - **No floor from repeats.** With pair ids, every matching pair can reach
#   probability 1, so repeated descriptions put no lower bound on SigLIP's loss (the
#   worked example of section 5: a confident, correct model pays almost nothing),
#   where CLIP's stops at the mean $\log k$.

# %%
n = 128
rng = np.random.default_rng(1)
untrained = [rng.normal(size=(n, EMBEDDING)), rng.normal(size=(n, EMBEDDING))]  # random embeddings
logits_at_start = keras.ops.convert_to_numpy(keras_losses.layers.ContrastiveLogits(logit_scale=10.0)(untrained))
unique_ids = np.arange(n)
print(f"n log 2 = {n * np.log(2):.2f} for a batch of n = {n}")
start_losses = {}
for b in (0.0, -10.0):
    start_losses[b] = float(np.mean(keras.ops.convert_to_numpy(keras_losses.siglip_loss(unique_ids, logits_at_start + b))))
    print(f"SigLIP at the start with bias {b:5.1f}: loss per example {start_losses[b]:6.2f}")
bce_form = n * float(keras.losses.BinaryCrossentropy(from_logits=True)(np.eye(n), logits_at_start - 10.0))
print(f"the same with bias -10 as n x the built-in BinaryCrossentropy against the identity: {bce_form:.2f}")
assert start_losses[0.0] >= n * np.log(2) and abs(bce_form - start_losses[-10.0]) < 1e-3 * bce_form
print(f"after training, SigLIP's bias is {siglip['bias'][-1]:.2f} and its scale {siglip['scale'][-1]:.1f}; "
      f"CLIP's scale is {clip['scale'][-1]:.1f}")

# %% [markdown]
# ## Summary
#
# - Build the towers as ordinary Keras models; put `keras_losses.layers.ContrastiveLogits`
#   on top for training, with `keras_losses.CLIPLoss()` and pair ids as `y`, or
#   `ContrastiveLogits(logit_scale=10.0, logit_bias=-10.0)` with `keras_losses.SigLIPLoss()`.
# - The scale (inverse temperature) is learned in the layer; read it from
#   `layer.scale`. `max_logit_scale` (100, as in CLIP) is a hard ceiling.
# - For retrieval and zero-shot classification, embed with each tower and score with
#   the layer (or plain cosine similarity); never with `model.predict` on the training
#   model, whose output depends on the batch.
# - Give repeated items the same pair id. For CLIP with exact duplicates it changes the
#   per-example values but not the mean; for SigLIP it keeps the pair probabilities
#   honest. Expect a CLIP loss floor of the mean $\log k$ when the data repeats.
# - SigLIP's per-pair sigmoid needs no batch-wide normalisation and starts with a bias
#   of $-10$; CLIP's softmax is the classic, and on this task the better retriever.
