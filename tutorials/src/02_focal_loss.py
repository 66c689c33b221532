# %% [markdown]
# # Focal loss on an imbalanced problem
#
# Many classification problems are lopsided. Fraudulent payments among millions of
# honest ones, a rare finding among screening results, an object among the tens of
# thousands of background boxes that a detector scores in every image: one positive
# for every hundred (or thousand) negatives. A model that always answers "no" is then
# 99% accurate and worthless, and plain cross-entropy has two problems with such data:
#
# - **The easy majority drowns the signal.** The loss is a sum over examples. Each
#   easy negative contributes little, but there are so many that together they make up
#   most of the loss and of its gradient, while the few hard examples, the ones that
#   decide the quality of the model, are a small part of what the optimiser sees.
# - **The start is spent on the obvious.** An untrained network says about 50% for
#   everything. Almost all of the first loss then comes from the negatives, and the
#   first many steps only teach the model that positives are rare.
#
# Lin et al. (2017) met both in RetinaNet, a one-stage object detector, and answered
# each one: the **focal loss**, which shrinks the loss of examples the model already
# gets right, and a **prior initialisation** of the classifier's bias, so that the
# untrained model already predicts the rare class rarely. This tutorial:
#
# 1. derives the focal loss and plots it against cross-entropy;
# 2. computes what the very first training step sees, with and without the prior start
#    (`keras_losses.PriorProbability`);
# 3. trains small networks on a problem with 1% positives, with cross-entropy and with
#    the focal loss, each with and without the prior start, and compares them on
#    precision and recall;
# 4. shows why Keras's built-in categorical focal loss stops learning from confidently
#    wrong examples, and that `keras_losses.CategoricalFocalLoss` does not.

# %%
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
FAST = os.environ.get("KERAS_LOSSES_TUTORIAL_MODE") == "fast"  # CI runs a short version

import logging

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf  # only for tf.GradientTape, to read gradients off the losses

import keras_losses

logging.getLogger("tensorflow").setLevel(logging.ERROR)  # no retracing notices in the outputs
keras.utils.set_random_seed(0)
N_EXAMPLES = 8_000 if FAST else 40_000  # half for training, half for testing
EPOCHS = 2 if FAST else 20
print("keras", keras.__version__, "| backend", keras.backend.backend(), "| fast run" if FAST else "| full run")

# %% [markdown]
# ## 1. From cross-entropy to the focal loss
#
# Take a binary label $y \in \{0, 1\}$ and the model's probability $p = \sigma(z)$ for
# the positive class, where $z$ is the logit. It is convenient to name the
# probability the model gives to the *correct* answer:
#
# $$p_t = \begin{cases} p & \text{if } y = 1, \\ 1 - p & \text{if } y = 0. \end{cases}$$
#
# Cross-entropy is then simply $\mathrm{CE}(p_t) = -\log p_t$: zero for a perfect
# answer, growing without bound as the model becomes confidently wrong. The usual
# remedy for imbalance is a class weight $\alpha \in [0, 1]$, with
# $\alpha_t = \alpha$ for positives and $1 - \alpha$ for negatives:
#
# $$\mathrm{CE}_\alpha(p_t) = -\alpha_t \log p_t .$$
#
# That balances the positives against the negatives, but it cannot tell an easy
# negative from a hard one. The focal loss adds a factor that does:
#
# $$\mathrm{FL}(p_t) = -\alpha_t\,(1 - p_t)^{\gamma}\,\log p_t, \qquad \gamma \ge 0 .$$
#
# The factor $(1 - p_t)^\gamma$ is the probability of the *wrong* answer raised to the
# focusing power $\gamma$. On a misclassified example $p_t$ is small, the factor is
# close to 1, and the loss is almost the cross-entropy. On a well-classified one
# $p_t \to 1$, the factor goes to 0, and the example stops counting. With $\gamma = 0$
# the focal loss is the weighted cross-entropy again. Dividing the two,
# $\mathrm{FL} / \mathrm{CE}_\alpha = (1 - p_t)^\gamma$: that ratio, on a log scale,
# is the right-hand panel below. Both panels are computed with
# `keras_losses.binary_focal_loss` (with `alpha=None`, so only $\gamma$ acts).

# %%
GAMMAS = (0.0, 0.5, 1.0, 2.0, 5.0)
p_t = np.linspace(0.001, 0.999, 999)
positive = np.ones((len(p_t), 1))  # with y = 1, p_t is the predicted probability itself
curves = {
    gamma: np.asarray(keras_losses.binary_focal_loss(positive, p_t[:, None], gamma=gamma, alpha=None))
    for gamma in GAMMAS
}


