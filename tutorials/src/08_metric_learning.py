# %% [markdown]
# # Metric learning: triplets, multi-similarity and supervised contrastive
#
# A classifier learns a fixed list of classes. **Metric learning** learns an
# *embedding*: a network $f$ that maps each example to a point of a small space where
# examples of one class lie close together and examples of different classes lie
# apart. Search ("find the images most like this one"), verification ("is this the
# same person?") and clustering then read distances between embeddings, also for
# classes the network never saw.
#
# All the losses here read a batch of embeddings with their class ids. Every example
# is in turn an **anchor** $a$; the other examples of its class are its **positives**
# $p$ and the examples of other classes its **negatives** $n$. With $d$ a distance
# between embeddings:
#
# **Triplet loss** (Schroff et al. 2015, FaceNet). A triplet is satisfied when the
# negative is farther than the positive by a margin $m$:
#
# $$\ell(a, p, n) = \max\left(0,\; m + d(a, p) - d(a, n)\right).$$
#
# A batch of $n$ examples holds about $n^3$ triplets and most are already satisfied;
# **mining** picks the informative ones. *Semi-hard* mining takes, for each pair
# $(a, p)$, the closest negative that is still farther than the positive
# ($d(a, p) < d(a, n)$), the default of `TripletLoss` and of TensorFlow Addons.
#
# **Multi-similarity loss** (Wang et al. 2019) works with cosine similarities
# $S_{ij}$. It first keeps the pairs that are informative relative to the others (a
# negative more similar than the least similar positive, minus $\epsilon$; a positive
# less similar than the most similar negative, plus $\epsilon$), then weighs them with
# two soft maxima:
#
# $$\ell_a = \frac{1}{\alpha} \log\Big(1 + \sum_{p} e^{-\alpha (S_{ap} - \lambda)}\Big) + \frac{1}{\beta} \log\Big(1 + \sum_{n} e^{\beta (S_{an} - \lambda)}\Big).$$
#
# **Supervised contrastive loss** (Khosla et al. 2020) is a softmax over the batch
# with temperature $\tau$, in which every other example of the anchor's class is a
# right answer:
#
# $$\ell_a = -\frac{1}{|P(a)|} \sum_{p \in P(a)} \log \frac{e^{z_a \cdot z_p / \tau}}{\sum_{b \neq a} e^{z_a \cdot z_b / \tau}}.$$
#
# All three need **several examples of each class in every batch**: an anchor alone in
# its class has no positive and teaches nothing. We build batches of $P$ classes
# $\times$ $K$ examples.

# %%
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
FAST = os.environ.get("KERAS_LOSSES_TUTORIAL_MODE") == "fast"  # CI runs a short version

import logging
import time

import keras
import matplotlib.pyplot as plt
import numpy as np

import keras_losses

logging.getLogger("tensorflow").setLevel(logging.ERROR)
keras.utils.set_random_seed(0)
EPOCHS = 3 if FAST else 40
print("keras", keras.__version__, "| backend", keras.backend.backend(), "| fast run" if FAST else "| full run")

# %% [markdown]
# ## 1. Data: handwritten digits, some classes held out
#
# scikit-learn's digits: 1797 images of 8x8 pixels, 10 classes. To test what metric
# learning is for, embeddings of **classes never seen in training**, we train on the
# digits 0 to 6 and measure retrieval on 7, 8 and 9 (and, separately, on held-out
# images of the training classes).
#
# **Recall@k**: for each query image, are any of its $k$ nearest neighbours (by
# cosine similarity, the query itself excluded) of its class? The mean over the
# queries is the score. The baseline is the same search on the raw pixels, and on
# their projection to as many dimensions as the embedding has (PCA), which is what a
# 4-number representation can do without learning. Four numbers are few on purpose:
# with 64 raw pixels, nearest neighbours on these clean little images are already
# almost always right, and there would be nothing left to learn.

# %%
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

