"""Metric-learning losses: triplets, pairs, lifted structure, multi-similarity, SupCon.

The mining losses (`TripletLoss`, `LiftedStructLoss`, `MultiSimilarityLoss`,
`SupervisedContrastiveLoss`) take integer class ids `y_true (batch,)` and embeddings
`y_pred (batch, d)`. Every example is an anchor; its positives are the other
examples of its class, its negatives the examples of other classes. Ids are
compared as integers, before Keras casts `y_true` to float (as the contrastive
losses compare pair ids), so ids beyond 2**24 stay distinct.

Each loss returns one value per anchor, scaled so that the mean over the batch is
the loss of its paper: a `(batch,)` `sample_weight` then weighs anchors. An anchor
with no positive or no negative in the batch contributes nothing (neither to the
sum nor to the count the mean divides by); a batch without any valid anchor gives 0
with a zero gradient. TensorFlow Addons differs there: it counts such anchors with a
zero positive distance, which makes a one-class batch cost `margin + d` instead of 0.

With `across_replicas=True` under `tf.distribute`, each replica gathers the ids and
embeddings of every replica (with gradient, as `ContrastiveLogits` does) and mines
its own anchors' positives and negatives from the global batch, so that R replicas
compute exactly what one device computes on the concatenated batch. With one
replica, outside a strategy, and on JAX (whose `DataParallel` already shows the
loss the global batch) it is the plain form.

Pairwise distances are safe at zero: identical embeddings give finite gradients for
every distance (the square root is taken only of positive squared distances).
"""

import keras
from keras import ops

from keras_losses import _backend
from keras_losses import _inputs
from keras_losses import _validation
from keras_losses.losses.base import Loss
from keras_losses.losses.contrastive import _halves
from keras_losses.losses.contrastive import _pair_ids
from keras_losses.losses.contrastive import _pair_matches
from keras_losses.losses.contrastive import _soft_cross_entropy

MINING = ("semi_hard", "hard", "all")
DISTANCES = ("euclidean", "squared_euclidean", "cosine")
# Fills masked cells before a logsumexp: exp() of it is 0 in float32 and float64.
_VERY_NEGATIVE = -1e30


# -- the batch: ids, embeddings, who is whose positive -----------------------------


def _embeddings(y_pred):
    x = _inputs.floats(y_pred)
    if len(x.shape) != 2:
        raise ValueError(
            f"`y_pred` must hold one embedding per example, shape (batch, d); received "
            f"shape {tuple(x.shape)}."
        )
    return x


def _same_class(y_true, y_pred, *, across_replicas=False):
    """The exact 0/1 matrix `(n, n_global)`: 1 where anchor i and example j share a class.

    Ids are compared as integers here, before any float cast; across replicas the
    columns are the gathered global batch, in replica order.
    """
    ids = _pair_ids(y_true)
    shape = tuple(y_pred.shape)
    if len(shape) != 2:
        raise ValueError(
            f"`y_pred` must hold one embedding per example, shape (batch, d); received "
            f"shape {shape}."
        )
    if ids.shape[0] is not None and shape[0] is not None and ids.shape[0] != shape[0]:
        raise ValueError(
            f"Shapes of `y_true` {tuple(ids.shape)} and `y_pred` {shape} are incompatible: "
            "`y_true` must hold one class id per row of `y_pred`."
        )
    all_ids = _backend.all_gather(ids) if across_replicas else ids
    same = ops.equal(ops.expand_dims(ids, 1), ops.expand_dims(all_ids, 0))
    return ops.cast(same, _inputs.compute_dtype(y_pred))


class _Batch:
    """Embeddings of the anchors and of the (global) batch, and the masks between them."""

    def __init__(self, same, y_pred, across_replicas):
        self.x = _embeddings(y_pred)
        self.all_x = _backend.all_gather(self.x) if across_replicas else self.x
        n = ops.shape(self.x)[0]
        # Self: the column of each anchor in the global batch, found by gathering
        # (replica, position) pairs, which holds for uneven splits too.
        position = ops.arange(n, dtype="int32")
        replica = ops.zeros_like(position) + ops.cast(_backend.replica_id(), "int32")
        if across_replicas:
            all_position = _backend.all_gather(position)
            all_replica = _backend.all_gather(replica)
        else:
            all_position, all_replica = position, replica
        self.self_mask = ops.logical_and(
            ops.equal(ops.expand_dims(position, 1), ops.expand_dims(all_position, 0)),
            ops.equal(ops.expand_dims(replica, 1), ops.expand_dims(all_replica, 0)),
        )
        same = ops.greater(ops.cast(same, self.x.dtype), 0.5)
        self.positives = ops.logical_and(same, ops.logical_not(self.self_mask))
        self.negatives = ops.logical_not(same)
        self.has_positive = ops.any(self.positives, axis=1)
        self.has_negative = ops.any(self.negatives, axis=1)
        self.valid = ops.logical_and(self.has_positive, self.has_negative)
        self.size = ops.cast(ops.shape(self.all_x)[0], self.x.dtype)
        self.across_replicas = across_replicas

    def per_anchor(self, sums, count):
        """Values whose mean over the (global) batch is `sum(sums) / count`.

        `count` (this replica's share) is summed over the replicas when mining
        across them. A zero count means no valid term: every sum is then 0, and so
        are the values and their gradient.
        """
        count = ops.cast(count, self.x.dtype)
        if self.across_replicas:
            count = _backend.sum_over_replicas(count)
        count = ops.stop_gradient(ops.maximum(count, 1.0))
        return sums * (self.size / count)


