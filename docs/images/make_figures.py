"""Draws the figures of the guides (docs/*.md) into docs/images/.

    python docs/images/make_figures.py        # writes the three PNGs below

* `focal_curve.png` (docs/focal.md): the focal loss against the probability of the
  true class for several `gamma`, and how many times smaller than cross-entropy it is.
* `clip_logits.png` (docs/contrastive.md): a CLIP logit matrix for a batch of six
  pairs, and the two softmaxes `CLIPLoss` takes over it (rows and columns).
* `tree_path.png` (docs/hierarchical.md): a balanced tree over 8 classes with the
  path of one class, its codes, and the product of sigmoids that is its probability.

The values come from the library (`binary_focal_loss`, `ContrastiveLogits`,
`clip_loss`, `Tree`), so a figure shows what the code computes. Needs matplotlib
(the `tutorials` extra); any Keras backend.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import keras_losses  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def save(fig, name):
    path = os.path.join(HERE, name)
    fig.savefig(path, dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    print("wrote", os.path.relpath(path))


def focal_curve():
    p_t = np.linspace(0.001, 0.999, 999)
    positive = np.ones((len(p_t), 1))  # y = 1, so p_t is the predicted probability
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    ce = None
    colors = dict(zip((0.0, 0.5, 1.0, 2.0, 5.0), ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")))
    for gamma, color in colors.items():
        loss = np.asarray(
            keras_losses.binary_focal_loss(positive, p_t[:, None], gamma=gamma, alpha=None)
        )
        ce = loss if gamma == 0 else ce
        label = "gamma = 0 (cross-entropy)" if gamma == 0 else f"gamma = {gamma:g}"
        left.plot(p_t, loss, lw=2, label=label, color=color)
        if gamma > 0:
            right.plot(p_t, ce / loss, lw=2, label=label, color=color)
    left.axvspan(0.6, 1.0, color="tab:green", alpha=0.08)
    left.text(0.8, 1.5, "well classified", ha="center", color="tab:green")
    left.set(xlim=(0, 1), ylim=(0, 5), xlabel="p_t, the probability of the true class",
             ylabel="loss", title="FL(p_t) = -(1 - p_t)**gamma * log(p_t)")
    left.legend()
    right.set(xlim=(0, 1), ylim=(0.8, 1e5), yscale="log", xlabel="p_t", ylabel="cross-entropy / focal loss",
              title="how many times an example is down-weighted")
    right.axhline(100, color="grey", lw=0.8, ls=":")
    right.annotate("gamma = 2, p_t = 0.9: 100x", (0.9, 100), (0.3, 2000),
                   arrowprops={"arrowstyle": "->"})
    for ax in (left, right):
        ax.grid(alpha=0.3)
    save(fig, "focal_curve.png")


def clip_logits():
    rng = np.random.default_rng(4)
    n, d = 6, 16
    images = rng.normal(size=(n, d))
    texts = images + 0.9 * rng.normal(size=(n, d))  # a matching text is near its image
    texts[4] = images[3] + 0.5 * rng.normal(size=d)  # caption 4 also fits image 3: a hard negative
    layer = keras_losses.ContrastiveLogits(logit_scale=10.0, learn_scale=False)
    logits = np.asarray(layer([images.astype("float32"), texts.astype("float32")]))
    loss = np.asarray(keras_losses.clip_loss(np.arange(n), logits))
    rows = np.exp(logits - logits.max(1, keepdims=True))
    rows /= rows.sum(1, keepdims=True)
    columns = np.exp(logits - logits.max(0, keepdims=True))
    columns /= columns.sum(0, keepdims=True)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.4))
    panels = [
        (logits, "logits L = scale * cos(image_i, text_j)", "RdBu_r", (-10, 10)),
        (rows, "softmax over each row: image -> text", "Greens", (0, 1)),
        (columns, "softmax over each column: text -> image", "Purples", (0, 1)),
    ]
    for ax, (values, title, cmap, (low, high)) in zip(axes, panels):
        ax.imshow(values, cmap=cmap, vmin=low, vmax=high)
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f"{values[i, j]:.1f}" if values is logits else f"{values[i, j]:.2f}",
                        ha="center", va="center", fontsize=8)
            ax.add_patch(plt.Rectangle((i - 0.5, i - 0.5), 1, 1, fill=False, lw=2, ec="black"))
        ax.set(title=title, xlabel="text j", ylabel="image i", xticks=range(n), yticks=range(n))
    fig.suptitle(
        "CLIPLoss: the cross-entropy of the true pair (boxed) in its row and in its column, "
        "averaged.\nPer pair here: " + ", ".join(f"{value:.2f}" for value in loss)
        + " (caption 4 also fits image 3: a hard negative)",
        y=1.04,
    )
    save(fig, "clip_logits.png")


def tree_path(num_classes=8, target=5):
    tree = keras_losses.Tree.balanced(num_classes)
    children = tree.children  # (+1 child, -1 child); >= num_nodes is a class's leaf
    num_nodes = tree.num_nodes
    on_path = {(int(n), int(c)) for n, c in zip(tree.paths[target], tree.codes[target]) if c}
    position = {}

    def place(item, depth, counter):
        if item >= num_nodes:  # a leaf
            position[item] = (counter[0], -depth)
            counter[0] += 1
            return
        place(int(children[item, 1]), depth + 1, counter)  # -1 branch on the left
        place(int(children[item, 0]), depth + 1, counter)
        left, right = position[int(children[item, 1])], position[int(children[item, 0])]
        position[item] = ((left[0] + right[0]) / 2, -depth)

    place(tree.root, 0, [0])
    leaf_depth = min(y for _, y in position.values())
    fig, ax = plt.subplots(figsize=(11, 5))
    for node in range(num_nodes):
        for column, code in ((0, 1), (1, -1)):
            child = int(children[node, column])
            (x0, y0), (x1, y1) = position[node], position[child]
            if child >= num_nodes:
                y1 = leaf_depth
            highlighted = (node, code) in on_path
            ax.plot([x0, x1], [y0, y1], color="tab:red" if highlighted else "0.7",
                    lw=3 if highlighted else 1.2, zorder=1)
            label = f"sigmoid({'+' if code > 0 else '-'}z{node})" if highlighted else f"{code:+d}"
            ax.text((x0 + x1) / 2 + (0.08 if code > 0 else -0.08), (y0 + y1) / 2, label,
                    ha="left" if code > 0 else "right", va="center", fontsize=9,
                    color="tab:red" if highlighted else "0.4")
    for item, (x, y) in position.items():
        if item < num_nodes:
            ax.scatter([x], [y], s=700, color="tab:blue", zorder=2)
            ax.text(x, y, f"n{item}", ha="center", va="center", color="white", fontsize=10, zorder=3)
        else:
            c = item - num_nodes
            ax.scatter([x], [leaf_depth], s=700, marker="s", zorder=2,
                       color="tab:red" if c == target else "tab:gray")
            ax.text(x, leaf_depth, f"{c}", ha="center", va="center", color="white", fontsize=10, zorder=3)
    nodes = [int(n) for n, c in zip(tree.paths[target], tree.codes[target]) if c]
    codes = [int(c) for c in tree.codes[target] if c]
    product = " * ".join(f"sigmoid({'+' if c > 0 else '-'}z{n})" for n, c in zip(nodes, codes))
    ax.set_title(
        f"Tree.balanced({num_classes}): class {target} has path {nodes}, codes {codes}\n"
        f"p(class {target}) = {product}",
        fontsize=11,
    )
    ax.axis("off")
    save(fig, "tree_path.png")


if __name__ == "__main__":
    focal_curve()
    clip_logits()
    tree_path()