def down_weighting(gamma, p):
    """How many times smaller the focal loss is than cross-entropy at p_t = p."""
    i = int(np.argmin(np.abs(p_t - p)))
    return float(curves[0.0][i] / curves[gamma][i])


ratios = {p: down_weighting(2.0, p) for p in (0.1, 0.5, 0.9, 0.99)}

fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
for gamma, loss in curves.items():
    label = "γ = 0 (cross-entropy)" if gamma == 0 else f"γ = {gamma:g}"
    axes[0].plot(p_t, loss, lw=2, label=label)
    if gamma > 0:
        axes[1].plot(p_t, loss / curves[0.0], lw=2, label=label, color=axes[0].lines[-1].get_color())
for ax in axes:
    ax.axvspan(0.6, 1.0, color="tab:green", alpha=0.08)
    ax.set_xlabel("probability of the correct class, $p_t$")
axes[0].text(0.8, 2.0, "well-classified\nexamples", ha="center", fontsize=10)
axes[1].plot([0.9], [1 / ratios[0.9]], "o", color="tab:red")
axes[1].annotate(f"γ = 2, $p_t$ = 0.9:\n{ratios[0.9]:.0f} times smaller", (0.9, 1 / ratios[0.9]), (0.5, 2e-4),
                 arrowprops={"arrowstyle": "->"}, fontsize=10)
axes[0].set(ylim=(0, 5), xlim=(0, 1), ylabel="loss", title="Focal loss $-(1-p_t)^\\gamma \\log p_t$")
axes[1].set(yscale="log", ylim=(1e-6, 1.5), xlim=(0, 1), ylabel="focal loss / cross-entropy",
            title="How much each example is down-weighted")
axes[0].legend(loc="upper center")
axes[1].legend(loc="lower left")
fig.suptitle("The focal loss fades on examples the model already gets right", fontsize=13)
plt.tight_layout()
plt.show()

print(f"With gamma = 2, an example at p_t = 0.9 costs {ratios[0.9]:.0f} times less than under cross-entropy, "
      f"one at p_t = 0.99 {ratios[0.99]:.0f} times less, one at p_t = 0.5 {ratios[0.5]:.1f} times less, "
      f"and a badly misclassified one at p_t = 0.1 only {ratios[0.1]:.2f} times less.")
if not FAST:
    assert abs(ratios[0.9] - 100) < 1 and abs(ratios[0.5] - 4) < 0.05 and ratios[0.1] < 1.25, ratios

# %% [markdown]
# What this does to a whole data set: picture a batch with 990 easy negatives that
# the model already scores well ($p_t = 0.95$) and 10 positives it still gets wrong
# ($p_t = 0.2$). How much of the total loss do the easy ones make up?

# %%
easy, hard = 990, 10
labels_batch = np.concatenate([np.zeros(easy), np.ones(hard)])[:, None]
predicted = np.concatenate([np.full(easy, 0.05), np.full(hard, 0.2)])[:, None]  # p for the positive class
shares = {}
for name, loss in {
    "cross-entropy": keras.losses.BinaryCrossentropy(reduction=None),
    "focal loss (gamma 2)": keras_losses.BinaryFocalLoss(gamma=2.0, alpha=None, reduction=None),
}.items():
    per_example = np.asarray(loss(labels_batch, predicted))
    shares[name] = per_example[:easy].sum() / per_example.sum()
    print(f"{name:21s}: the 990 easy negatives make up {shares[name]:.1%} of the total loss")
if not FAST:
    assert shares["cross-entropy"] > 0.5 and shares["focal loss (gamma 2)"] < 0.05, shares

# %% [markdown]
# Under cross-entropy the easy negatives outweigh the misclassified positives, so the
# gradient mostly asks the model to make easy negatives even more certain; under the
# focal loss the ten hard positives carry almost all of it.
#
# About $\alpha$: `keras_losses.BinaryFocalLoss` uses RetinaNet's defaults, $\gamma = 2$
# and $\alpha = 0.25$. That $\alpha$ weighs the rare positives *less* than the
# negatives, which looks backwards; but with $\gamma = 2$ the negatives are already so
# damped that the paper found a small $\alpha$ worked best. `alpha=None` switches the
# weight off. The training below uses the defaults.
#
# ## 2. An imbalanced problem
#
# We generate the data with scikit-learn's `make_classification`: 20 features, of which
# 6 carry the signal and 4 are mixtures of those, 1% positives, and classes that
# overlap, so that no model can be perfect. Half of it trains, the other half tests,
# split so that both halves keep the 1%.
#
# With so few positives, accuracy says nothing (always answering "negative" scores
# 99%), and even the area under the ROC curve can look excellent while most alarms
# are false, because its false positive *rate* divides by the huge number of
# negatives. The honest measures are **precision** (of the examples flagged positive,
# how many are) and **recall** (of the positives, how many are flagged), traced over
# every threshold as a precision-recall curve. Its summary is the **average
# precision** (AP), the precision averaged over the recall levels: 1 for a perfect
# ranking, and about the positive rate for a random one.

