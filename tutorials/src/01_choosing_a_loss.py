# %% [markdown]
# # Choosing a loss
#
# A loss turns a model's predictions and the targets into one number that gradient
# descent makes smaller. It is how we tell the optimiser what "wrong" means, so
# picking one is picking what the model should care about. The full objective a
# network minimises has two parts:
#
# $$L = \underbrace{\frac{1}{N}\sum_i L_i\big(f(x_i; W), y_i\big)}_{\text{data loss}} + \underbrace{\lambda R(W)}_{\text{regularization loss}}$$
#
# This tutorial is about the data loss, for the problems most models solve:
# predicting a number (regression), a yes/no answer (binary classification), one
# of many classes (multi-class classification) and several independent yes/no
# answers at once (attribute classification). The regularization tutorial covers
# $R(W)$. The defaults to try first are mean squared error, binary cross-entropy and
# categorical cross-entropy; each section shows when another loss earns its place.
#
# We use the Keras built-ins where Keras has the loss, and `keras_losses` where it
# does not (or where ours is the safer version).

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
EPOCHS = 5 if FAST else 60
print("keras", keras.__version__, "| backend", keras.backend.backend(), "| fast run" if FAST else "| full run")

# %% [markdown]
# ## 1. Regression: what kind of error matters?
#
# Three losses, three opinions about an error $e = \hat y - y$:
#
# | loss | per example | what it punishes |
# |---|---|---|
# | mean squared error (MSE) | $(\hat y - y)^2$ | large errors, quadratically: one outlier can dominate |
# | mean absolute error (MAE) | $\lvert\hat y - y\rvert$ | every unit of error the same: robust to outliers |
# | mean squared logarithmic error (MSLE) | $\big(\log(1+\hat y) - \log(1+y)\big)^2$ | *relative* errors: 110 for 100 costs about as much as 1.1 for 1 |
#
# The plot shows each loss for a prediction around a target of 10 and of 1000 (MSE
# and MAE are scaled to fit). MSLE's curve is the same shape at both scales, and it
# is asymmetric: under-predicting costs a little more than over-predicting.

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
for ax, target in zip(axes, (10.0, 1000.0)):
    pred = np.linspace(0.05 * target, 3 * target, 400)
    y = np.full_like(pred, target)
    mse = (pred - y) ** 2
    mae = np.abs(pred - y)
    msle = np.asarray(keras_losses.mean_squared_logarithmic_error(y[:, None], pred[:, None]))
    ax.plot(pred, mse / mse.max(), label="MSE (scaled)")
    ax.plot(pred, mae / mae.max(), label="MAE (scaled)")
    ax.plot(pred, msle / msle.max(), label="MSLE (scaled)")
    ax.axvline(target, color="grey", lw=0.8, ls=":")
    ax.set(title=f"target = {target:g}", xlabel="prediction", ylabel="loss (scaled to 1)")
    ax.legend()
fig.suptitle("What each regression loss charges around a target")
plt.tight_layout()
plt.show()

# %% [markdown]
# Now real fits. The data: one feature $x$, and targets that grow exponentially with
# it, from about 1 to about 1000 (like prices or counts), with multiplicative noise.
# We fit the same small network with each loss, twice: on these clean targets, and
# after replacing 5% of the targets by wild outliers (uniform between 0 and 4000).
# The network ends in an `exponential` activation, so its predictions are positive
# (MSLE needs that) and it can span the three orders of magnitude.

# %%
rng = np.random.default_rng(0)
n = 600
x = rng.uniform(0, 3, (n, 1)).astype("float32")


def trend(x):
    """The noise-free target."""
    return np.exp(2.3 * x)


y_clean = (trend(x[:, 0]) * rng.lognormal(0.0, 0.2, n)).astype("float32")[:, None]
outliers = rng.random(n) < 0.05
y_outliers = y_clean.copy()
y_outliers[outliers, 0] = rng.uniform(0, 4000, outliers.sum())