digits = load_digits()
pixels = (digits.data / 16.0).astype("float32")
labels = digits.target
seen = labels < 7
x_seen, y_seen = pixels[seen], labels[seen]
x_train, x_test_seen, y_train, y_test_seen = train_test_split(
    x_seen, y_seen, test_size=0.3, stratify=y_seen, random_state=0
)
x_unseen, y_unseen = pixels[~seen], labels[~seen]
DIM = 4
print(f"train {len(x_train)} images of 7 classes | held-out {len(x_test_seen)} (same classes) | unseen {len(x_unseen)} (classes 7-9)")


def recall_at_k(embeddings, classes, ks=(1, 5)):
    """For each query, whether one of its k nearest others (cosine) shares its class."""
    z = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    similarity = z @ z.T
    np.fill_diagonal(similarity, -np.inf)
    nearest = np.argsort(-similarity, axis=1)[:, : max(ks)]
    hits = classes[nearest] == classes[:, None]
    return {f"R@{k}": float(np.mean(hits[:, :k].any(axis=1))) for k in ks}


pca = PCA(DIM, random_state=0).fit(x_train)
scores = {
    "pixels (64-d)": {"seen": recall_at_k(x_test_seen, y_test_seen), "unseen": recall_at_k(x_unseen, y_unseen)},
    f"PCA ({DIM}-d)": {
        "seen": recall_at_k(pca.transform(x_test_seen), y_test_seen),
        "unseen": recall_at_k(pca.transform(x_unseen), y_unseen),
    },
}
for name, s in scores.items():
    print(f"{name:>16}: held-out {s['seen']} | unseen classes {s['unseen']}")

# %% [markdown]
# ## 2. P x K batches
#
# Each batch holds `P = 7` classes x `K = 12` examples. `model.fit` with
# `shuffle=False` keeps the order we give it, so we lay out every epoch's batches in
# advance.

# %%
P, K = 7, 12


def pk_order(classes, rng, epochs):
    """Indices for `epochs` epochs of batches of P classes x K examples each."""
    by_class = {c: np.flatnonzero(classes == c) for c in np.unique(classes)}
    steps = len(classes) // (P * K)
    order = []
    for _ in range(epochs * steps):
        chosen = rng.choice(list(by_class), P, replace=False)
        order.append(np.concatenate([rng.choice(by_class[c], K, replace=False) for c in chosen]))
    return np.concatenate(order)


order = pk_order(y_train, np.random.default_rng(0), EPOCHS)
print("one batch's class counts:", np.bincount(y_train[order[: P * K]]))

# %% [markdown]
# ## 3. Three losses, one network
#
# The network is two dense layers and a unit normalisation: embeddings on the sphere
# of dimension 4. The same start, optimiser and batches train it with each loss.

# %%
LOSSES = {
    "triplet (semi-hard)": keras_losses.TripletLoss(margin=0.2),
    "multi-similarity": keras_losses.MultiSimilarityLoss(),
    "supervised contrastive": keras_losses.SupervisedContrastiveLoss(temperature=0.1),
}


def embedding_model():
    return keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(DIM),
            keras.layers.UnitNormalization(),
        ]
    )


keras.utils.set_random_seed(0)
start_weights = embedding_model().get_weights()
models, histories = {}, {}
for name, loss in LOSSES.items():
    model = embedding_model()
    model.set_weights(start_weights)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss)
    started = time.time()
    history = model.fit(x_train[order], y_train[order], batch_size=P * K, shuffle=False, epochs=1, verbose=0)
    models[name], histories[name] = model, history
    embed = lambda x: keras.ops.convert_to_numpy(model.predict(x, verbose=0))  # noqa: E731
    scores[name] = {
        "seen": recall_at_k(embed(x_test_seen), y_test_seen),
        "unseen": recall_at_k(embed(x_unseen), y_unseen),
    }
    print(f"{name:>24}: {time.time() - started:4.1f} s | held-out {scores[name]['seen']} | unseen classes {scores[name]['unseen']}")