# %%
from sklearn.datasets import make_classification
from sklearn.metrics import average_precision_score, precision_recall_curve
from sklearn.model_selection import train_test_split

features, labels = make_classification(
    n_samples=N_EXAMPLES, n_features=20, n_informative=6, n_redundant=4,
    weights=[0.99], flip_y=0.0, class_sep=1.0, random_state=0,
)
x_train, x_test, y_train, y_test = train_test_split(
    features.astype("float32"), labels.astype("float32"), test_size=0.5, stratify=labels, random_state=0
)
positive_rate = float(y_train.mean())
print(f"Training set: {len(y_train)} examples, {int(y_train.sum())} positives ({positive_rate:.2%}); "
      f"test set: {len(y_test)} examples, {int(y_test.sum())} positives.")
print(f"Always answering 'negative' is {1 - y_test.mean():.1%} accurate on the test set; "
      f"random scores give an average precision of about {y_test.mean():.3f}.")

# %% [markdown]
# ## 3. The first step: why the prior start matters
#
# At initialisation the last layer's kernel is random and small, so the output logit
# of every example is close to the layer's bias, which Keras starts at 0: every
# example gets $p = \sigma(0) = 0.5$. On our data, 99% of the examples are negatives,
# each of which is then wrong by a coin flip.
#
# RetinaNet instead starts the bias at the logit of a small *prior* probability $\pi$,
#
# $$b = -\log\frac{1 - \pi}{\pi}, \qquad \sigma(b) = \pi,$$
#
# which is what `keras_losses.PriorProbability(pi)` fills a bias with. With $\pi$ equal
# to the positive rate, the untrained model already says "rare" about everything.
#
# The cell below takes a model at its very first step, every logit equal to the
# bias, and computes on our training labels the mean loss, the share of it that
# comes from the negatives, and the gradient of the mean loss with respect to the
# bias: what the first step will change.

# %%
prior = keras_losses.PriorProbability(positive_rate)
print(f"PriorProbability({positive_rate:.2f}) fills the bias with {prior.value:.3f}; "
      f"sigmoid({prior.value:.3f}) = {1 / (1 + np.exp(-prior.value)):.4f}")

y_column = y_train[:, None]
start = {}
for loss_name, loss in {
    "cross-entropy": keras.losses.BinaryCrossentropy(from_logits=True, reduction=None),
    "focal loss": keras_losses.BinaryFocalLoss(from_logits=True, reduction=None),
}.items():
    for bias_name, bias in {"bias 0": 0.0, "prior bias": prior.value}.items():
        b = tf.Variable(bias)
        with tf.GradientTape() as tape:
            per_example = loss(y_column, tf.fill(y_column.shape, b))
            mean = tf.reduce_mean(per_example)
        gradient = float(tape.gradient(mean, b))
        per_example = np.asarray(per_example)
        negatives = per_example[y_train == 0].sum() / per_example.sum()
        start[loss_name, bias_name] = (float(mean), negatives, gradient)
        print(f"{loss_name:13s} {bias_name:10s}: first loss {float(mean):.5f}, {negatives:8.3%} of it from "
              f"the negatives, d loss / d bias = {round(gradient, 5) + 0.0:+.5f}")  # + 0.0: no "-0.00000"
steps_per_epoch = int(np.ceil(len(y_train) / 256))  # the batch size of the training below
print(f"Adam at its default learning rate of 0.001 would need about {abs(prior.value) / 0.001:.0f} steps, "
      f"{abs(prior.value) / 0.001 / steps_per_epoch:.0f} epochs of the training below, to move the bias alone "
      f"from 0 to {prior.value:.3f}.")
if not FAST:
    assert start["focal loss", "bias 0"][1] > 0.99 and start["focal loss", "prior bias"][1] < 0.001, start
    assert start["cross-entropy", "bias 0"][1] > 0.98 and abs(start["cross-entropy", "prior bias"][2]) < 1e-4, start

