# %% [markdown]
# # Regularization
#
# A network with many more weights than training examples can fit its training set
# perfectly, noise and accidents included, and then do worse on new data than a
# smaller model would. Regularization is how we tell the optimiser which of the many
# weight settings that fit the data we prefer. The objective a network minimises
# has two parts:
#
# $$L(W) = \underbrace{\frac{1}{N}\sum_{i=1}^{N} L_i\big(f(x_i; W), y_i\big)}_{\text{data loss}} \;+\; \underbrace{\lambda\, R(W)}_{\text{regularization loss}}$$
#
# The data loss (the first tutorial) measures how well the model fits the examples;
# the regularization loss depends on the weights alone and charges for the ones we
# dislike, with the strength $\lambda$ setting the exchange rate. Even a linear
# classifier needs the second term: if $W$ classifies every training example
# correctly, so does $2W$, at a hinge loss no larger and a softmax loss that is
# smaller. Without a preference, the optimiser keeps growing the weights; with one, it stops
# where a bigger weight no longer buys enough data loss. In the probabilistic view,
# the data loss is a negative log-likelihood and $\lambda R(W)$ is a negative
# log-prior on the weights: L2 is a Gaussian prior, L1 a Laplace prior, and
# training finds the maximum a posteriori weights.
#
# This tutorial covers the weight penalties of `keras_losses.regularizers` (L2 with
# and without the half, L1, elastic net, group lasso and a soft max-norm), Keras's
# own hard max-norm constraint and dropout, how to read the data loss and the
# regularization loss separately while training, how to add penalties to a model that
# is already trained, and why the biases are left alone.

# %%
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
FAST = os.environ.get("KERAS_LOSSES_TUTORIAL_MODE") == "fast"  # CI runs a short version

import logging

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

import keras_losses  # tf.data feeds the training below; tf.nn.l2_loss shows the half convention
from keras_losses.regularizers import L1, L2, DataLoss, ElasticNet, GroupLasso, LogRegularizationLoss, MaxNormPenalty

logging.getLogger("tensorflow").setLevel(logging.ERROR)  # no retracing notices in the outputs
keras.utils.set_random_seed(0)
ROUNDS = 2 if FAST else 40  # rounds of 25 training steps, validated after each
print("keras", keras.__version__, "| backend", keras.backend.backend(), "| fast run" if FAST else "| full run")

# %% [markdown]
# ## 1. The penalties, one number each
#
# Each penalty is a `keras.regularizers.Regularizer`: called on a weight tensor it
# returns one number, and given to a layer (`kernel_regularizer=...`) it is added to
# the loss of every batch. For a weight matrix $W$:
#
# | penalty | $R(W)$ | `keras_losses` | Keras built-in with the same value |
# |---|---|---|---|
# | L2 | $\lambda \sum w^2$ | `L2(l2)` | `keras.regularizers.L2(l2)` |
# | L2, CS231n's form | $\tfrac{1}{2}\lambda \sum w^2$ | `L2(l2, half=True)` | `l2 * tf.nn.l2_loss(w)` |
# | L1 | $\lambda \sum \lvert w\rvert$ | `L1(l1)` | `keras.regularizers.L1(l1)` |
# | elastic net | $\lambda_1 \sum \lvert w\rvert + \lambda_2 \sum w^2$ | `ElasticNet(l1, l2)` | `keras.regularizers.L1L2(l1, l2)` |
# | group lasso | $\lambda \sum_{\text{rows } j} \lVert W_{j,:}\rVert_2$ | `GroupLasso(strength, axis=1)` | none |
# | soft max-norm | $\lambda \sum_{\text{units } k} \max(0, \lVert W_{:,k}\rVert_2 - c)^2$ | `MaxNormPenalty(c, strength, axis=0)` | none (`keras.constraints.MaxNorm` is the hard version) |
#
# A small matrix makes the definitions concrete:

# %%
w = np.array([[0.5, -1.0, 0.0], [2.0, 0.0, -0.5]], dtype="float32")
print(f"sum |w| = {np.abs(w).sum():.2f}, sum w^2 = {np.square(w).sum():.2f}")
print(f"L1(0.1)              = {float(L1(0.1)(w)):.4f}   keras L1(0.1)         = {float(keras.regularizers.L1(0.1)(w)):.4f}")
print(f"L2(0.1)              = {float(L2(0.1)(w)):.4f}   keras L2(0.1)         = {float(keras.regularizers.L2(0.1)(w)):.4f}")
print(f"ElasticNet(0.1, 0.1) = {float(ElasticNet(0.1, 0.1)(w)):.4f}   keras L1L2(0.1, 0.1)  = "
      f"{float(keras.regularizers.L1L2(0.1, 0.1)(w)):.4f}")