def _l2_normalize(x):
    # x / max(|x|, 1e-6): finite value and gradient at x = 0.
    return x * ops.rsqrt(ops.maximum(ops.sum(ops.square(x), axis=1, keepdims=True), 1e-12))


def _distances(batch, distance):
    """Pairwise distances `(n, n_global)`, 0 on each anchor's own column."""
    x, all_x = batch.x, batch.all_x
    if distance == "cosine":
        similarity = ops.matmul(_l2_normalize(x), ops.transpose(_l2_normalize(all_x)))
        d = ops.maximum(1.0 - similarity, 0.0)
    else:
        # |a - b|^2 = |a|^2 + |b|^2 - 2 a.b, clamped at 0 against rounding.
        squared = (
            ops.sum(ops.square(x), axis=1, keepdims=True)
            + ops.expand_dims(ops.sum(ops.square(all_x), axis=1), 0)
            - 2.0 * ops.matmul(x, ops.transpose(all_x))
        )
        squared = ops.maximum(squared, 0.0)
        if distance == "squared_euclidean":
            d = squared
        else:
            # sqrt only of positive values: the gradient at a zero distance is 0, not inf.
            positive = ops.greater(squared, 0.0)
            d = ops.where(positive, ops.sqrt(ops.where(positive, squared, 1.0)), 0.0)
    return ops.where(batch.self_mask, 0.0, d)


def _masked_logsumexp(z, mask):
    """logsumexp over the masked cells of each row (rows without one: a very negative
    finite value); masked-out cells get a zero gradient."""
    return ops.logsumexp(ops.where(mask, z, _VERY_NEGATIVE), axis=1)


# -- triplets ----------------------------------------------------------------------


def _sorted_negatives(d, negatives):
    """Each anchor's negative distances in ascending order (differentiable), the
    same order as search keys (non-negatives last, as +inf), and their count."""
    key = ops.stop_gradient(ops.where(negatives, d, float("inf")))
    order = ops.argsort(key, axis=1)
    sorted_key = ops.take_along_axis(key, order, axis=1)
    sorted_d = ops.take_along_axis(ops.where(negatives, d, 0.0), order, axis=1)
    count = ops.sum(ops.cast(negatives, "int32"), axis=1)
    return sorted_d, sorted_key, count


def _semi_hard(batch, d, margin, soft):
    """FaceNet's semi-hard negatives with TFA's choice and fallback, in O(n^2) memory.

    For each anchor-positive pair: the closest negative farther than the positive
    (d_an > d_ap); where none is, the farthest negative. Found by a binary search of
    d_ap in the anchor's sorted negative distances, instead of TFA's
    (n^2, n) comparison tensor.
    """
    if d.shape[0] == 0:
        # An empty batch (static shape): Keras's TF `take_along_axis` rejects the
        # (0, 0) indices below, and there is nothing to mine.
        return ops.zeros((0,), d.dtype)
    sorted_d, sorted_key, count = _sorted_negatives(d, batch.negatives)
    # How many negatives are <= d_ap: the next one is the first farther than d_ap.
    k = _backend.searchsorted(sorted_key, ops.stop_gradient(d), side="right")
    columns = ops.shape(d)[1]
    farther = ops.less(k, ops.expand_dims(count, 1))
    outside = ops.take_along_axis(sorted_d, ops.minimum(k, columns - 1), axis=1)
    last = ops.expand_dims(ops.maximum(count - 1, 0), 1)
    inside = ops.take_along_axis(sorted_d, last, axis=1)  # the farthest negative
    d_an = ops.where(farther, outside, inside)
    if soft:
        losses = ops.softplus(d - d_an)
    else:
        losses = ops.relu(margin + d - d_an)
    pairs = ops.logical_and(batch.positives, ops.expand_dims(batch.has_negative, 1))
    sums = ops.sum(ops.where(pairs, losses, 0.0), axis=1)
    return batch.per_anchor(sums, ops.sum(ops.cast(pairs, "int32")))