# %% [markdown]
# Read the lines printed above in pairs. From bias 0, nearly all of either loss comes
# from the negatives, and the bias gradient is large and positive: the first steps
# will push every output down, whatever the example. From the prior bias the picture
# turns over. For cross-entropy the bias gradient is
# $\frac{1}{N}\sum_i (\sigma(b) - y_i) = \pi - \bar y$, which is zero when $\pi$ is the
# positive rate: the constant part of the answer is already right, and the first
# steps can go into the features that separate positives from negatives. For the
# focal loss the negatives' share of the loss falls to a few thousandths of a percent:
# from the first step on, it is the positives that drive training.
#
# How long does a model take to get there by itself from bias 0? Adam moves each
# parameter by roughly its learning rate per step, whatever the size of the gradient,
# so the bias alone would need the number of steps in the last line printed above.
# The network also lowers its outputs through its other weights, which is faster, but
# that is still time spent on what the prior start gives for free.
#
# ## 4. Training: cross-entropy or focal loss, bias 0 or the prior
#
# Four ways to train the same small network (two hidden layers of 32 units, one output
# logit, Adam at its default learning rate of 0.001, batches of 256):
#
# | name | loss | bias of the output layer |
# |---|---|---|
# | CE | `keras.losses.BinaryCrossentropy(from_logits=True)` | zeros (Keras's default) |
# | CE + prior | the same | `keras_losses.PriorProbability(0.01)` |
# | focal | `keras_losses.BinaryFocalLoss(from_logits=True)` ($\gamma = 2$, $\alpha = 0.25$) | zeros |
# | focal + prior | the same | `keras_losses.PriorProbability(0.01)` |
#
# "CE + prior" is not in this tutorial's title, but without it we could not tell
# whether a gain comes from the loss or from the start. Each recipe trains three copies from three
# different random initial weights, and copy $k$ starts from the *same* weights under
# every recipe (only the output bias differs), so the comparisons are paired. To train
# the twelve networks with one `fit` (one compiled function rather than twelve), we
# put them side by side in one Keras model with a named output and a loss per
# network; they share no weight, so each learns exactly as it would alone.

# %%
RECIPES = {
    "CE": (keras.losses.BinaryCrossentropy(from_logits=True), "zeros"),
    "CE + prior": (keras.losses.BinaryCrossentropy(from_logits=True), prior),
    "focal": (keras_losses.BinaryFocalLoss(from_logits=True), "zeros"),
    "focal + prior": (keras_losses.BinaryFocalLoss(from_logits=True), prior),
}
COPIES = 1 if FAST else 3  # each output adds about a second of tracing to the first fit


def small_network(inputs, bias_initializer, copy, name):
    """Two hidden layers and one logit; `copy` picks the random initial weights."""
    def glorot(layer):
        return keras.initializers.GlorotUniform(seed=10 * copy + layer)

    h = keras.layers.Dense(32, activation="relu", kernel_initializer=glorot(0))(inputs)
    h = keras.layers.Dense(32, activation="relu", kernel_initializer=glorot(1))(h)
    small = keras.initializers.RandomNormal(stddev=0.01, seed=10 * copy + 2)  # logits start near the bias
    return keras.layers.Dense(1, kernel_initializer=small, bias_initializer=bias_initializer, name=name)(h)


inputs = keras.Input((x_train.shape[1],))
outputs, losses = {}, {}
for recipe, (loss, bias_initializer) in RECIPES.items():
    for copy in range(COPIES):
        name = f"{recipe.replace(' + ', '_')}_{copy}"
        outputs[name] = small_network(inputs, bias_initializer, copy, name)
        losses[name] = loss
networks = keras.Model(inputs, outputs)
networks.compile(optimizer=keras.optimizers.Adam(0.001), loss=losses, steps_per_execution=4)
recipe_of = {f"{recipe.replace(' + ', '_')}_{copy}": recipe for recipe in RECIPES for copy in range(COPIES)}