print(f"GroupLasso(0.1), rows of w:  0.1 * ({' + '.join(f'{n:.3f}' for n in np.linalg.norm(w, axis=1))}) = "
      f"{float(GroupLasso(0.1)(w)):.4f}")
print(f"MaxNormPenalty(1.0, 0.1), columns of w: column norms {np.round(np.linalg.norm(w, axis=0), 3)}, "
      f"penalty = {float(MaxNormPenalty(1.0, 0.1)(w)):.4f}")
assert np.isclose(float(ElasticNet(0.1, 0.1)(w)), float(keras.regularizers.L1L2(0.1, 0.1)(w)))

# %% [markdown]
# ### The half convention
#
# CS231n adds $\tfrac{1}{2}\lambda w^2$ for every weight, so that the gradient of the
# penalty is simply $\lambda w$; TensorFlow's `tf.nn.l2_loss(w)` is $\tfrac12\sum w^2$
# for the same reason. Keras's `L2(l2)` has no half: its gradient is $2\lambda w$.
# Strengths copied from a paper or a course therefore differ by a factor of two
# depending on the convention. `L2(l2, half=True)` follows the course, and equals
# `L2(l2 / 2)`:

# %%
reg = 0.1
variable = tf.Variable(w)
with tf.GradientTape() as tape:
    penalty = L2(reg, half=True)(variable)
gradient = tape.gradient(penalty, variable).numpy()
print(f"L2({reg}, half=True) = {float(penalty):.4f};  {reg} * tf.nn.l2_loss(w) = {float(reg * tf.nn.l2_loss(w)):.4f};  "
      f"L2({reg / 2}) = {float(L2(reg / 2)(w)):.4f}")
print("its gradient:\n", gradient, "\nequals reg * w:\n", reg * w)
assert np.isclose(float(penalty), float(reg * tf.nn.l2_loss(w)))
assert np.allclose(gradient, reg * w) and np.isclose(float(penalty), float(L2(reg / 2)(w)))

# %% [markdown]
# With plain gradient descent at learning rate $\eta$, that gradient makes each step
# multiply every weight by $(1 - \eta\lambda)$ before the data gradient is applied:
# this is why L2 is also called **weight decay**. (Under Adam it is not quite decay,
# because Adam rescales every gradient; `keras.optimizers.AdamW` decays the weights
# directly.)
#
# ## 2. An over-sized network on 100 digits
#
# Now the effect on a real problem. scikit-learn's handwritten digits are 8x8 images
# in 10 classes; we keep only **100 training images** (10 per class) and hold out the
# other 1,697 for validation. The network has two hidden layers of 128 units, about
# 26,000 weights (the count is printed below): easily enough to memorise 100 images.
# We train seven copies from the same starting weights, for the same number of steps
# of SGD with momentum:
#
# - **none**: no regularization;
# - **L2** (`L2(1e-3)`) and **L1** (`L1(1e-4)`) on every kernel;
# - **max-norm constraint**: `keras.constraints.MaxNorm(1.0)`, which rescales each
#   unit's incoming weight vector to length at most 1 after every step;
# - **max-norm penalty**: `MaxNormPenalty(1.0, strength=0.1)`, the soft version: a
#   cost on the length above 1;
# - **dropout**: Keras's `Dropout(0.5)` after each hidden layer;
# - **dropout + max-norm**: both, the recipe of Srivastava et al. (2014).
#
# The penalties go on the kernels only, not on the biases (section 8 says why).
#
# To see the two halves of the objective, the models are compiled with
# `DataLoss(loss)` as a weighted metric and trained with the `LogRegularizationLoss()`
# callback. Keras's `loss` (and `val_loss`) is the data loss *plus* the penalties,
# so it cannot be compared between models with different penalties; `data_loss`
# can. The callback adds
# `regularization_loss = loss - data_loss` (and its `val_` twin) to the logs.
#
# The training set is only two batches of 50, so instead of epochs we train in
# rounds of 25 steps from a repeating `tf.data` pipeline, and validate after each
# round (`steps_per_execution=25` runs a round in one compiled call).

# %%
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

digits = load_digits()
x_train, x_val, y_train, y_val = train_test_split(
    digits.data.astype("float32") / 16.0, digits.target, train_size=100, random_state=0, stratify=digits.target
)
train_data = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(100, seed=0).repeat().batch(50)
val_data = tf.data.Dataset.from_tensors((x_val, y_val))  # the whole validation set as one batch
STEPS = 25
loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def digit_model(regularizer=None, dropout=0.0, constraint=None):
    layers = [keras.Input((64,))]
    for _ in range(2):
        layers.append(keras.layers.Dense(128, activation="relu", kernel_regularizer=regularizer,
                                         kernel_constraint=constraint))
        if dropout:
            layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.Dense(10, kernel_regularizer=regularizer, kernel_constraint=constraint))
    return keras.Sequential(layers)