def _batch_hard(batch, d, margin, soft):
    """Hermans et al.'s batch-hard triplet: the farthest positive, the closest negative."""
    # `initial` changes no value (distances are >= 0, the fill is the row maximum) but
    # lets an empty batch through (Keras refuses the max of an empty tensor).
    hardest_positive = ops.max(ops.where(batch.positives, d, 0.0), axis=1, initial=0.0)
    # Non-negatives filled with the row maximum, which no negative's minimum exceeds.
    fill = ops.stop_gradient(ops.max(d, axis=1, keepdims=True, initial=0.0))
    hardest_negative = ops.min(ops.where(batch.negatives, d, fill), axis=1, initial=float("inf"))
    if soft:
        losses = ops.softplus(hardest_positive - hardest_negative)
    else:
        losses = ops.relu(margin + hardest_positive - hardest_negative)
    sums = ops.where(batch.valid, losses, 0.0)
    return batch.per_anchor(sums, ops.sum(ops.cast(batch.valid, "int32")))


def _all_triplets(batch, d, margin):
    """The mean of max(0, margin + d_ap - d_an) over the triplets where it is positive.

    For each anchor-positive pair the k negatives with d_an < margin + d_ap are a
    prefix of the sorted negatives, so their sum is k * (margin + d_ap) minus a
    prefix sum: O(n^2 log n) time and O(n^2) memory, no (n, n, n) tensor.
    """
    sorted_d, sorted_key, _ = _sorted_negatives(d, batch.negatives)
    threshold = margin + d
    k = _backend.searchsorted(sorted_key, ops.stop_gradient(threshold), side="left")
    prefix = ops.concatenate(
        [ops.zeros_like(sorted_d[:, :1]), ops.cumsum(sorted_d, axis=1)], axis=1
    )
    below = ops.take_along_axis(prefix, k, axis=1)
    k_float = ops.cast(k, d.dtype)
    totals = k_float * threshold - below
    sums = ops.sum(ops.where(batch.positives, totals, 0.0), axis=1)
    count = ops.sum(ops.where(batch.positives, k, 0))
    return batch.per_anchor(sums, count)


def _triplet_from_same(same, y_pred, margin, mining, distance, soft, across_replicas):
    batch = _Batch(same, y_pred, across_replicas)
    d = _distances(batch, distance)
    if mining == "semi_hard":
        return _semi_hard(batch, d, margin, soft)
    if mining == "hard":
        return _batch_hard(batch, d, margin, soft)
    return _all_triplets(batch, d, margin)


def _check_triplet_arguments(margin, mining, distance, soft):
    margin = _validation.non_negative_float("margin", margin)
    mining = _validation.one_of("mining", mining, MINING)
    distance = _validation.one_of("distance", distance, DISTANCES)
    soft = _validation.boolean("soft", soft)
    if soft and mining == "all":
        raise _validation.invalid(
            "soft", "False with mining='all' (the soft margin is for 'semi_hard' and 'hard')", soft
        )
    return margin, mining, distance, soft


# -- the other mining losses, from the same-class matrix ----------------------------


def _lifted_from_same(same, y_pred, margin, across_replicas):
    batch = _Batch(same, y_pred, across_replicas)
    d = _distances(batch, "euclidean")
    # log sum_{k in N(i)} exp(margin - D_ik), for the anchors and for every column.
    row = _masked_logsumexp(margin - d, batch.negatives)
    row_all = _backend.all_gather(row) if across_replicas else row
    has_negative_all = batch.has_negative
    if across_replicas:  # collectives take numbers, not booleans
        gathered = _backend.all_gather(ops.cast(batch.has_negative, "int32"))
        has_negative_all = ops.greater(gathered, 0)
    # J_ij = log(sum_{N(i)} e^(m - D_ik) + sum_{N(j)} e^(m - D_jl)) + D_ij
    j = ops.logaddexp(ops.expand_dims(row, 1), ops.expand_dims(row_all, 0)) + d
    pairs = ops.logical_and(
        batch.positives,
        ops.logical_and(
            ops.expand_dims(batch.has_negative, 1), ops.expand_dims(has_negative_all, 0)
        ),
    )
    # 1/(2|P|) sum over unordered pairs of max(0, J)^2 = (1/2) mean over ordered pairs.
    sums = 0.5 * ops.sum(ops.where(pairs, ops.square(ops.relu(j)), 0.0), axis=1)
    return batch.per_anchor(sums, ops.sum(ops.cast(pairs, "int32")))