class Probe(keras.callbacks.Callback):
    """Test AP of every network after each epoch; during the first epoch, every few
    steps, also each network's own loss on the whole training set."""

    def __init__(self):
        super().__init__()
        self.first_epoch = []  # (steps done, {name: training loss}, {name: test AP})
        self.epochs = []  # {name: test AP} after 0, 1, 2, ... epochs

    def test_ap(self):
        scores = self.model(x_test)
        return {name: average_precision_score(y_test, np.asarray(scores[name])[:, 0]) for name in outputs}

    def record(self):
        logits = self.model(x_train)
        training_loss = {name: float(losses[name](y_train[:, None], logits[name])) for name in outputs}
        self.first_epoch.append((int(self.model.optimizer.iterations), training_loss, self.test_ap()))

    def on_train_begin(self, logs=None):
        self.record()
        self.epochs.append(self.first_epoch[-1][2])

    def on_train_batch_end(self, batch, logs=None):
        if len(self.epochs) == 1:
            self.record()

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(self.test_ap())


probe = Probe()
networks.fit(x_train, {name: y_train for name in outputs}, batch_size=256, epochs=EPOCHS, verbose=0, callbacks=[probe])
final_scores = {name: np.asarray(score)[:, 0] for name, score in networks(x_test).items()}
print(f"Trained {len(outputs)} networks for {EPOCHS} epochs ({int(networks.optimizer.iterations)} steps).")

# %% [markdown]
# Three views of the result: each network's own training loss over the first epoch
# (the losses differ in scale, hence the log axis; what matters is where each starts
# and how fast it falls), the average precision on the test set after every epoch
# (the mean of the three copies, with their range shaded), and the precision-recall
# curves of the trained networks.

# %%
COLOURS = {"CE": "tab:blue", "CE + prior": "tab:cyan", "focal": "tab:red", "focal + prior": "tab:orange"}


def by_recipe(values):
    """{recipe: array over copies} from {network name: value}."""
    return {recipe: np.array([values[name] for name in outputs if recipe_of[name] == recipe]) for recipe in RECIPES}


fig, axes = plt.subplots(1, 3, figsize=(16, 4.4))
steps = [s for s, _, _ in probe.first_epoch]
first_losses = [by_recipe(loss) for _, loss, _ in probe.first_epoch]
epoch_ap = [by_recipe(ap) for ap in probe.epochs]
final_ap = by_recipe({name: average_precision_score(y_test, s) for name, s in final_scores.items()})
for recipe, colour in COLOURS.items():
    style = "--" if "prior" in recipe else "-"
    axes[0].plot(steps, [loss[recipe].mean() for loss in first_losses], style, color=colour, lw=2, label=recipe)
    mean_ap = [ap[recipe].mean() for ap in epoch_ap]
    axes[1].plot(range(len(epoch_ap)), mean_ap, style, color=colour, lw=2, label=recipe)
    axes[1].fill_between(range(len(epoch_ap)), [ap[recipe].min() for ap in epoch_ap],
                         [ap[recipe].max() for ap in epoch_ap], color=colour, alpha=0.15)
    for copy, name in enumerate(n for n in outputs if recipe_of[n] == recipe):
        precision, recall, _ = precision_recall_curve(y_test, final_scores[name])
        axes[2].plot(recall, precision, style, color=colour, lw=1.2,
                     label=f"{recipe} (mean AP {final_ap[recipe].mean():.3f})" if copy == 0 else None)
axes[0].set(yscale="log", xlabel="training step (first epoch)", ylabel="training loss (each its own)",
            title="The first epoch: where each loss starts")
axes[1].set(xlabel="epoch", ylabel="average precision (test)", ylim=(0, 1),
            title="Average precision while training")
axes[2].axhline(y_test.mean(), color="grey", lw=0.8, ls=":", label="random ranking")
axes[2].set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02),
            title=f"Precision-recall after {EPOCHS} epochs ({COPIES} copies each)")
for ax in axes:
    ax.legend(fontsize=9)
plt.tight_layout()
plt.show()

# %%
at_end = {recipe: ap.mean() for recipe, ap in final_ap.items()}
TARGET_AP = 0.8


def epochs_to_reach(recipe, target=TARGET_AP):
    """The first epoch after which the copies' mean test AP reaches `target` (None if never)."""
    return next((epoch for epoch, ap in enumerate(epoch_ap) if ap[recipe].mean() >= target), None)


reach = {recipe: epochs_to_reach(recipe) for recipe in RECIPES}
for recipe in RECIPES:
    reached = f"after {reach[recipe]:2d} epochs" if reach[recipe] is not None else f"not within {EPOCHS} epochs"
    print(f"{recipe:14s} test AP after 1 epoch {epoch_ap[1][recipe].mean():.3f}, reaches {TARGET_AP} {reached}, "
          f"ends at {at_end[recipe]:.3f} (copies {', '.join(f'{a:.3f}' for a in final_ap[recipe])})")