setups = {
    "none": {},
    "L2": {"regularizer": L2(1e-3)},
    "L1": {"regularizer": L1(1e-4)},
    "max-norm constraint": {"constraint": keras.constraints.MaxNorm(1.0)},
    "max-norm penalty": {"regularizer": MaxNormPenalty(1.0, strength=0.1)},
    "dropout": {"dropout": 0.5},
    "dropout + max-norm": {"dropout": 0.5, "constraint": keras.constraints.MaxNorm(1.0)},
}
models, histories = {}, {}
for name, options in setups.items():
    keras.utils.set_random_seed(0)  # the same initial weights for every model
    model = digit_model(**options)
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss=loss,
                  weighted_metrics=[DataLoss(loss), "accuracy"], steps_per_execution=STEPS)
    history = model.fit(train_data, steps_per_epoch=STEPS, epochs=ROUNDS, validation_data=val_data,
                        callbacks=[LogRegularizationLoss()], shuffle=False, verbose=0)
    models[name], histories[name] = model, history.history
print(f"{len(x_train)} training and {len(x_val)} validation images; {models['none'].count_params()} parameters; "
      f"{ROUNDS * STEPS} SGD steps for each model.")

# %% [markdown]
# Left: the data loss of the unregularized and the L2 model on the training set
# (dashed) and on the validation set (solid), on a log scale. Middle: the validation
# data loss of all seven. Right: the first-layer weights of three of them.

# %%
COLORS = {"none": "black", "L2": "tab:blue", "L1": "tab:orange", "max-norm constraint": "tab:red",
          "max-norm penalty": "tab:purple", "dropout": "tab:green", "dropout + max-norm": "tab:brown"}
steps = STEPS * np.arange(1, ROUNDS + 1)
fig, (ax_gap, ax_val, ax_hist) = plt.subplots(1, 3, figsize=(17, 4.6))
for name in ("none", "L2"):
    ax_gap.plot(steps, histories[name]["data_loss"], color=COLORS[name], ls="--", label=f"{name}: training")
    ax_gap.plot(steps, histories[name]["val_data_loss"], color=COLORS[name], label=f"{name}: validation")
ax_gap.set(yscale="log", xlabel="training step", ylabel="data loss (cross-entropy, log scale)",
           title="100 training digits: the generalization gap")
ax_gap.legend()
for name, history in histories.items():
    ax_val.plot(steps, history["val_data_loss"], color=COLORS[name], label=name)
ax_val.set(ylim=(0.3, 0.8), xlabel="training step", ylabel="validation data loss (cross-entropy)",
           title="Validation data loss, with and without regularization")
ax_val.legend(fontsize=9)
bins = np.linspace(-0.4, 0.4, 81)
for name in ("none", "L2", "L1"):
    kernel = models[name].layers[0].kernel.numpy().ravel()
    ax_hist.hist(kernel, bins=bins, histtype="step", lw=1.8, color=COLORS[name], label=name)
ax_hist.set(yscale="log", xlabel="weight value", ylabel="number of weights (log scale)",
            title="First-layer weights after training")
ax_hist.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# The numbers behind the picture: the final validation data loss and accuracy of
# each model, and the best (lowest) validation loss each reached along the way.

# %%
final = {name: (h["val_data_loss"][-1], h["val_accuracy"][-1], h["data_loss"][-1]) for name, h in histories.items()}
best = {name: min(h["val_data_loss"]) for name, h in histories.items()}
for name, (val_loss, val_accuracy, train_loss) in final.items():
    print(f"{name:20s} training data loss {train_loss:.4f}   validation data loss {val_loss:.3f} "
          f"(best {best[name]:.3f})   validation accuracy {val_accuracy:.3f}")
none_curve = np.asarray(histories["none"]["val_data_loss"])
print(f"Without regularization the validation loss bottoms out at {none_curve.min():.3f} after "
      f"{steps[none_curve.argmin()]} steps and climbs back to {none_curve[-1]:.3f} while the training loss "
      f"falls to {final['none'][2]:.4f}: overfitting.")
print(f"With L2 the final validation loss is {final['L2'][0]:.3f} instead of {final['none'][0]:.3f} "
      f"({1 - final['L2'][0] / final['none'][0]:.0%} lower); validation accuracy {final['L2'][1]:.3f} vs {final['none'][1]:.3f}.")
print(f"Dropout alone reaches {best['dropout']:.3f} at best (no regularization: {best['none']:.3f}) but ends at "
      f"{final['dropout'][0]:.3f}; with max-norm it ends at {final['dropout + max-norm'][0]:.3f}.")