def _multi_similarity_from_same(same, y_pred, alpha, beta, base, epsilon, across_replicas):
    batch = _Batch(same, y_pred, across_replicas)
    s = ops.matmul(_l2_normalize(batch.x), ops.transpose(_l2_normalize(batch.all_x)))
    # Cosine similarities lie in [-1, 1]: +-2 fill the cells a min or max must skip.
    # (`initial`, the same fill, lets an empty batch through.)
    hardest_positive = ops.min(ops.where(batch.positives, s, 2.0), axis=1, keepdims=True, initial=2.0)
    hardest_negative = ops.max(ops.where(batch.negatives, s, -2.0), axis=1, keepdims=True, initial=-2.0)
    mined_negatives = ops.logical_and(batch.negatives, ops.greater(s + epsilon, hardest_positive))
    mined_positives = ops.logical_and(batch.positives, ops.less(s - epsilon, hardest_negative))

    def soft_sum(z, mask):
        # log(1 + sum_mask exp(z)) = softplus(logsumexp_mask(z)); 0 for an empty mask.
        value = ops.softplus(_masked_logsumexp(z, mask))
        return ops.where(ops.any(mask, axis=1), value, 0.0)

    positive_term = soft_sum(-alpha * (s - base), mined_positives) / alpha
    negative_term = soft_sum(beta * (s - base), mined_negatives) / beta
    sums = ops.where(batch.valid, positive_term + negative_term, 0.0)
    return batch.per_anchor(sums, ops.sum(ops.cast(batch.valid, "int32")))


def _supervised_contrastive_from_same(same, y_pred, temperature, across_replicas):
    batch = _Batch(same, y_pred, across_replicas)
    z = _l2_normalize(batch.x)
    all_z = _l2_normalize(batch.all_x)
    logits = ops.matmul(z, ops.transpose(all_z)) / temperature
    # -mean_{p in P(i)} log softmax_{a != i}(logits_i)_p
    #   = logsumexp_{a != i} logits_ia - mean_{p in P(i)} logits_ip
    others = _masked_logsumexp(logits, ops.logical_not(batch.self_mask))
    positives = ops.cast(batch.positives, logits.dtype)
    count = ops.maximum(ops.sum(positives, axis=1), 1.0)
    losses = others - ops.sum(positives * logits, axis=1) / count
    sums = ops.where(batch.valid, losses, 0.0)
    return batch.per_anchor(sums, ops.sum(ops.cast(batch.valid, "int32")))


# -- pure functions ----------------------------------------------------------------


@keras.saving.register_keras_serializable(package="keras_losses")
def triplet_loss(
    y_true, y_pred, *, margin=1.0, mining="semi_hard", distance="euclidean", soft=False,
    across_replicas=False,
):
    """Triplet loss with in-batch mining: semi-hard (FaceNet, TFA), batch-hard, or all.

    For anchor `a`, positive `p` (same class, not `a`) and negative `n` (another
    class), with `d` the chosen distance:

        semi_hard: per pair (a, p), n = the closest negative with d_an > d_ap, or the
                   farthest negative if none is farther than the positive (TFA's
                   fallback); loss = mean over pairs of max(0, margin + d_ap - d_an)
        hard:      per anchor, max(0, margin + max_p d_ap - min_n d_an); mean over anchors
        all:       mean of max(0, margin + d_ap - d_an) over the triplets where it is > 0

    `soft=True` replaces `max(0, margin + x)` with `softplus(x)` (Hermans et al.'s
    soft margin; `margin` is then unused), for `"semi_hard"` and `"hard"`.

    One value per anchor is returned, scaled so that its mean over the batch is the
    loss above: `sample_weight` weighs anchors. Anchors without a positive or a
    negative contribute nothing; a batch with no valid triplet gives 0 with a zero
    gradient. Semi-hard and all-triplet mining run in O(batch^2) memory.

    Args:
        y_true: integer class ids `(batch,)` (or `(batch, 1)`), compared exactly.
        y_pred: embeddings `(batch, d)`; TFA expects them L2-normalised, as FaceNet
            does (for example with `keras.layers.UnitNormalization()`).
        margin: non-negative float, the margin between positive and negative distances.
        mining: `"semi_hard"` (TFA `TripletSemiHardLoss`), `"hard"` (TFA
            `TripletHardLoss`) or `"all"`.
        distance: `"euclidean"` (TFA "L2"), `"squared_euclidean"` (TFA "squared-L2")
            or `"cosine"` (1 - cosine similarity, TFA "angular").
        soft: soft margin, for `"semi_hard"` and `"hard"`.
        across_replicas: mine positives and negatives from the global batch under
            `tf.distribute` (see the module docstring).

    Returns:
        Float tensor `(batch,)`, one value per anchor.

    Example:

    >>> import numpy as np
    >>> ids = np.array([0, 0, 1])
    >>> x = np.array([[0.0, 0.0], [0.0, 1.0], [0.0, 1.5]])
    >>> # The pairs (0, 1) and (1, 0) have d_ap = 1; their negative (2) is at 1.5 and 0.5.
    >>> values = triplet_loss(ids, x, margin=1.0)
    >>> print(f"{float(np.mean(values)):.4f}")  # ((1 + 1 - 1.5) + (1 + 1 - 0.5)) / 2
    1.0000

    References:
        Schroff et al., 2015, "FaceNet: A Unified Embedding for Face Recognition and
        Clustering", https://arxiv.org/abs/1503.03832
        Hermans et al., 2017, "In Defense of the Triplet Loss for Person
        Re-Identification", https://arxiv.org/abs/1703.07737
    """
    margin, mining, distance, soft = _check_triplet_arguments(margin, mining, distance, soft)
    across_replicas = _validation.boolean("across_replicas", across_replicas)
    y_pred = ops.convert_to_tensor(y_pred)
    same = _same_class(y_true, y_pred, across_replicas=across_replicas)
    return _triplet_from_same(same, y_pred, margin, mining, distance, soft, across_replicas)