# %% [markdown]
# ## 4. Retrieval
#
# Recall@1 and recall@5 of each representation, on held-out images of the training
# classes and on the three classes never seen in training.

# %%
names = list(scores)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True)
for ax, split, title in zip(axes, ("seen", "unseen"), ("held-out images, classes 0-6", "unseen classes 7-9")):
    for i, k in enumerate(("R@1", "R@5")):
        values = [scores[n][split][k] for n in names]
        ax.bar(np.arange(len(names)) + 0.38 * i, values, width=0.38, label=k)
    ax.set_xticks(np.arange(len(names)) + 0.19, names, rotation=25, ha="right")
    ax.set_ylim(0.5, 1.0)
    ax.set_title(title)
axes[0].set_ylabel("recall")
axes[0].legend(loc="lower left")
plt.tight_layout()
plt.show()

print(f"{'':>24}  held-out R@1  unseen R@1  unseen R@5")
for n in names:
    print(f"{n:>24}  {scores[n]['seen']['R@1']:11.3f}  {scores[n]['unseen']['R@1']:10.3f}  {scores[n]['unseen']['R@5']:10.3f}")

if not FAST:
    pca_scores = scores[f"PCA ({DIM}-d)"]
    for n in LOSSES:
        # On the training classes, every learned 4-d embedding retrieves far better
        # than the 4 principal components.
        assert scores[n]["seen"]["R@1"] > pca_scores["seen"]["R@1"] + 0.03, scores
        # On unseen classes it is well above a random neighbour (about 1/3 of the
        # others share a query's class), but not reliably above PCA.
        assert scores[n]["unseen"]["R@1"] > 0.5, scores
    # What the text below reads off this run's table:
    assert scores["multi-similarity"]["unseen"]["R@1"] > pca_scores["unseen"]["R@1"], scores
    for n in ("triplet (semi-hard)", "supervised contrastive"):
        assert scores[n]["unseen"]["R@1"] < pca_scores["unseen"]["R@1"], scores

# %% [markdown]
# On the seven training classes, each learned 4-d embedding retrieves far better than
# the principal components of the same size: the losses did what they optimise.
#
# On the three digits the network never saw, the result is mixed: in this run
# multi-similarity edges out PCA while the triplet and supervised contrastive
# embeddings fall below it. Four numbers fitted to separate seven classes have little
# room left for differences those classes never needed. Transfer to new classes is
# what metric learning is *for*, and it is earned with more training classes, a larger
# embedding and a held-out set of classes to choose the model on; measure it on
# classes kept out of training, as here, not on held-out images of the training
# classes, which flatter every loss. (Raw pixels, all 64 of them, are a strong
# baseline on this small, clean data set; on photographs they are not.)
#
# ## 5. A picture of the embeddings
#
# A 2-D projection (PCA of each embedding) of the held-out images, coloured by class.
# The unseen classes 7, 8 and 9 are drawn as black-edged markers.

# %%
fig, axes = plt.subplots(1, len(LOSSES) + 1, figsize=(16, 4))
views = {f"PCA of pixels": lambda x: x}
views.update({n: (lambda m: lambda x: keras.ops.convert_to_numpy(m.predict(x, verbose=0)))(models[n]) for n in LOSSES})
x_show = np.concatenate([x_test_seen, x_unseen])
y_show = np.concatenate([y_test_seen, y_unseen])
for ax, (name, view) in zip(axes, views.items()):
    z = view(x_show)
    flat = PCA(2, random_state=0).fit_transform(z)
    known = y_show < 7
    ax.scatter(flat[known, 0], flat[known, 1], c=y_show[known], cmap="tab10", vmin=0, vmax=9, s=8)
    ax.scatter(flat[~known, 0], flat[~known, 1], c=y_show[~known], cmap="tab10", vmin=0, vmax=9, s=14, edgecolors="k", linewidths=0.5)
    ax.set_title(name)
    ax.set_xticks([])
    ax.set_yticks([])
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 6. Quantiles: `PinballLoss`
#
# The same package also brings back TensorFlow Addons' pinball loss. It trains a
# regressor to predict a **quantile** $q$ of the target instead of its mean:
# under-predictions cost $q$ per unit, over-predictions $1 - q$. Three outputs trained
# for $q = 0.05, 0.5, 0.95$ give a median and a 90% prediction interval. On data whose
# noise grows with $x$ (heteroscedastic), the interval must widen with it; we check
# that it covers about 90% of held-out points.