print(f"Starting from the prior, the networks reach a test AP of {TARGET_AP} after {reach['CE + prior']} epochs with "
      f"cross-entropy and {reach['focal + prior']} with the focal loss; from bias 0 they need {reach['CE']} and "
      f"{reach['focal']}.")
gap = at_end["CE + prior"] - at_end["focal + prior"]
print(f"After {EPOCHS} epochs the prior start is still ahead (CE {at_end['CE']:.3f} -> {at_end['CE + prior']:.3f}, "
      f"focal {at_end['focal']:.3f} -> {at_end['focal + prior']:.3f}), while with the same start the focal loss ends "
      f"{abs(gap):.3f} AP {'below' if gap > 0 else 'above'} cross-entropy: on this task the start, not the loss, "
      f"makes the difference.")
if not FAST:
    assert None not in reach.values(), reach
    assert 2 * reach["CE + prior"] <= reach["CE"] and 2 * reach["focal + prior"] <= reach["focal"], reach
    assert at_end["CE + prior"] > at_end["CE"] + 0.01 and at_end["focal + prior"] > at_end["focal"] + 0.01, at_end
    assert abs(gap) < 0.02, at_end

# %% [markdown]
# The lines printed above are this section's result, and it is not the one the
# title might promise.
#
# **The prior start is worth a great deal.** The left panel shows the first epoch:
# each network starts at the loss computed in section 3 (the small output kernel
# keeps every logit near the bias), and from bias 0 both losses spend the
# epoch coming down to about the level at which the prior-started networks begin.
# Meanwhile the prior-started networks are already learning which examples are
# positive, and in the middle panel they reach a good ranking in a fraction of the
# epochs.
# The networks started from bias 0 catch up over the following epochs, but within
# this budget they do not close the gap.
#
# **The focal loss itself does not beat cross-entropy here.** Given the same start,
# the two end level: their bias-0 curves lie nearly on top of each other, and from
# the prior the focal loss is, if anything, a little slower to start. The focal
# term's promise is to stop the easy negatives from
# outvoting the hard examples; on this small problem, with one positive per hundred
# negatives and a network that sorts out the easy negatives within a few epochs,
# cross-entropy copes with that by itself. RetinaNet's setting, with far more
# background boxes per object and the loss summed over all of them, is where the
# paper found the focal term decisive. The lesson that carries over to every
# imbalanced problem is the cheap one: **start the output bias at the prior**,
# whichever loss you train with. Try the focal loss on top when cross-entropy leaves
# the hard examples unlearned, and judge it on precision and recall, as here.
#
# One more difference matters when the scores are used as probabilities. The focal
# loss does not ask for calibrated probabilities: once a negative is easy, it stops
# pushing its probability down, so the many negatives keep scores higher than the
# data supports ($\alpha = 0.25$, which weighs the positives less, pulls the other
# way). Compare the mean predicted probability on the test set with the true
# positive rate:

# %%
mean_probability = by_recipe({name: float(np.mean(1 / (1 + np.exp(-s)))) for name, s in final_scores.items()})
for recipe in RECIPES:
    print(f"{recipe:14s} mean predicted probability {mean_probability[recipe].mean():.4f} "
          f"(the test set's positive rate is {y_test.mean():.4f})")
calibration = {recipe: mean_probability[recipe].mean() / y_test.mean() for recipe in RECIPES}
print(f"With the prior start, cross-entropy's predicted probabilities average {calibration['CE + prior']:.2f} "
      f"times the true positive rate, as calibrated probabilities would; the focal loss's average "
      f"{calibration['focal + prior']:.1f} times it.")
if not FAST:
    assert abs(calibration["CE + prior"] - 1) < 0.2 and calibration["focal + prior"] > 2, calibration