@keras.saving.register_keras_serializable(package="keras_losses")
def contrastive_pair_loss(y_true, y_pred, *, margin=1.0):
    """Contrastive loss of Hadsell et al. on pair distances (TFA `contrastive_loss`).

        loss = y * d^2 + (1 - y) * max(0, margin - d)^2

    averaged over the last axis, with `y = 1` for a similar pair and `0` for a
    dissimilar one, `d` the distance between the pair's embeddings.

    Args:
        y_true: `(batch,)` or `(batch, k)`, 1 for similar pairs, 0 for dissimilar ones.
        y_pred: the pairs' distances, the shape of `y_true` (a trailing axis of 1 on
            either side is reconciled, as Keras does).
        margin: non-negative float: dissimilar pairs farther apart cost nothing.

    Returns:
        Float tensor `(batch,)`.

    Example:

    >>> import numpy as np
    >>> loss = contrastive_pair_loss(np.array([1.0, 0.0]), np.array([0.5, 0.25]))
    >>> [round(float(v), 4) for v in loss]  # [0.5^2, (1 - 0.25)^2]
    [0.25, 0.5625]

    References:
        Hadsell, Chopra and LeCun, 2006, "Dimensionality Reduction by Learning an
        Invariant Mapping", https://doi.org/10.1109/CVPR.2006.100
    """
    margin = _validation.non_negative_float("margin", margin)
    y_true, y_pred = _inputs.dense_pair(y_true, y_pred)
    losses = y_true * ops.square(y_pred) + (1.0 - y_true) * ops.square(ops.relu(margin - y_pred))
    return ops.mean(losses, axis=-1)


@keras.saving.register_keras_serializable(package="keras_losses")
def npairs_loss(y_true, y_pred, *, across_replicas=False):
    """Sohn's N-pair loss on a similarity matrix (TFA `npairs_loss`).

    `y_pred[i, j]` is the similarity of anchor `i` and positive example `j` (for
    example `anchors @ positives.T`). Row `i` is a softmax over the positives whose
    target is spread evenly over the columns of `i`'s class:

        loss_i = logsumexp_j y_pred[i, j] - mean_{j: id_j = id_i} y_pred[i, j]

    For one pair per class this is `log(1 + sum_{j != i} exp(f_i.f+_j - f_i.f+_i))`.
    TFA's loss is the mean over the rows; Sohn also adds an L2 penalty on the
    embeddings, which is left to the model here (as TFA does).

    Args:
        y_true: integer class ids `(n,)` (or `(n, 1)`), compared exactly.
        y_pred: similarities `(n, n)`. With `across_replicas=True`: this replica's
            `(n, 2 * n_global)` block from `ContrastiveLogits(across_replicas=True)`,
            of which the first `n_global` columns (anchors against the positives of
            the global batch) are used.
        across_replicas: score each anchor against the positives of the global batch
            under `tf.distribute`.

    Returns:
        Float tensor `(n,)`, one value per anchor.

    Example:

    >>> import numpy as np
    >>> f = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    >>> loss = npairs_loss(np.arange(4), f @ f.T)
    >>> print(f"{float(loss[0]):.6f}")  # log(1 + 2 exp(-2) + exp(-4)), TFA's test
    0.253856

    References:
        Sohn, 2016, "Improved Deep Metric Learning with Multi-class N-pair Loss
        Objective", NeurIPS, https://papers.nips.cc/paper/6200
    """
    across_replicas = _validation.boolean("across_replicas", across_replicas)
    y_pred = ops.convert_to_tensor(y_pred)
    matches = _pair_matches(y_true, y_pred, across_replicas=across_replicas)
    return _npairs_from_matches(matches, y_pred, across_replicas)