def regression_model():
    return keras.Sequential(
        [keras.Input((1,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(32, activation="relu"),
         keras.layers.Dense(1, activation="exponential")]
    )


def fit_all(y):
    fits, histories = {}, {}
    for name, loss in {
        "MSE": keras.losses.MeanSquaredError(),
        "MAE": keras.losses.MeanAbsoluteError(),
        "MSLE": keras_losses.MeanSquaredLogarithmicError(),
    }.items():
        keras.utils.set_random_seed(1)
        model = regression_model()
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss)
        histories[name] = model.fit(x, y, epochs=EPOCHS, batch_size=32, verbose=0).history["loss"]
        fits[name] = model
    return fits, histories


experiments = {"clean targets": (y_clean, *fit_all(y_clean)), "5% outliers": (y_outliers, *fit_all(y_outliers))}

grid = np.linspace(0, 3, 200, dtype="float32")[:, None]
fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
for ax, (title, (y, fits, _)) in zip(axes, experiments.items()):
    ax.scatter(x[:, 0], y[:, 0], s=4, c="lightgrey", label="data")
    ax.plot(grid[:, 0], trend(grid[:, 0]), "k--", lw=1, label="true trend")
    for name, model in fits.items():
        ax.plot(grid[:, 0], model.predict(grid, verbose=0)[:, 0], label=name)
    ax.set(yscale="log", ylim=(0.3, 6000), xlabel="x", ylabel="y (log scale)", title=f"Fits on {title}")
    ax.legend(fontsize=8)
for name, history in experiments["clean targets"][2].items():
    axes[2].plot(np.asarray(history) / history[0], label=name)
axes[2].set(xlabel="epoch", ylabel="training loss / first epoch", title="Loss curves, clean targets")
axes[2].legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# How far is each fit from the true trend, for small and for large targets? We
# measure the median relative error $\lvert\hat y - y_{\text{true}}\rvert / y_{\text{true}}$
# against the noise-free trend on the low third of $x$ (targets from 1 to 10) and the
# high third (targets from 100 to 1000).

# %%
def relative_error(model, lo, hi):
    xs = np.linspace(lo, hi, 100, dtype="float32")[:, None]
    truth = trend(xs[:, 0])
    return float(np.median(np.abs(model.predict(xs, verbose=0)[:, 0] - truth) / truth))


errors = {}
for title, (_, fits, _) in experiments.items():
    for name, model in fits.items():
        errors[title, name] = (relative_error(model, 0, 1), relative_error(model, 2, 3))
        small, large = errors[title, name]
        print(f"{title:13s} {name:5s} median relative error: small targets {small:6.1%}, large targets {large:6.1%}")

clean_msle, clean_mse = errors["clean targets", "MSLE"], errors["clean targets", "MSE"]
print(f"On clean targets MSLE fits the small ones within {clean_msle[0]:.1%}, MSE within {clean_mse[0]:.1%}.")
mean_error = {name: np.mean(errors["5% outliers", name]) for name in ("MSE", "MAE", "MSLE")}
print(f"With outliers the mean of those errors is {mean_error['MAE']:.1%} for MAE, "
      f"{mean_error['MSE']:.1%} for MSE and {mean_error['MSLE']:.1%} for MSLE.")
if not FAST:
    assert clean_msle[0] < clean_mse[0], errors
    assert mean_error["MAE"] < mean_error["MSE"] and mean_error["MAE"] < mean_error["MSLE"], errors

# %% [markdown]
# The two summary lines printed above are this section's result. On clean targets,
# MSE spends its effort where squared errors are largest, the large targets, and is
# loose on the small ones; MSLE measures relative error and fits both ends. Add
# outliers and the picture changes: MSE is pulled towards them, and so is MSLE,
# since an outlier of 3000 where the trend says 3 is a huge error *in ratio*; MAE,
# which charges every unit of error the same, is the robust one. So: MSLE for
# targets spread over orders of magnitude whose noise is proportional to their size,
# MAE (or Huber) when the data holds outliers, MSE when errors are roughly Gaussian.
#
# ## 2. Binary classification: cross-entropy or a hinge?
#
# With a label $y \in \{-1, +1\}$ and a raw score $f(x)$, all three binary losses are
# functions of the **margin** $m = y f(x)$, positive when the sign is right:
#
# - binary cross-entropy (logistic loss): $\log(1 + e^{-m})$, never exactly zero, it
#   keeps pushing correct examples further out; its sigmoid gives probabilities;
# - hinge (the SVM loss): $\max(0, 1 - m)$, exactly zero once the margin reaches 1;
# - squared hinge: $\max(0, 1 - m)^2$, smooth at the kink and harsher on large violations.

# %%
m = np.linspace(-3, 3, 301)
plt.figure(figsize=(6, 3.6))
plt.plot(m, np.log1p(np.exp(-m)), label="binary cross-entropy  log(1 + e^-m)")
plt.plot(m, np.asarray(keras_losses.hinge(np.ones((301, 1)), m[:, None])), label="hinge  max(0, 1 - m)")
plt.plot(m, np.asarray(keras_losses.squared_hinge(np.ones((301, 1)), m[:, None])), label="squared hinge")
plt.axvline(0, color="grey", lw=0.8, ls=":")
plt.ylim(0, 5)
plt.xlabel("margin m = y f(x)")
plt.ylabel("loss")
plt.title("Binary losses as functions of the margin")
plt.legend()
plt.show()

# %% [markdown]
# We train a linear classifier on scikit-learn's breast cancer data set (569 tumours,
# 30 measurements) with each loss. Hinge losses take raw scores and labels in
# {0, 1} or {-1, 1}; cross-entropy here takes raw scores too (`from_logits=True`).

# %%
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

data = load_breast_cancer()
x_train, x_test, y_train, y_test = train_test_split(
    data.data.astype("float32"), data.target.astype("float32"), test_size=0.3, random_state=0
)
scaler = StandardScaler().fit(x_train)
x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)