accuracies, losses = [a for _, a, _ in final.values()], [v for v, _, _ in final.values()]
print(f"Across the seven models the final validation accuracy spans {min(accuracies):.3f} to {max(accuracies):.3f} "
      f"({1 - min(accuracies) / max(accuracies):.1%} apart), the validation loss {min(losses):.3f} to {max(losses):.3f} "
      f"({1 - min(losses) / max(losses):.0%} apart).")
bounded = ["L2", "L1", "max-norm constraint", "max-norm penalty", "dropout + max-norm"]
if not FAST:
    assert none_curve[-1] > 1.1 * none_curve.min(), none_curve
    assert final["L2"][0] < 0.8 * final["none"][0], final
    assert all(final[name][0] < 0.85 * final["none"][0] for name in bounded), final
    assert best["dropout"] < best["none"] and final["dropout"][0] > 1.1 * best["dropout"], (best, final)
    assert final["dropout + max-norm"][0] < 0.85 * final["dropout"][0], final
    assert 1 - min(accuracies) / max(accuracies) < 0.2 * (1 - min(losses) / max(losses)), final

# %% [markdown]
# The unregularized network drives its training loss to almost nothing; its
# validation loss gets worse the longer it trains, even though its accuracy barely
# moves. What grows is its *confidence*: the logits keep growing on the examples it
# already classifies correctly, and the validation digits it gets wrong, it gets
# wrong with ever more certainty. Every penalty and every bound here stops that, and
# ends with a clearly lower validation loss (the table above); the max-norm variants
# do it by bounding every unit's weights, and so the size of the logits. The
# accuracies differ far less than the losses: on this problem regularization
# matters most for the probabilities the model reports.
#
# Dropout on its own behaves differently. It helps early on (its best round is
# better than the unregularized model's best), but it puts no limit on the size of
# the weights, so with long training the confidence grows again and its validation
# loss climbs back. With max-norm beside it, as Srivastava et al. recommend, it
# stays down. A model trained with dropout alone is better served by stopping early
# (`keras.callbacks.EarlyStopping` on `val_data_loss`).
#
# Another problem would rank these differently, which is why the kind and the
# strength of regularization are chosen on validation data. CS231n's advice is a
# good default: one global L2 strength, cross-validated, with dropout on top if the
# model still overfits.
#
# ### What the logs show
#
# The L2 model's logs at a few rounds: `loss` is what the optimiser minimised,
# `data_loss` the cross-entropy alone, `regularization_loss` the penalty. On the
# validation set the penalty is computed once, with the final weights of the round,
# so it must equal $\lambda \sum w^2$ over the kernels computed in NumPy.