def _npairs_from_matches(matches, logits, across_replicas):
    logits = _inputs.floats(logits)
    matches = ops.cast(matches, logits.dtype)
    if across_replicas:
        logits = _halves(logits)[0]
    return _soft_cross_entropy(matches, logits, axis=1)


@keras.saving.register_keras_serializable(package="keras_losses")
def lifted_struct_loss(y_true, y_pred, *, margin=1.0, across_replicas=False):
    """Lifted structured loss of Oh Song et al. (TFA `lifted_struct_loss`).

    For each positive pair (i, j), with Euclidean distances D and negatives N(.):

        J_ij = log(sum_{k in N(i)} exp(margin - D_ik) + sum_{l in N(j)} exp(margin - D_jl)) + D_ij
        loss = 1 / (2 |P|) * sum over positive pairs {i, j} of max(0, J_ij)^2

    One value per anchor is returned, scaled so that its mean is this loss. Computed
    in log space (`logsumexp`, `logaddexp`).

    Args:
        y_true: integer class ids `(batch,)` (or `(batch, 1)`), compared exactly.
        y_pred: embeddings `(batch, d)` (not normalised, as in the paper).
        margin: non-negative float.
        across_replicas: mine from the global batch under `tf.distribute`.

    Returns:
        Float tensor `(batch,)`, one value per anchor.

    Example:

    >>> import numpy as np
    >>> ids = np.array([0, 0, 1])
    >>> x = np.array([[0.0], [1.0], [3.0]])
    >>> values = lifted_struct_loss(ids, x, margin=1.0)
    >>> # J_01 = log(e^(1-3) + e^(1-2)) + 1; the loss is J_01^2 / 2
    >>> j = np.log(np.exp(-2.0) + np.exp(-1.0)) + 1.0
    >>> bool(np.isclose(np.mean(values), j**2 / 2))
    True

    References:
        Oh Song et al., 2016, "Deep Metric Learning via Lifted Structured Feature
        Embedding", https://arxiv.org/abs/1511.06452
    """
    margin = _validation.non_negative_float("margin", margin)
    across_replicas = _validation.boolean("across_replicas", across_replicas)
    y_pred = ops.convert_to_tensor(y_pred)
    same = _same_class(y_true, y_pred, across_replicas=across_replicas)
    return _lifted_from_same(same, y_pred, margin, across_replicas)


def _check_multi_similarity_arguments(alpha, beta, base, epsilon):
    return (
        _validation.positive_float("alpha", alpha),
        _validation.positive_float("beta", beta),
        _validation.finite_float("base", base),
        _validation.non_negative_float("epsilon", epsilon),
    )


@keras.saving.register_keras_serializable(package="keras_losses")
def multi_similarity_loss(
    y_true, y_pred, *, alpha=2.0, beta=50.0, base=0.5, epsilon=0.1, across_replicas=False
):
    """Multi-similarity loss of Wang et al. 2019, with its pair mining.

    With cosine similarities `S` of the L2-normalised embeddings, for anchor i:
    negatives are kept where `S_ik + epsilon > min_{positives} S_ij`, positives where
    `S_ij - epsilon < max_{negatives} S_ik`, and

        loss_i = 1/alpha * log(1 + sum_{kept positives} exp(-alpha * (S_ij - base)))
               + 1/beta  * log(1 + sum_{kept negatives} exp(beta * (S_ik - base)))

    The mean over the anchors (those with a positive and a negative; an anchor whose
    mining keeps nothing counts 0) is the loss. Computed in log space.

    Args:
        y_true: integer class ids `(batch,)` (or `(batch, 1)`), compared exactly.
        y_pred: embeddings `(batch, d)`, normalised inside.
        alpha: positive float, the positives' scale (2 in the paper).
        beta: positive float, the negatives' scale (50).
        base: float, the similarity offset lambda (0.5; 1.0 in some code).
        epsilon: non-negative float, the mining margin (0.1).
        across_replicas: mine from the global batch under `tf.distribute`.

    Returns:
        Float tensor `(batch,)`, one value per anchor.

    Example:

    >>> import numpy as np
    >>> ids = np.array([0, 0, 1, 1])
    >>> x = np.array([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0]])
    >>> # Classes well apart: no pair is within epsilon of the other kind, none is mined.
    >>> float(np.max(multi_similarity_loss(ids, x)))
    0.0
    >>> # Class 1 moved next to class 0: every pair is mined.
    >>> x[2:] = [[1.0, 0.05], [0.9, 0.1]]
    >>> bool(np.all(multi_similarity_loss(ids, x) > 0.5))
    True

    References:
        Wang et al., 2019, "Multi-Similarity Loss with General Pair Weighting for
        Deep Metric Learning", https://arxiv.org/abs/1904.06627
    """
    alpha, beta, base, epsilon = _check_multi_similarity_arguments(alpha, beta, base, epsilon)
    across_replicas = _validation.boolean("across_replicas", across_replicas)
    y_pred = ops.convert_to_tensor(y_pred)
    same = _same_class(y_true, y_pred, across_replicas=across_replicas)
    return _multi_similarity_from_same(same, y_pred, alpha, beta, base, epsilon, across_replicas)