binary_losses = {
    "binary cross-entropy": keras.losses.BinaryCrossentropy(from_logits=True),
    "hinge": keras_losses.Hinge(),
    "squared hinge": keras_losses.SquaredHinge(),
}
results = {}
for name, loss in binary_losses.items():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((30,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss=loss)
    model.fit(x_train, y_train[:, None], epochs=EPOCHS, batch_size=32, verbose=0)
    scores = model.predict(x_test, verbose=0)[:, 0]
    train_margins = np.where(y_train > 0, 1.0, -1.0) * model.predict(x_train, verbose=0)[:, 0]
    results[name] = (float(np.mean((scores > 0) == (y_test > 0))), float(np.mean(train_margins >= 1)))
for name, (accuracy, satisfied) in results.items():
    print(f"{name:21s} test accuracy {accuracy:.3f}; training examples with margin >= 1: {satisfied:.0%}")
accuracies = [a for a, _ in results.values()]
print(f"All three reach a test accuracy between {min(accuracies):.3f} and {max(accuracies):.3f}.")
if not FAST:
    assert min(accuracies) > 0.9, results

# %% [markdown]
# On this easy problem the three losses classify about equally well: the choice
# matters less than the features. What differs is the behaviour: the hinge stops
# caring about an example once its margin is 1 (it ignores the easy majority, as an
# SVM's support vectors suggest), while cross-entropy gives calibrated-looking
# probabilities through the sigmoid. Pick cross-entropy when you need probabilities;
# try a hinge when you only need the decision and want the model to focus on the
# examples near the boundary.
#
# ## 3. Multi-class: softmax cross-entropy or the multiclass SVM?
#
# A linear classifier computes one score per class, $s = W x + b$. Two ways to turn
# the scores of example $i$ with correct class $y_i$ into a loss:
#
# - **softmax cross-entropy**: read the scores as unnormalised log-probabilities,
#   $L_i = -\log \frac{e^{s_{y_i}}}{\sum_j e^{s_j}}$: the negative log-likelihood of the
#   right class. It is never satisfied: it always wants the right score higher.
# - **multiclass SVM (Weston-Watkins)**: $L_i = \sum_{j \neq y_i} \max(0, s_j - s_{y_i} + \Delta)$:
#   every wrong class must trail the right one by a margin $\Delta$, and then costs nothing.
#   The **Crammer-Singer** variant charges only the strongest wrong class:
#   $L_i = \max(0, \max_{j \neq y_i} s_j - s_{y_i} + \Delta)$.
#
# A worked example (three classes, the scores of one image whose true class is 0):

# %%
scores = np.array([[3.2, 5.1, -1.7]])
one_hot = np.array([[1.0, 0.0, 0.0]])
ww = float(keras_losses.multiclass_hinge(one_hot, scores)[0])
cs = float(keras_losses.multiclass_hinge(one_hot, scores, variant="crammer_singer")[0])
ce = float(keras.losses.categorical_crossentropy(one_hot, scores, from_logits=True)[0])
print(f"Weston-Watkins: max(0, 5.1 - 3.2 + 1) + max(0, -1.7 - 3.2 + 1) = 2.9 + 0 = {ww:.1f}")
print(f"Crammer-Singer: max(0, 5.1 - 3.2 + 1) = {cs:.1f}")
print(f"softmax cross-entropy: -log(e^3.2 / (e^3.2 + e^5.1 + e^-1.7)) = {ce:.2f}")

# %% [markdown]
# Labels come in two forms. **One-hot** vectors (`CategoricalCrossentropy`,
# `MulticlassHinge`) or **integer** class ids (`SparseCategoricalCrossentropy`,
# `SparseMulticlassHinge`): the same loss, but the sparse form never builds the
# `(batch, classes)` one-hot matrix, which matters with thousands of classes.

# %%
labels = np.array([0, 2, 1])
logits = np.random.default_rng(1).normal(size=(3, 3))
dense = keras.losses.CategoricalCrossentropy(from_logits=True)(np.eye(3)[labels], logits)
sparse = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits)
print(f"one-hot {float(dense):.6f} == sparse {float(sparse):.6f}")
print(f"SVM: one-hot {float(keras_losses.MulticlassHinge()(np.eye(3)[labels], logits)):.6f} == "
      f"sparse {float(keras_losses.SparseMulticlassHinge()(labels, logits)):.6f}")