# %%
h = histories["L2"]
print("round   loss     data_loss  regularization_loss   val_loss  val_data_loss  val_regularization_loss")
for r in sorted({0, ROUNDS // 4, ROUNDS // 2, ROUNDS - 1}):
    print(f"{r + 1:5d}  {h['loss'][r]:.4f}   {h['data_loss'][r]:.4f}     {h['regularization_loss'][r]:.4f}"
          f"              {h['val_loss'][r]:.4f}    {h['val_data_loss'][r]:.4f}         {h['val_regularization_loss'][r]:.4f}")
kernels = [layer.kernel.numpy() for layer in models["L2"].layers if isinstance(layer, keras.layers.Dense)]
numpy_penalty = 1e-3 * sum(float(np.square(k).sum()) for k in kernels)
print(f"At the end the penalty is {h['val_regularization_loss'][-1]:.5f} in the logs and {numpy_penalty:.5f} "
      f"computed in NumPy from the kernels; the data loss is {h['data_loss'][-1]:.4f}.")
assert np.isclose(h["val_regularization_loss"][-1], numpy_penalty, rtol=1e-3)

# %% [markdown]
# Early on the penalty is a small part of the loss; as the data loss shrinks, the
# penalty becomes the larger share, and training settles where making the weights
# bigger would no longer lower the data loss by more than it raises the penalty.
#
# ## 3. L1 makes weights zero, L2 makes them small
#
# The histogram above shows the difference between the two norms: under L1 a large
# share of the first-layer weights sits at zero, under L2 the weights are smaller
# than without regularization but spread out. The reason is in the gradients of the
# two penalties on a single weight:
#
# - L2: $\frac{d}{dw}\lambda w^2 = 2\lambda w$, a pull proportional to the weight,
#   which fades as the weight shrinks: it never quite reaches zero;
# - L1: $\frac{d}{dw}\lambda \lvert w \rvert = \lambda\,\mathrm{sign}(w)$, the same
#   pull however small the weight: any weight whose data gradient is weaker than
#   $\lambda$ is driven to zero (and then jitters around it, by about one step).

# %%
ws = np.linspace(-1.5, 1.5, 301)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
axes[0].plot(ws, ws**2, label=r"L2: $w^2$", color=COLORS["L2"])
axes[0].plot(ws, np.abs(ws), label=r"L1: $|w|$", color=COLORS["L1"])
axes[0].set(xlabel="weight w", ylabel="penalty / lambda", title="The penalty on one weight")
axes[1].plot(ws, 2 * ws, label=r"L2: $2w$", color=COLORS["L2"])
axes[1].plot(ws, np.sign(ws), label=r"L1: sign(w)", color=COLORS["L1"])
axes[1].set(xlabel="weight w", ylabel="gradient / lambda", title="Its gradient: the pull towards zero")
for ax in axes:
    ax.axhline(0, color="grey", lw=0.6)
    ax.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# Counted on every kernel of the three models, with "near zero" meaning below
# $10^{-3}$ in magnitude, about a hundredth of a typical initial weight:

# %%
near_zero = {}
for name in ("none", "L2", "L1"):
    kernels = [layer.kernel.numpy() for layer in models[name].layers if isinstance(layer, keras.layers.Dense)]
    near_zero[name] = [float(np.mean(np.abs(k) < 1e-3)) for k in kernels]
    print(f"{name:5s} weights below 1e-3: first layer {near_zero[name][0]:6.1%}, second layer {near_zero[name][1]:6.1%}, "
          f"output layer {near_zero[name][2]:6.1%}")
print(f"L1 leaves {near_zero['L1'][0]:.0%} of the first-layer weights near zero, L2 {near_zero['L2'][0]:.0%} "
      f"and no regularization {near_zero['none'][0]:.0%}.")
if not FAST:
    assert near_zero["L1"][0] > 5 * near_zero["L2"][0] and near_zero["L1"][1] > 5 * near_zero["L2"][1], near_zero
    assert final["L1"][1] >= final["none"][1] - 0.01, final

# %% [markdown]
# The zeros are spread over all layers: each unit ends up reading a subset of its
# inputs and ignoring the rest, as CS231n describes it. The validation accuracy
# with L1 (the table in section 2) is no worse than without regularization, though
# a large share of the connections is gone; under L2 the weights are smaller but
# almost none of them is zero.
#
# **Elastic net** (`ElasticNet(l1, l2)`) adds both penalties. L1 alone, given two
# inputs that carry the same information, tends to keep one and drop the other
# arbitrarily; the L2 part makes it share the weight between them, while the L1
# part still zeroes what is useless. It is the choice when inputs are correlated and
# sparsity is wanted anyway. Its value equals Keras's `L1L2` (section 1); unlike
# `L1L2()`, whose factors default to zero, its defaults do penalize.
#
# CS231n's advice applies: unless you need sparse weights (to prune connections, or
# to see which inputs matter), L2 usually generalises a little better than L1.
#
# ## 4. Max-norm: a constraint or a penalty
#
# Max-norm bounds the length of each unit's incoming weight vector,
# $\lVert W_{:,k} \rVert_2 \le c$: the column $k$ of a Dense kernel, hence `axis=0`.
# Keras's `keras.constraints.MaxNorm(c)` enforces it by projection: after every
# optimiser step it rescales any column longer than $c$ back to length $c$ (projected
# gradient descent). Because the weights can never grow past the bound, the network
# cannot blow up even with a learning rate that is too high; Srivastava et al. (2014)
# pair it with dropout. `MaxNormPenalty(c, strength)` is the soft version: a column
# may exceed $c$, at a cost $\text{strength}\cdot(\lVert W_{:,k}\rVert - c)^2$ that the
# gradient pulls back. It appears in the loss (and in `regularization_loss`), it is
# seen by the optimiser's statistics like any gradient, and it does not fight the
# optimiser's steps the way a projection does.
#
# The column norms of the first hidden layer of three models from section 2:

# %%
fig, ax = plt.subplots(figsize=(7, 3.6))
norm_bins = np.linspace(0.6, 1.6, 51)
column_norms = {}
for name in ("none", "max-norm constraint", "max-norm penalty"):
    column_norms[name] = np.linalg.norm(models[name].layers[0].kernel.numpy(), axis=0)
    ax.hist(column_norms[name], bins=norm_bins, histtype="step", lw=1.8, color=COLORS[name], label=name)
ax.axvline(1.0, color="grey", ls=":", label="c = 1")
ax.set(xlabel="norm of a unit's incoming weights", ylabel="number of units",
       title="First hidden layer: per-unit weight norms")
ax.legend()
plt.tight_layout()
plt.show()
for name, norms in column_norms.items():
    print(f"{name:20s} unit norms: median {np.median(norms):.3f}, largest {norms.max():.4f}")
constrained_kernel = models["max-norm constraint"].layers[0].kernel.numpy()
print(f"The constraint never lets a norm exceed 1 (largest {column_norms['max-norm constraint'].max():.4f}); the penalty "
      f"lets them reach {column_norms['max-norm penalty'].max():.4f}; without either they reach "
      f"{column_norms['none'].max():.2f}. MaxNormPenalty(1.0) of the constrained kernel: "
      f"{float(MaxNormPenalty(1.0, strength=0.1)(constrained_kernel)):.1e}.")
assert column_norms["max-norm constraint"].max() <= 1.0 + 1e-5
if not FAST:
    assert 1.0 < column_norms["max-norm penalty"].max() < column_norms["none"].max(), column_norms
    assert min(np.median(column_norms[name]) for name in ("max-norm constraint", "max-norm penalty")) > 0.99, column_norms

# %% [markdown]
# Both leave most units at the bound (the medians printed above): the data loss
# would like longer weight vectors, and the bound, hard or soft, is what stops them.
# Under the penalty a norm settles where its pull back, $2\,\text{strength}\cdot(\lVert W_{:,k}\rVert - c)$,
# balances the data gradient that pushes it out; late in training that gradient is
# small, so the excess is small too, and a weaker strength would let it grow.
#
# ## 5. Dropout, built into Keras
#
# Dropout is not a penalty on the weights but noise on the activations: during
# training each unit's output is set to zero with probability `rate`, so no unit can
# rely on any particular other unit being there. The network is in effect a large
# ensemble of thinned sub-networks that share weights; at test time all units are
# kept, which approximates averaging the ensemble. Keras implements **inverted
# dropout**: the kept activations are divided by $1 - \text{rate}$ during training, so
# that their expected value is unchanged and inference needs no rescaling at all:

# %%
dropout = keras.layers.Dropout(0.5, seed=1)
activations = np.ones((1, 10), dtype="float32")
print("training:  ", np.asarray(dropout(activations, training=True))[0])
print("inference: ", np.asarray(dropout(activations, training=False))[0])

# %% [markdown]
# `fit` calls the layer with `training=True`, `predict` and `evaluate` with
# `training=False`, which is why the training loss of a model with dropout can be
# higher than its validation loss. It costs nothing at inference and combines with
# any penalty or constraint; section 2 showed why it should be combined with one
# when training is long. It is a layer, not a regularizer, so it is not part of
# `regularization_loss`.
#
# ## 6. Group lasso: which inputs matter?
#
# L1 zeroes single weights. Often what we want to drop is a whole **input
# feature**: every weight that reads it. Group lasso penalizes the Euclidean norm of
# each group of weights, not of each weight. On a Dense kernel of shape
# `(inputs, units)`, `GroupLasso(strength, axis=1)` takes the norm of each row, the
# weights that leave one input:
#
# $$R(W) = \lambda \sum_{j=1}^{d} \lVert W_{j,:} \rVert_2$$
#
# A norm has the same constant pull as L1, but on the group as a whole: a row whose
# input does not help is pulled to zero together, while a useful row just shrinks a
# little. It is the L1 idea applied to groups.
#
# A test: 20 input features drawn at random, of which only the first 4 determine the
# target, $y = \sin(2x_0) + x_1 x_2 + x_3 + \text{noise}$. The other 16 are pure
# distraction. We fit a small network on 300 examples with and without
# `GroupLasso(0.03)` on its first kernel, and look at the norm of each input's row.

# %%
rng = np.random.default_rng(0)
n_features, n_relevant = 20, 4


def make_data(n):
    x = rng.normal(size=(n, n_features)).astype("float32")
    y = np.sin(2 * x[:, 0]) + x[:, 1] * x[:, 2] + x[:, 3]
    return x, y.astype("float32")[:, None]


x_features, y_features = make_data(300)
x_features_test, y_features_test = make_data(2000)
y_features = y_features + 0.1 * rng.normal(size=y_features.shape).astype("float32")
feature_data = tf.data.Dataset.from_tensors((x_features, y_features)).repeat()  # full-batch steps

row_norms, feature_mse = {}, {}
for name, regularizer in {"no penalty": None, "GroupLasso(0.03)": GroupLasso(0.03, axis=1)}.items():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((n_features,)),
        keras.layers.Dense(64, activation="relu", kernel_regularizer=regularizer),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(1),
    ])
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss="mse", steps_per_execution=50)
    model.fit(feature_data, steps_per_epoch=50 if FAST else 500, epochs=1, shuffle=False, verbose=0)
    row_norms[name] = np.linalg.norm(model.layers[0].kernel.numpy(), axis=1)
    feature_mse[name] = float(np.mean((keras.ops.convert_to_numpy(model(x_features_test)) - y_features_test) ** 2))