# %%
rng = np.random.default_rng(1)
x_reg = rng.uniform(0, 1, (4000, 1)).astype("float32")
y_reg = (np.sin(3 * x_reg[:, 0]) + rng.normal(0, 0.05 + 0.5 * x_reg[:, 0])).astype("float32")
QUANTILES = [0.05, 0.5, 0.95]
keras.utils.set_random_seed(0)
regressor = keras.Sequential([keras.Input((1,)), keras.layers.Dense(32, activation="tanh"), keras.layers.Dense(32, activation="tanh"), keras.layers.Dense(3)])
REGRESSION_EPOCHS = 5 if FAST else 60
# A decaying step size: the median's gradient is only a sign, which a constant step keeps hopping around.
schedule = keras.optimizers.schedules.CosineDecay(1e-2, decay_steps=REGRESSION_EPOCHS * (3000 // 128 + 1))
regressor.compile(optimizer=keras.optimizers.Adam(schedule), loss=keras_losses.PinballLoss(quantiles=QUANTILES))
regressor.fit(x_reg[:3000], y_reg[:3000], batch_size=128, epochs=REGRESSION_EPOCHS, verbose=0)

predicted = keras.ops.convert_to_numpy(regressor.predict(x_reg[3000:], verbose=0))
inside = (y_reg[3000:] >= predicted[:, 0]) & (y_reg[3000:] <= predicted[:, 2])
below_median = np.mean(y_reg[3000:] < predicted[:, 1])
print(f"held-out points inside the 5%-95% interval: {inside.mean():.3f} (target 0.90)")
print(f"held-out points below the median: {below_median:.3f} (target 0.50)")

grid = np.linspace(0, 1, 200, dtype="float32")[:, None]
curves = keras.ops.convert_to_numpy(regressor.predict(grid, verbose=0))
plt.figure(figsize=(7, 3.6))
plt.scatter(x_reg[3000:, 0], y_reg[3000:], s=3, alpha=0.4, color="gray", label="held-out points")
plt.fill_between(grid[:, 0], curves[:, 0], curves[:, 2], alpha=0.3, label="5%-95% interval")
plt.plot(grid[:, 0], curves[:, 1], label="median")
plt.legend(loc="lower left")
plt.xlabel("x")
plt.ylabel("y")
plt.tight_layout()
plt.show()

if not FAST:
    assert 0.86 < inside.mean() < 0.94, inside.mean()
    assert 0.45 < below_median < 0.55, below_median
    width = curves[:, 2] - curves[:, 0]
    assert width[-1] > 3 * width[0], width  # the interval widens with the noise

# %% [markdown]
# ## Summary
#
# - `TripletLoss()` is TFA's `TripletSemiHardLoss`; `mining="hard"` its
#   `TripletHardLoss`; `"all"` averages every violating triplet. Semi-hard mining
#   here costs $O(n^2)$ memory instead of TFA's $O(n^3)$.
# - `MultiSimilarityLoss` and `SupervisedContrastiveLoss` read the same inputs:
#   class ids and embeddings.
# - Give every batch several examples per class (P x K batches).
# - `across_replicas=True` mines over the global batch under `tf.distribute`.
# - `PinballLoss(quantiles=[...])` predicts quantiles, one output each.
#
# The [metric-learning guide](../metric_learning.md) has the details.