# %% [markdown]
# Training on scikit-learn's handwritten digits (8x8 images, 10 classes), a linear
# classifier with each loss:

# %%
from sklearn.datasets import load_digits

digits = load_digits()
x_train, x_test, y_train, y_test = train_test_split(
    digits.data.astype("float32") / 16.0, digits.target, test_size=0.3, random_state=0
)
multi_losses = {
    "softmax cross-entropy": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    "SVM, Weston-Watkins": keras_losses.SparseMulticlassHinge(),
    "SVM, Crammer-Singer": keras_losses.SparseMulticlassHinge(variant="crammer_singer"),
}
digit_results = {}
for name, loss in multi_losses.items():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss, metrics=["sparse_categorical_accuracy"])
    model.fit(x_train, y_train, epochs=EPOCHS, batch_size=32, verbose=0)
    digit_results[name] = model.evaluate(x_test, y_test, verbose=0)[1]
for name, accuracy in digit_results.items():
    print(f"{name:22s} test accuracy {accuracy:.3f}")
print(f"The best multiclass SVM reaches {max(digit_results['SVM, Weston-Watkins'], digit_results['SVM, Crammer-Singer']):.3f} "
      f"test accuracy, softmax cross-entropy {digit_results['softmax cross-entropy']:.3f}.")
if not FAST:
    assert min(digit_results.values()) > 0.9, digit_results

# %% [markdown]
# As CS231n puts the comparison: the two give similar accuracy in practice; the SVM
# is satisfied once the margins are met, cross-entropy keeps improving the
# probabilities. Choose softmax cross-entropy by default and when you need
# probabilities (for ranking, thresholds, calibration); the SVM is a sound choice
# when only the decision matters.
#
# ## 4. Several yes/no answers per example: attribute classification
#
# Softmax and the multiclass SVM assume exactly one correct class. Often an example
# has several independent attributes instead: a photo can show a beach *and* a dog,
# an article be about sport *and* money. The labels are then a binary vector
# $y_i$ with one entry per attribute, and the attributes are not exclusive. The
# sensible model is one binary classifier per attribute, sharing the features: one
# score $f_j$ per attribute, and a binary loss on each, summed (Keras averages over
# the last axis, which only divides by the number of attributes):
#
# - one hinge per attribute, labels $y_{ij} \in \{-1, +1\}$:
#   $L_i = \sum_j \max(0, 1 - y_{ij} f_j)$: a positive costs something until its
#   score reaches +1, a negative until its score falls to -1;
# - one logistic regression per attribute, labels $y_{ij} \in \{0, 1\}$:
#   $L_i = -\sum_j \big[y_{ij} \log \sigma(f_j) + (1 - y_{ij}) \log(1 - \sigma(f_j))\big]$,
#   whose gradient is simply $\partial L_i / \partial f_j = \sigma(f_j) - y_{ij}$;
# - one focal loss per attribute, the logistic loss that fades on the attributes
#   the model already gets right (the focal-loss tutorial).
#
# The gradient of the logistic form, checked by finite differences on
# `keras.losses.binary_crossentropy`:

# %%
f = np.array([[2.0, -0.5, 0.3]])  # scores of three attributes
y = np.array([[1.0, 1.0, 0.0]])  # the example has attributes 0 and 1, not 2
eps = 1e-3
numeric = [
    3 * float((keras.losses.binary_crossentropy(y, f + eps * np.eye(3)[j], from_logits=True)
               - keras.losses.binary_crossentropy(y, f - eps * np.eye(3)[j], from_logits=True))[0]) / (2 * eps)
    for j in range(3)
]  # times 3: Keras averages over the attributes
print("finite differences  ", np.round(numeric, 4))
print("sigmoid(f) - y      ", np.round(1 / (1 + np.exp(-f[0])) - y[0], 4))
assert np.allclose(numeric, 1 / (1 + np.exp(-f[0])) - y[0], atol=1e-3)

# %% [markdown]
# The task: three attributes of each handwritten digit, from the digits data set
# above. **Even** (0, 2, 4, 6, 8), **greater than 4** and **has a closed loop**
# (0, 6, 8, 9; we count the 4 as open, a choice: it is written both ways). An 8 has all
# three, a 7 none, a 6 is even and looped and greater than 4. The same linear model,
# `Dense(3)` on the 64 pixels, is trained with each binary loss; each attribute is
# predicted present when its score is positive. `keras_losses.Hinge` takes the
# {0, 1} labels as they are (it maps them to {-1, +1}); the focal loss runs with
# `alpha=None`, no class weight, since each attribute is present in 30 to 50% of
# the digits.

# %%
ATTRIBUTES = ("even", "greater than 4", "closed loop")


def attributes(labels):
    return np.stack([labels % 2 == 0, labels > 4, np.isin(labels, (0, 6, 8, 9))], axis=1).astype("float32")


a_train, a_test = attributes(y_train), attributes(y_test)
print("share of digits with each attribute:", ", ".join(f"{a} {v:.0%}" for a, v in zip(ATTRIBUTES, a_train.mean(0))))
attribute_losses = {
    "hinge": keras_losses.Hinge(),
    "focal (gamma 2)": keras_losses.BinaryFocalLoss(from_logits=True, alpha=None),
    "binary cross-entropy": keras.losses.BinaryCrossentropy(from_logits=True),
}
attribute_accuracy, attribute_scores = {}, {}
for name, loss in attribute_losses.items():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(len(ATTRIBUTES))])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss)
    model.fit(x_train, a_train, epochs=EPOCHS, batch_size=32, verbose=0)
    attribute_scores[name] = model.predict(x_test, verbose=0)
    attribute_accuracy[name] = np.mean((attribute_scores[name] > 0) == (a_test > 0), axis=0)
    print(f"{name:21s}", "  ".join(f"{a}: {acc:.3f}" for a, acc in zip(ATTRIBUTES, attribute_accuracy[name])))
spread = np.ptp(np.stack(list(attribute_accuracy.values())), axis=0)
print("largest gap between the losses, per attribute:", ", ".join(f"{a} {v:.3f}" for a, v in zip(ATTRIBUTES, spread)))
if not FAST:  # the claims of the text below
    assert min(float(acc.min()) for acc in attribute_accuracy.values()) > 0.8, attribute_accuracy
    assert spread.max() < 0.05, spread
    assert all(int(np.argmin(acc)) == 1 for acc in attribute_accuracy.values()), attribute_accuracy