fig, ax = plt.subplots(figsize=(9, 3.6))
positions = np.arange(n_features)
for offset, (name, norms) in zip((-0.2, 0.2), row_norms.items()):
    ax.bar(positions + offset, norms, width=0.4, label=name, color="grey" if offset < 0 else "tab:cyan")
ax.axvspan(-0.5, n_relevant - 0.5, color="gold", alpha=0.25, zorder=0, label="the features that matter")
ax.set(xticks=positions, xlabel="input feature", ylabel="norm of its row in the first kernel",
       ylim=(0, 1.3 * max(norms.max() for norms in row_norms.values())),
       title="Group lasso drives the rows of unused inputs to zero")
ax.legend(ncol=3, loc="upper center")
plt.tight_layout()
plt.show()

# %%
lasso = row_norms["GroupLasso(0.03)"]
relevant, irrelevant = lasso[:n_relevant], lasso[n_relevant:]
print(f"With GroupLasso the irrelevant features' rows have norms up to {irrelevant.max():.4f} "
      f"(mean {irrelevant.mean():.4f}); the relevant ones from {relevant.min():.3f} to {relevant.max():.3f}; "
      f"without the penalty the irrelevant rows average {row_norms['no penalty'][n_relevant:].mean():.3f}.")
print(f"Test mean squared error: {feature_mse['GroupLasso(0.03)']:.3f} with group lasso, "
      f"{feature_mse['no penalty']:.3f} without.")