@keras.saving.register_keras_serializable(package="keras_losses")
def supervised_contrastive_loss(y_true, y_pred, *, temperature=0.1, across_replicas=False):
    """Supervised contrastive loss of Khosla et al. 2020 (their L_out).

    With `z` the L2-normalised embeddings and every other example of the same class
    a positive, for anchor i:

        loss_i = -1/|P(i)| * sum_{p in P(i)} log( exp(z_i.z_p / t) / sum_{a != i} exp(z_i.z_a / t) )

    Repeated classes are handled as the CLIP loss handles repeated ids: the target is
    spread evenly over the positives. Several views of one image are several rows
    with the same id. The mean over the anchors that have a positive (and a
    negative) is the loss. Computed in log space.

    Args:
        y_true: integer class ids `(batch,)` (or `(batch, 1)`), compared exactly.
        y_pred: embeddings `(batch, d)`, normalised inside.
        temperature: positive float (0.1 in the paper).
        across_replicas: contrast against the global batch under `tf.distribute`.

    Returns:
        Float tensor `(batch,)`, one value per anchor.

    Example:

    >>> import numpy as np
    >>> ids = np.array([0, 0, 1, 1])
    >>> x = np.ones((4, 3))  # all equal: every softmax is uniform over 3 others
    >>> print(f"{float(np.mean(supervised_contrastive_loss(ids, x))):.4f}")  # log(3)
    1.0986

    References:
        Khosla et al., 2020, "Supervised Contrastive Learning",
        https://arxiv.org/abs/2004.11362
    """
    temperature = _validation.positive_float("temperature", temperature)
    across_replicas = _validation.boolean("across_replicas", across_replicas)
    y_pred = ops.convert_to_tensor(y_pred)
    same = _same_class(y_true, y_pred, across_replicas=across_replicas)
    return _supervised_contrastive_from_same(same, y_pred, temperature, across_replicas)


# -- classes -----------------------------------------------------------------------


class _MiningLoss(Loss):
    """Class ids to the exact same-class matrix before Keras's float cast: `function`
    takes that matrix in place of `y_true`."""

    def prepare(self, y_true, y_pred):
        return _same_class(y_true, y_pred, across_replicas=self.across_replicas), y_pred


@keras.saving.register_keras_serializable(package="keras_losses")
class TripletLoss(_MiningLoss):
    """Triplet loss with semi-hard, batch-hard or all-triplet mining in the batch.

    See `triplet_loss`. `y_true`: integer class ids `(batch,)`; `y_pred`: embeddings
    `(batch, d)`. `TripletLoss()` is TFA's `TripletSemiHardLoss()`;
    `TripletLoss(mining="hard", soft=...)` is `TripletHardLoss`; `distance` takes
    `"euclidean"`, `"squared_euclidean"`, `"cosine"` for TFA's `"L2"`,
    `"squared-L2"`, `"angular"`. Batches need several examples per class (see the
    metric-learning guide). One value per anchor, so a `(batch,)` `sample_weight`
    weighs anchors.

    Example:

    >>> import keras
    >>> model = keras.Sequential([
    ...     keras.Input((16,)), keras.layers.Dense(8), keras.layers.UnitNormalization()
    ... ])
    >>> model.compile(optimizer="adam", loss=TripletLoss(margin=0.5))  # y: class ids
    """

    function = staticmethod(_triplet_from_same)

    def __init__(
        self,
        margin=1.0,
        mining="semi_hard",
        distance="euclidean",
        soft=False,
        across_replicas=False,
        reduction="sum_over_batch_size",
        name="triplet_loss",
        dtype=None,
    ):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.across_replicas = _validation.boolean("across_replicas", across_replicas)
        self.margin, self.mining, self.distance, self.soft = _check_triplet_arguments(
            margin, mining, distance, soft
        )