# %% [markdown]
# The ranking, which is all that precision-recall measures, is as good as
# cross-entropy's, but a focal-trained network's sigmoid is not the probability of
# the positive class. If you need probabilities (to compare risks, or to set a
# threshold by expected cost), calibrate the scores afterwards on held-out data (for
# example with scikit-learn's `CalibratedClassifierCV` or a one-feature logistic
# regression on the logits), or choose the threshold directly on a validation
# precision-recall curve.
#
# ## 5. The built-in categorical focal loss saturates; ours does not
#
# Keras ships `keras.losses.CategoricalFocalCrossentropy`. Given logits, it takes
# the softmax, clips the probabilities to $[10^{-7},\, 1 - 10^{-7}]$ and then takes
# the logarithm. The clip is there to keep $\log 0$ away, but it has a cost. Once the
# probability of the true class falls below $10^{-7}$, which happens when a wrong class
# leads it by about $\ln 10^{7} \approx 16$ logits, the clipped value no longer depends
# on the logits: the loss freezes at $\alpha\,(1 - 10^{-7})^\gamma \cdot 7 \ln 10 \approx 4.03$
# (with its default $\alpha = 0.25$) and its gradient is exactly zero. The example drops
# out of training for good, and it is exactly the kind the focal loss exists to
# emphasise: hard, confidently wrong (a mislabelled image, an overconfident
# model, a class the network has collapsed onto).
#
# `keras_losses.CategoricalFocalLoss(from_logits=True)` works in log space instead,
# $\log p = z - \operatorname{logsumexp}(z)$, and computes $1 - p_t$ as the sum of the
# other classes' probabilities, so nothing is clipped and nothing rounds away. We
# pass it the same $\alpha = 0.25$ (its default is no weight) so that the two can be
# compared number for number. One example with three classes, the true class first,
# and the second class leading it by 20 logits:

# %%
builtin = keras.losses.CategoricalFocalCrossentropy(from_logits=True)  # gamma 2, alpha 0.25 by default
ours = keras_losses.CategoricalFocalLoss(alpha=0.25, from_logits=True)  # gamma 2 by default
true_class_first = np.array([[1.0, 0.0, 0.0]], dtype="float32")


def loss_and_gradient(loss, logits):
    """The loss of one example and its gradient with respect to the logits."""
    z = tf.Variable(np.asarray(logits, dtype="float32")[None, :])
    with tf.GradientTape() as tape:
        value = loss(true_class_first, z)
    return float(value), tape.gradient(value, z).numpy()[0]


wrong_by_20 = [0.0, 20.0, 0.0]
for name, loss in {"keras CategoricalFocalCrossentropy": builtin, "keras_losses CategoricalFocalLoss": ours}.items():
    value, gradient = loss_and_gradient(loss, wrong_by_20)
    print(f"{name:34s}: loss {value:.4f}, gradient on the logits {np.array2string(gradient + 0.0, precision=4)}")
builtin_20, ours_20 = loss_and_gradient(builtin, wrong_by_20), loss_and_gradient(ours, wrong_by_20)
if not FAST:
    assert np.all(builtin_20[1] == 0) and abs(builtin_20[0] - 0.25 * 7 * np.log(10)) < 1e-3, builtin_20
    assert abs(ours_20[0] - 0.25 * 20) < 1e-3 and ours_20[1][0] < -0.2, ours_20

# %% [markdown]
# Ours gives a loss of about $\alpha$ times the lead (with $p_t \approx e^{-20}$,
# $-\log p_t \approx 20$ and $(1 - p_t)^2 \approx 1$), and a gradient that pushes the
# true logit up and the leading wrong one down by $\alpha$ each. The built-in reports a
# loss, but nothing can learn from it. Across leads, for both losses:

# %%
leads = np.linspace(0.0, 40.0, 161, dtype="float32")
batch_of_leads = np.stack([np.zeros_like(leads), leads, np.zeros_like(leads)], axis=1)
many_true = np.repeat(true_class_first, len(leads), axis=0)
sweep = {}
for name, loss in {
    "keras CategoricalFocalCrossentropy": keras.losses.CategoricalFocalCrossentropy(from_logits=True, reduction=None),
    "keras_losses CategoricalFocalLoss": keras_losses.CategoricalFocalLoss(
        alpha=0.25, from_logits=True, reduction=None
    ),
}.items():
    z = tf.Variable(batch_of_leads)
    with tf.GradientTape() as tape:
        per_example = loss(many_true, z)
        total = tf.reduce_sum(per_example)  # rows are independent: row i's gradient is example i's
    sweep[name] = (np.asarray(per_example), np.linalg.norm(tape.gradient(total, z).numpy(), axis=1))

fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
for (name, (values, gradient_norms)), style in zip(sweep.items(), ("-", "--")):
    axes[0].plot(leads, values, style, lw=2, label=name)
    axes[1].plot(leads, gradient_norms, style, lw=2, label=name)
for ax in axes:
    ax.axvline(7 * np.log(10), color="grey", lw=0.8, ls=":")
    ax.set_xlabel("lead of the wrong class over the true class (logits)")