if not FAST:
    assert irrelevant.max() < 0.2 * relevant.min(), lasso
    assert feature_mse["GroupLasso(0.03)"] < 0.5 * feature_mse["no penalty"], feature_mse

# %% [markdown]
# Group lasso found the four features that matter, and the model that ignores the
# other sixteen also predicts new data much better: the unregularized one used its
# freedom to fit the noise through the irrelevant inputs. The rows of unused inputs
# are small but not exactly zero (each gradient step overshoots the kink at zero a
# little); to actually drop the features, threshold the row norms after training.
# For a convolution kernel `(h, w, in, out)`, `axis=[0, 1, 3]` groups the weights by
# input channel.
#
# ## 7. Adding a penalty to a model that is already trained
#
# A penalty in Keras 3 belongs to the weight variable: a layer built with
# `kernel_regularizer=` hands it to its kernel when it creates it. Setting
# `layer.kernel_regularizer` on a layer that already exists changes nothing in
# training. `keras_losses.regularizers.apply(model, kernel=...)` rebuilds the model
# with the penalty in every layer's config, copies all the weights across and
# compiles the copy as the original was. Here it takes the unregularized digit model
# from section 2, which ended overfitted, and fine-tunes it with L2:

# %%
pretrained = models["none"]
regularized = keras_losses.regularizers.apply(pretrained, kernel=L2(1e-3))
same = np.array_equal(keras.ops.convert_to_numpy(pretrained(x_val)), keras.ops.convert_to_numpy(regularized(x_val)))
print(f"identical predictions after apply: {same}; penalties in model.losses: {len(regularized.losses)} "
      f"(one per kernel; the biases are left alone); original model's: {len(pretrained.losses)}")
before = regularized.evaluate(x_val, y_val, batch_size=len(x_val), return_dict=True, verbose=0)
kernels = [layer.kernel.numpy() for layer in pretrained.layers if isinstance(layer, keras.layers.Dense)]
numpy_penalty = 1e-3 * sum(float(np.square(k).sum()) for k in kernels)
print(f"evaluate: loss {before['loss']:.4f} = data loss {before['data_loss']:.4f} + penalty "
      f"{before['loss'] - before['data_loss']:.4f}; 1e-3 * sum(w**2) over the kernels in NumPy: {numpy_penalty:.4f}")
assert same and np.isclose(before["loss"] - before["data_loss"], numpy_penalty, rtol=1e-3)
fine_tuned = regularized.fit(train_data, steps_per_epoch=STEPS, epochs=ROUNDS // 2 if not FAST else 1,
                             validation_data=val_data, callbacks=[LogRegularizationLoss()], shuffle=False, verbose=0).history
print(f"Fine-tuning the overfitted model with L2 for {STEPS * len(fine_tuned['loss'])} steps lowers its validation "
      f"data loss from {before['data_loss']:.3f} to {fine_tuned['val_data_loss'][-1]:.3f}.")
if not FAST:
    assert fine_tuned["val_data_loss"][-1] < 0.9 * before["data_loss"], fine_tuned["val_data_loss"]