fig, (bars, examples) = plt.subplots(1, 2, figsize=(12, 3.8), gridspec_kw={"width_ratios": [1.1, 1]})
width = 0.26
for k, (name, accuracy) in enumerate(attribute_accuracy.items()):
    bars.bar(np.arange(len(ATTRIBUTES)) + (k - 1) * width, accuracy, width, label=name)
bars.set(xticks=range(len(ATTRIBUTES)), xticklabels=ATTRIBUTES, ylim=(0.5, 1.08),
         ylabel="test accuracy", title="One binary loss per attribute, same linear model")
bars.legend(loc="upper center", ncol=3, fontsize=8)
examples.axis("off")
examples.set_title("Test digits and the attributes predicted (cross-entropy model)")
for k in range(6):
    ax = examples.inset_axes([k / 6, 0.15, 1 / 6 - 0.01, 0.7])
    ax.imshow(x_test[k].reshape(8, 8), cmap="gray_r")
    ax.set_xticks([]), ax.set_yticks([])
    ax.set_title(f"digit {y_test[k]}", fontsize=8)
    predicted = attribute_scores["binary cross-entropy"][k] > 0
    ax.set_xlabel("\n".join(a if p else "-" for a, p in zip(("even", "> 4", "loop"), predicted)), fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# Each attribute is learned as well by the hinge as by the logistic loss: as with
# one label per example, the choice between them matters less than the features,
# and "greater than 4" is the hardest of the three for a linear model on pixels. The
# focal loss does no better here: its strength is heavy imbalance, and these
# attributes are balanced. The practical differences are the same as for one label:
# the logistic loss gives a probability per attribute, $\sigma(f_j)$, which can be
# thresholded per attribute; the hinge stops caring about an attribute once its
# margin is 1. What would be wrong is a softmax over the attributes: it makes them
# compete, so an 8 could not be even, greater than 4 and looped all at once.
#
# ## 5. KL divergence: cross-entropy against a distribution
#
# The Kullback-Leibler divergence $D_{KL}(p \,\|\, q) = \sum_x p(x) \log \frac{p(x)}{q(x)}$
# measures how much information is lost when $q$ (the model) stands in for $p$ (the
# target). It is cross-entropy minus the entropy of the target:
# $D_{KL}(p\|q) = H(p, q) - H(p)$. With one-hot targets $H(p) = 0$, so KL *is*
# cross-entropy; with soft targets (distillation from a teacher, label smoothing,
# a target distribution in an autoencoder) the two differ by a constant that does
# not depend on the model, so their gradients agree.

# %%
p = np.array([[0.7, 0.2, 0.1]])  # a soft target, e.g. a teacher's probabilities
q = np.array([[0.5, 0.3, 0.2]])  # the model's probabilities
kl = float(keras.losses.KLDivergence()(p, q))
cross_entropy = float(keras.losses.CategoricalCrossentropy()(p, q))
entropy = float(-np.sum(p * np.log(p)))
print(f"KL {kl:.4f} = cross-entropy {cross_entropy:.4f} - entropy of the target {entropy:.4f}")
assert abs(kl - (cross_entropy - entropy)) < 1e-5

# %% [markdown]
# ## Summary
#
# | problem | start with | consider |
# |---|---|---|
# | regression | MSE | MAE with outliers; MSLE (`keras_losses.MeanSquaredLogarithmicError`) for targets over orders of magnitude |
# | binary | binary cross-entropy (`from_logits=True`) | hinge / squared hinge (`keras_losses.Hinge`, `SquaredHinge`) when only the decision matters; focal loss for heavy imbalance |
# | multi-class | sparse categorical cross-entropy | the multiclass SVM (`keras_losses.SparseMulticlassHinge`, Weston-Watkins or Crammer-Singer); KL divergence for soft targets |
# | several yes/no attributes | binary cross-entropy per attribute (`from_logits=True`) | a hinge per attribute (`keras_losses.Hinge`, labels in {0, 1} or {-1, 1}); `keras_losses.BinaryFocalLoss` when some attributes are rare |
#
# The focal-loss tutorial takes up imbalanced problems; the regularization tutorial
# the second half of the objective.