axes[1].text(7 * np.log(10) + 0.5, 0.2, "from here Keras's clipped\n$p_t$ stays at $10^{-7}$", fontsize=9)
axes[0].set(ylabel="loss", title="Loss of a wrong example (γ = 2, α = 0.25)")
axes[1].set(ylabel="norm of the gradient on the logits", ylim=(-0.02, 0.45), title="What training can learn from it")
axes[0].legend()
axes[1].legend(loc="lower right", bbox_to_anchor=(1.0, 0.08))
plt.tight_layout()
plt.show()

builtin_values, builtin_gradients = sweep["keras CategoricalFocalCrossentropy"]
ours_values, ours_gradients = sweep["keras_losses CategoricalFocalLoss"]
agree = leads <= 15
frozen_from = float(leads[np.argmax(builtin_gradients == 0)])
print(f"Up to a lead of 15 the two agree within {np.max(np.abs(builtin_values - ours_values)[agree]):.1e}; from a lead "
      f"of {frozen_from:g} on, the built-in's gradient is exactly 0 and its loss stays at {builtin_values[-1]:.4f}, "
      f"while ours keeps a gradient norm of {ours_gradients[~agree].min():.3f} or more "
      f"(alpha * sqrt(2) = {0.25 * np.sqrt(2):.3f}).")
if not FAST:
    assert np.max(np.abs(builtin_values - ours_values)[agree]) < 1e-4
    assert 16 <= frozen_from <= 17 and np.all(builtin_gradients[leads >= frozen_from] == 0)
    assert ours_gradients[~agree].min() > 0.25 * np.sqrt(2) - 1e-3

# %% [markdown]
# Does the zero gradient matter, or is it an edge case? Let plain gradient descent
# (step size 1) act on the three logits directly, starting 20 behind, and count the
# steps until the true class leads again:

# %%
def steps_to_recover(loss, max_steps):
    z = tf.Variable(np.array([wrong_by_20], dtype="float32"))
    for step in range(1, max_steps + 1):
        with tf.GradientTape() as tape:
            value = loss(true_class_first, z)
        z.assign_sub(tape.gradient(value, z))
        if z[0, 0] > tf.reduce_max(z[0, 1:]):  # the true class strictly ahead
            return step, z.numpy()[0]
    return None, z.numpy()[0]


step_budget = 50 if FAST else 200
recovery = {name: steps_to_recover(loss, step_budget) for name, loss in {"built-in": builtin, "ours": ours}.items()}
for name, (steps, logits) in recovery.items():
    if steps:
        outcome = f"the true class leads again after {steps} steps"
    else:
        outcome = f"the true class is still behind after {step_budget} steps"
    print(f"{name:8s}: {outcome}; logits now {np.array2string(np.round(logits, 3) + 0.0, precision=3)}")
if not FAST:
    assert recovery["built-in"][0] is None and np.array_equal(recovery["built-in"][1], wrong_by_20)
    assert recovery["ours"][0] is not None

# %% [markdown]
# With ours the logits walk steadily back, about $\alpha$ per step on each of the two
# leading classes; with the built-in they never move. In a network the same holds
# for every weight behind such an example: a confidently wrong example is
# ignored by the built-in for as long as it stays confidently wrong.
#
# The binary built-in, `keras.losses.BinaryFocalCrossentropy(from_logits=True)`, is
# computed from the logits on TensorFlow and does not saturate there; on the JAX and
# PyTorch backends it clips as well. `keras_losses.BinaryFocalLoss` and
# `SparseCategoricalFocalLoss` work in log space on every backend.
#
# ## Summary
#
# | situation | what to do |
# |---|---|
# | any imbalanced classifier | start the output bias at the positive rate: `bias_initializer=keras_losses.PriorProbability(rate)` with a small output kernel; it costs nothing and, here, saved most of the training time |
# | many easy negatives drown the hard examples | `keras_losses.BinaryFocalLoss(from_logits=True)` (γ = 2, α = 0.25, RetinaNet's setting); `alpha=None` for no class weight |
# | single-label classes | `SparseCategoricalFocalLoss(from_logits=True)` with integer labels, `CategoricalFocalLoss(from_logits=True)` with one-hot ones; both keep learning from confidently wrong examples, where `keras.losses.CategoricalFocalCrossentropy` stops |
# | judging the result | precision-recall and average precision, not accuracy; and not the focal loss's value, which changes scale with γ |
# | using the scores as probabilities | calibrate them: focal-trained scores are not probabilities |
#
# On our problem the focal loss ranked as well as cross-entropy and no better; try it
# where the imbalance is more extreme or the hard examples are few, and keep it only
# if the precision-recall curve says so. The prior start, on the other hand, is worth
# using everywhere.