# %% [markdown]
# The same works for a model loaded from a `.keras` file, pretrained or not; the
# penalty is saved in the new model's file. Only subclassed models (with their own
# `call`) cannot be rebuilt: give their layers `kernel_regularizer=` in `__init__`.
#
# ## 8. Why the biases are left alone
#
# A weight multiplies an input: shrinking it makes the output depend less on that
# input, which is the smoothness we want. A bias multiplies nothing; it only sets
# where the output sits when the inputs are zero. Pulling it towards zero therefore
# buys no smoothness; it only moves every prediction away from where the data wants
# it. There are also few biases (one per unit), so they have little capacity to
# overfit. That is why the layers above regularize the kernels only, and why `apply`
# touches the biases only when asked (`bias=...`).
#
# A linear model of scikit-learn's diabetes data shows the cost. The target (disease
# progression after one year) averages about 150 (the exact mean is printed below),
# and with standardized inputs the output bias must be that mean. Two copies of the
# same untrained model, made by `apply`, both with `L2(0.1)` on the kernel, one also
# on the bias:

# %%
from sklearn.datasets import load_diabetes
from sklearn.preprocessing import StandardScaler

diabetes = load_diabetes()
x_diabetes = StandardScaler().fit_transform(diabetes.data).astype("float32")
y_diabetes = diabetes.target.astype("float32")[:, None]
diabetes_data = tf.data.Dataset.from_tensors((x_diabetes, y_diabetes)).repeat()

keras.utils.set_random_seed(0)
linear = keras.Sequential([keras.Input((10,)), keras.layers.Dense(1)])
linear.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", steps_per_execution=50)
bias_results = {}
for name, bias in {"kernel only": None, "kernel and bias": L2(0.1)}.items():
    model = keras_losses.regularizers.apply(linear, kernel=L2(0.1), bias=bias)
    model.fit(diabetes_data, steps_per_epoch=100 if FAST else 300, epochs=1, shuffle=False, verbose=0)
    mse = float(np.mean((keras.ops.convert_to_numpy(model(x_diabetes)) - y_diabetes) ** 2))
    bias_results[name] = (float(model.layers[-1].bias.numpy()[0]), mse)
mean_target = float(y_diabetes.mean())
for name, (b, mse) in bias_results.items():
    print(f"L2(0.1) on the {name:15s}: learned bias {b:7.2f}, training mean squared error {mse:7.1f}")
penalized_bias = bias_results["kernel and bias"][0]
print(f"The target's mean is {mean_target:.2f}. Penalizing the bias pulls it to {penalized_bias:.2f} "
      f"(the mean / 1.1 = {mean_target / 1.1:.2f}) and raises the training error from "
      f"{bias_results['kernel only'][1]:.0f} to {bias_results['kernel and bias'][1]:.0f}.")
if not FAST:
    assert abs(bias_results["kernel only"][0] - mean_target) < 1.0, bias_results
    assert abs(penalized_bias - mean_target / 1.1) < 1.0, bias_results
    assert bias_results["kernel and bias"][1] > bias_results["kernel only"][1] + 100, bias_results

# %% [markdown]
# With standardized inputs the bias is the mean prediction, so the penalty
# $\lambda b^2$, whose gradient is $2\lambda b$, balances the data loss's gradient
# $2(b - \bar y)$ at $b = \bar y / (1 + \lambda)$, and every prediction is shifted
# down by $\bar y - b$, for nothing in return. With
# centred targets the harm would be small, as CS231n notes, but there is no reason
# to pay it.
#
# ## Summary
#
# | what | use it for | in Keras |
# |---|---|---|
# | L2 | the default: small, diffuse weights; cross-validate one strength | `L2(l2)`; `L2(l2, half=True)` for CS231n / `tf.nn.l2_loss` strengths |
# | L1 | sparse weights: pruning, seeing which connections matter | `L1(l1)` |
# | elastic net | sparsity with correlated inputs | `ElasticNet(l1, l2)` |
# | group lasso | selecting input features (or channels) as wholes | `GroupLasso(strength, axis=1)` |
# | max-norm | bounded units, robust to large learning rates; with dropout | `keras.constraints.MaxNorm(c)` (hard), `MaxNormPenalty(c, strength)` (soft) |
# | dropout | noise that prevents co-adaptation; combine with any of the above | `keras.layers.Dropout(rate)` |
# | a trained model | add any of the penalties without retraining from scratch | `keras_losses.regularizers.apply(model, kernel=...)` |
# | the logs | the data loss and the penalty side by side | `DataLoss(loss)` in `weighted_metrics`, `LogRegularizationLoss()` |
#
# Regularize the kernels, not the biases; compare models on the data loss, not on
# `loss`; and choose the strength on validation data.