@keras.saving.register_keras_serializable(package="keras_losses")
class ContrastivePairLoss(Loss):
    """Contrastive loss on pair distances (Hadsell et al. 2006, TFA `ContrastiveLoss`).

    See `contrastive_pair_loss`. `y_true`: 1 for similar pairs, 0 for dissimilar
    ones; `y_pred`: the distance between each pair's embeddings.

    Example:

    >>> import numpy as np
    >>> loss = ContrastivePairLoss(margin=1.0)
    >>> y_true = np.array([0.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    >>> d = np.array([0.1, 0.3, 1.3, 0.7, 1.1, 0.5])
    >>> print(f"{float(loss(y_true, d)):.6f}")  # TFA's test: (0.81+0.49+1.69+0.49+0+0.25)/6
    0.621667
    """

    function = staticmethod(contrastive_pair_loss)

    def __init__(
        self, margin=1.0, reduction="sum_over_batch_size", name="contrastive_pair_loss", dtype=None
    ):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.margin = _validation.non_negative_float("margin", margin)


@keras.saving.register_keras_serializable(package="keras_losses")
class NPairsLoss(Loss):
    """Sohn's N-pair loss on the anchors-by-positives similarity matrix (TFA `NpairsLoss`).

    See `npairs_loss`. `y_true`: integer class ids `(n,)`; `y_pred`: the `(n, n)`
    similarities of the anchors (rows) and their positives (columns).

    Example:

    >>> import keras
    >>> anchors, positives = keras.Input((16,)), keras.Input((16,))
    >>> tower = keras.layers.Dense(8)
    >>> logits = keras.ops.matmul(tower(anchors), keras.ops.transpose(tower(positives)))
    >>> model = keras.Model([anchors, positives], logits)
    >>> model.compile(optimizer="adam", loss=NPairsLoss())  # y: class ids
    """

    function = staticmethod(_npairs_from_matches)

    def __init__(
        self, across_replicas=False, reduction="sum_over_batch_size", name="npairs_loss", dtype=None
    ):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.across_replicas = _validation.boolean("across_replicas", across_replicas)

    def prepare(self, y_true, y_pred):
        return _pair_matches(y_true, y_pred, across_replicas=self.across_replicas), y_pred


@keras.saving.register_keras_serializable(package="keras_losses")
class LiftedStructLoss(_MiningLoss):
    """Lifted structured loss (Oh Song et al. 2016, TFA `LiftedStructLoss`).

    See `lifted_struct_loss`. `y_true`: integer class ids `(batch,)`; `y_pred`:
    embeddings `(batch, d)`.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(8)])
    >>> model.compile(optimizer="adam", loss=LiftedStructLoss(margin=1.0))
    """

    function = staticmethod(_lifted_from_same)

    def __init__(
        self,
        margin=1.0,
        across_replicas=False,
        reduction="sum_over_batch_size",
        name="lifted_struct_loss",
        dtype=None,
    ):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.across_replicas = _validation.boolean("across_replicas", across_replicas)
        self.margin = _validation.non_negative_float("margin", margin)


@keras.saving.register_keras_serializable(package="keras_losses")
class MultiSimilarityLoss(_MiningLoss):
    """Multi-similarity loss with its pair mining (Wang et al. 2019).

    See `multi_similarity_loss`. `y_true`: integer class ids `(batch,)`; `y_pred`:
    embeddings `(batch, d)`, normalised inside.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(8)])
    >>> model.compile(optimizer="adam", loss=MultiSimilarityLoss())
    """

    function = staticmethod(_multi_similarity_from_same)

    def __init__(
        self,
        alpha=2.0,
        beta=50.0,
        base=0.5,
        epsilon=0.1,
        across_replicas=False,
        reduction="sum_over_batch_size",
        name="multi_similarity_loss",
        dtype=None,
    ):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.across_replicas = _validation.boolean("across_replicas", across_replicas)
        self.alpha, self.beta, self.base, self.epsilon = _check_multi_similarity_arguments(
            alpha, beta, base, epsilon
        )


@keras.saving.register_keras_serializable(package="keras_losses")
class SupervisedContrastiveLoss(_MiningLoss):
    """Supervised contrastive loss (Khosla et al. 2020).

    See `supervised_contrastive_loss`. `y_true`: integer class ids `(batch,)`;
    `y_pred`: embeddings `(batch, d)` (a projection head's output), normalised inside.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(8)])
    >>> model.compile(optimizer="adam", loss=SupervisedContrastiveLoss(temperature=0.1))
    """

    function = staticmethod(_supervised_contrastive_from_same)

    def __init__(
        self,
        temperature=0.1,
        across_replicas=False,
        reduction="sum_over_batch_size",
        name="supervised_contrastive_loss",
        dtype=None,
    ):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.across_replicas = _validation.boolean("across_replicas", across_replicas)
        self.temperature = _validation.positive_float("temperature", temperature)
