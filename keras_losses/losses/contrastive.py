"""Contrastive losses of paired embeddings: CLIP's and SigLIP's.

Both take the logit matrix of a batch of pairs (rows one modality, columns the
other, already scaled, as `keras_losses.layers.ContrastiveLogits` returns it) and
the integer pair ids of the batch. Rows `i` and columns `j` whose ids are equal are
a matching pair; every other cell is a negative. Unique ids give the usual diagonal
targets. Repeated ids (the same caption twice in a batch) make every matching pair
a positive instead of asking the model to tell identical items apart.

Ids are compared as integers. Keras casts `y_true` to the loss dtype (float32)
before `call()`, which would merge ids above 2**24 (dataset indices of a large
corpus) and silently turn negatives into positives; the classes here compare the
ids in `prepare()`, before that cast, and hand `call()` the exact 0/1 match matrix.

With `across_replicas=True` (under `tf.distribute`), `y_pred` is this replica's
`(n_local, 2 * n_global)` block of logits from `ContrastiveLogits(across_replicas=True)`
and the ids are gathered from every replica, so each local example is scored
against the negatives of the whole global batch.
"""

import keras
from keras import ops

from keras_losses import _backend
from keras_losses import _inputs
from keras_losses import _validation
from keras_losses.losses import _contrastive_tiles
from keras_losses.losses.base import function_twin
from keras_losses.losses.base import Loss


# -- pair ids ----------------------------------------------------------------------


def _pair_ids(y_true):
    """`y_true` as a `(n,)` tensor of ids, integers kept in their own dtype."""
    ids = ops.convert_to_tensor(y_true)
    if len(ids.shape) == 2 and ids.shape[-1] == 1:  # (n, 1), as Keras accepts labels
        ids = ops.squeeze(ids, -1)
    if len(ids.shape) != 1:
        raise ValueError(
            f"`y_true` must hold one pair id per example, shape (n,); received shape "
            f"{tuple(ids.shape)}."
        )
    return ids


def _logits_shape_error(y_true_shape, y_pred_shape, expected):
    return ValueError(
        f"Shapes of `y_true` {tuple(y_true_shape)} and `y_pred` {tuple(y_pred_shape)} "
        f"are incompatible: {expected}."
    )


def _pair_matches(y_true, y_pred, *, across_replicas=False):
    """The exact 0/1 matrix of matching pairs: 1 where two examples' ids are equal.

    Args:
        y_true: integer pair ids `(n,)` (or `(n, 1)`) of this replica's examples.
        y_pred: the logits the matches are for: `(n, n)`, or with
            `across_replicas=True` this replica's `(n, 2 * n_global)` block.
        across_replicas: compare this replica's ids with the ids of every replica.

    Returns:
        Float tensor `(n, n)`, or `(n, n_global)` across replicas, in `y_pred`'s
        compute dtype (0 and 1 are exact in any float dtype).
    """
    ids = _pair_ids(y_true)
    logits_shape = tuple(y_pred.shape)
    if len(logits_shape) != 2:
        raise _logits_shape_error(ids.shape, logits_shape, "`y_pred` must be a logit matrix")
    n = ids.shape[0]
    if across_replicas:
        all_ids = _backend.all_gather(ids)
        n_global = all_ids.shape[0]
        columns = logits_shape[1]
        if _inputs.dims_differ(n, logits_shape[0]) or (
            n_global is not None and columns is not None and columns != 2 * n_global
        ):
            raise _logits_shape_error(
                ids.shape,
                logits_shape,
                f"across replicas `y_pred` must be (n_local, 2 * n_global) = "
                f"({n}, 2 * {n_global}), as ContrastiveLogits(across_replicas=True) returns it",
            )
    else:
        all_ids = ids
        if _inputs.dims_differ(logits_shape[0], logits_shape[1]):
            raise _logits_shape_error(
                ids.shape, logits_shape, "`y_pred` must be a square (n, n) logit matrix"
            )
        if _inputs.dims_differ(n, logits_shape[0]):
            raise _logits_shape_error(
                ids.shape, logits_shape, "`y_true` must hold one pair id per row of `y_pred`"
            )
    matches = ops.equal(ops.expand_dims(ids, 1), ops.expand_dims(all_ids, 0))
    return ops.cast(matches, _inputs.compute_dtype(y_pred))


# -- the losses, from the match matrix ---------------------------------------------


def _soft_cross_entropy(matches, logits, axis):
    """Cross-entropy of softmax(logits) along `axis` against targets spread evenly
    over the matches: -sum(t * log_softmax(l)) = logsumexp(l) - sum(m * l) / sum(m)."""
    positives = ops.sum(matches, axis=axis)
    return ops.logsumexp(logits, axis=axis) - ops.sum(matches * logits, axis=axis) / positives


def _halves(logits):
    """The image-to-text and text-to-image blocks of the across-replicas logits."""
    return ops.split(logits, 2, axis=1)


def _clip_from_matches(matches, logits, across_replicas):
    logits = _inputs.floats(logits)
    matches = ops.cast(matches, logits.dtype)
    if across_replicas:
        # Row i of either block is example i against the global batch.
        image_to_text, text_to_image = _halves(logits)
        rows = _soft_cross_entropy(matches, image_to_text, axis=1)
        columns = _soft_cross_entropy(matches, text_to_image, axis=1)
    else:
        # The match relation is symmetric, so column i's targets are row i's.
        rows = _soft_cross_entropy(matches, logits, axis=1)
        columns = _soft_cross_entropy(matches, logits, axis=0)
    return 0.5 * rows + 0.5 * columns  # halved first: rows + columns may overflow


def _siglip_from_matches(matches, logits, across_replicas):
    logits = _inputs.floats(logits)
    matches = ops.cast(matches, logits.dtype)
    if across_replicas:
        # Each pair is scored once: in the row of its image (the first block).
        logits = _halves(logits)[0]
    signs = 2.0 * matches - 1.0  # +1 for a matching pair, -1 for the others
    return -ops.sum(ops.log_sigmoid(signs * logits), axis=1)


# -- the tiled form: from the embeddings, without the logit matrix ------------------


def _pair_groups(y_true, *, across_replicas=False):
    """Small exact integers standing for the pair ids: equal ids, equal groups.

    A group is the position of the id among the sorted ids of the (global) batch, so
    it is below the global batch size, exact in float32 (and consistent across
    replicas), and can pass Keras's float cast of `y_true` unharmed.
    """
    ids = _pair_ids(y_true)
    all_ids = _backend.all_gather(ids) if across_replicas else ids
    return ops.cast(ops.searchsorted(ops.sort(all_ids), ids), "int32")


def _unpack_embeddings(y_pred):
    """`(a, b, scale, bias)` from the packed output of `ContrastiveLogits(tiled=True)`."""
    y_pred = _inputs.floats(y_pred, "float32")
    width = y_pred.shape[-1]
    if len(y_pred.shape) != 2 or width is None or width < 4 or width % 2:
        raise ValueError(
            "With tiled=True, `y_pred` must be the packed (n, 2 * d + 2) output of "
            "`ContrastiveLogits(tiled=True)`: both normalised embeddings, the scale and "
            f"the bias. Received shape {tuple(y_pred.shape)}."
        )
    d = (width - 2) // 2
    # Every row holds the same scale and bias: their mean spreads the gradient
    # evenly over the rows, and the layer's broadcast sums it back.
    scale = ops.mean(y_pred[:, 2 * d])
    bias = ops.mean(y_pred[:, 2 * d + 1])
    return y_pred[:, :d], y_pred[:, d : 2 * d], scale, bias


def _tiled(kind, groups, y_pred, across_replicas, tile_size):
    """CLIP ("clip") or SigLIP ("siglip") per example from groups and packed embeddings."""
    a, b, scale, bias = _unpack_embeddings(y_pred)
    groups = ops.cast(groups, "int32")
    if len(groups.shape) == 2 and groups.shape[-1] == 1:
        groups = ops.squeeze(groups, -1)
    if _inputs.dims_differ(groups.shape[0], a.shape[0]):
        raise _logits_shape_error(
            groups.shape, y_pred.shape, "`y_true` must hold one pair id per row of `y_pred`"
        )
    tiles = _contrastive_tiles.tiled_loss
    if not across_replicas or _backend.replica_count() == 1:
        if kind == "siglip":
            return tiles("siglip", a, b, groups, groups, scale, bias, tile_size)
        return tiles("clip", a, b, groups, groups, scale, bias, tile_size)
    # Across replicas: this replica's rows against the global batch's columns. Only
    # the (n, d) embeddings are gathered (with gradient), never logits.
    d = a.shape[-1]
    # The gather may lose the static embedding size, which the tiles need.
    all_a = ops.reshape(_backend.all_gather(a), (-1, d))
    all_b = ops.reshape(_backend.all_gather(b), (-1, d))
    all_groups = ops.reshape(_backend.all_gather(groups), (-1,))
    if kind == "siglip":
        # Each pair is scored once: in the row of its image, as in the dense form.
        return tiles("siglip", a, all_b, groups, all_groups, scale, bias, tile_size)
    image_to_text = tiles("clip_rows", a, all_b, groups, all_groups, scale, bias, tile_size)
    text_to_image = tiles("clip_rows", b, all_a, groups, all_groups, scale, bias, tile_size)
    return 0.5 * image_to_text + 0.5 * text_to_image


def _check_arguments(across_replicas, tiled, tile_size):
    return (
        _validation.boolean("across_replicas", across_replicas),
        _validation.boolean("tiled", tiled),
        _validation.integer("tile_size", tile_size, minimum=1),
    )


# -- pure functions ----------------------------------------------------------------


@function_twin
def clip_loss(y_true, y_pred, *, across_replicas=False, tiled=False, tile_size=256):
    """CLIP's symmetric contrastive loss: cross-entropy along rows and columns.

    For example `i`, with `L = y_pred` and targets `t` spread evenly over the
    examples whose id equals `i`'s (for unique ids, the diagonal):

        row_i    = -sum_j t_ij * log_softmax(L[i, :])_j
        column_i = -sum_j t_ji * log_softmax(L[:, i])_j
        loss_i   = (row_i + column_i) / 2

    The mean over the batch is CLIP's loss. Computed in log space
    (`logsumexp`), in float32 for 16-bit logits. Equal logits give `log(n)`.

    Args:
        y_true: integer pair ids `(n,)` (or `(n, 1)`), compared exactly.
        y_pred: logits `(n, n)`, row `i` one modality's example `i` against the other
            modality's examples, already scaled (and biased). With
            `across_replicas=True`: this replica's `(n, 2 * n_global)` block from
            `ContrastiveLogits(across_replicas=True)`.
        across_replicas: score each example against the global batch under
            `tf.distribute` (see the module docstring); the same as `False` with one
            replica.
        tiled: `y_pred` is the packed `(n, 2 * d + 2)` output of
            `ContrastiveLogits(tiled=True)` (both normalised embeddings, the scale,
            the bias), and the logits are computed `tile_size` columns at a time,
            forward and backward, so that no `(n, n)` tensor exists. Same values and
            gradients as the dense form.
        tile_size: columns per tile with `tiled=True` (default 256): memory is about
            `4 * n * tile_size` floats.

    Returns:
        Float tensor `(n,)`, one value per example (pair).

    Example:

    >>> import numpy as np
    >>> loss = clip_loss(np.array([7, 9]), np.zeros((2, 2)))
    >>> print(f"{float(loss[0]):.4f}")  # log(2)
    0.6931

    References:
        Radford et al., 2021, "Learning Transferable Visual Models From Natural
        Language Supervision", https://arxiv.org/abs/2103.00020
    """
    across_replicas, tiled, tile_size = _check_arguments(across_replicas, tiled, tile_size)
    if tiled:
        groups = _pair_groups(y_true, across_replicas=across_replicas)
        return _tiled("clip", groups, y_pred, across_replicas, tile_size)
    y_pred = ops.convert_to_tensor(y_pred)
    matches = _pair_matches(y_true, y_pred, across_replicas=across_replicas)
    return _clip_from_matches(matches, y_pred, across_replicas)


@function_twin
def siglip_loss(y_true, y_pred, *, across_replicas=False, tiled=False, tile_size=256):
    """SigLIP's pairwise sigmoid loss, summed over each row.

    Every pair of the batch is a binary problem: matching or not. For row `i`,
    with `z_ij = +1` where the ids of `i` and `j` are equal and `-1` elsewhere:

        loss_i = -sum_j log_sigmoid(z_ij * L_ij)

    The mean over the batch is the loss of Zhai et al. (who divide the sum over all
    pairs by the batch size). Equals `n * BinaryCrossentropy(from_logits=True)` of
    each row against the identity for unique ids. Pair the logits with a learned
    bias (`ContrastiveLogits(logit_bias=-10.0)`).

    Args:
        y_true: integer pair ids `(n,)` (or `(n, 1)`), compared exactly.
        y_pred: logits `(n, n)`, or this replica's `(n, 2 * n_global)` block with
            `across_replicas=True` (of which the first `n_global` columns are used).
        across_replicas, tiled, tile_size: as in `clip_loss`.

    Returns:
        Float tensor `(n,)`, one value per example.

    Example:

    >>> import numpy as np
    >>> loss = siglip_loss(np.array([7, 9]), np.zeros((2, 2)))
    >>> print(f"{float(loss[0]):.4f}")  # 2 * log(2)
    1.3863

    References:
        Zhai et al., 2023, "Sigmoid Loss for Language Image Pre-Training",
        https://arxiv.org/abs/2303.15343
    """
    across_replicas, tiled, tile_size = _check_arguments(across_replicas, tiled, tile_size)
    if tiled:
        groups = _pair_groups(y_true, across_replicas=across_replicas)
        return _tiled("siglip", groups, y_pred, across_replicas, tile_size)
    y_pred = ops.convert_to_tensor(y_pred)
    matches = _pair_matches(y_true, y_pred, across_replicas=across_replicas)
    return _siglip_from_matches(matches, y_pred, across_replicas)


# -- classes -----------------------------------------------------------------------


class _ContrastiveLoss(Loss):
    """Pair ids to a match matrix (or to groups, tiled) before Keras's float cast."""

    kind = None  # "clip" or "siglip"

    def prepare(self, y_true, y_pred):
        if self.tiled:
            # Groups below the global batch size stand for the ids: exact after
            # Keras's cast to the loss dtype while they are below its integer limit.
            groups = _pair_groups(y_true, across_replicas=self.across_replicas)
            n_global = groups.shape[0] * _backend.replica_count() if groups.shape[0] else None
            # A 16-bit loss computes in float32 (the base class), groups included.
            computed = "float32" if self.dtype in ("float16", "bfloat16") else self.dtype
            limit = _inputs.EXACT_INTEGER_LIMIT.get(computed)
            if n_global is not None and limit is not None and n_global > limit:
                raise ValueError(
                    f"{type(self).__name__}(tiled=True) with dtype={self.dtype!r} cannot "
                    f"compare the ids of {n_global} pairs exactly (at most {limit})."
                )
            return groups, y_pred
        return _pair_matches(y_true, y_pred, across_replicas=self.across_replicas), y_pred

    def call(self, y_true, y_pred):
        if self.tiled:
            return _tiled(self.kind, y_true, y_pred, self.across_replicas, self.tile_size)
        # y_true is the match matrix made in prepare() from the ids.
        if self.kind == "clip":
            return _clip_from_matches(y_true, y_pred, self.across_replicas)
        return _siglip_from_matches(y_true, y_pred, self.across_replicas)


@keras.saving.register_keras_serializable(package="keras_losses")
class CLIPLoss(_ContrastiveLoss):
    """CLIP's symmetric contrastive loss, from the logit matrix and the pair ids.

    See `clip_loss`. `y_true` holds one integer id per pair; `y_pred` is the `(n, n)`
    logit matrix of `ContrastiveLogits`, which keeps the learned temperature. For
    unique ids it equals the mean of `SparseCategoricalCrossentropy(from_logits=True)`
    over the rows and over the columns with `arange(n)` targets; repeated ids give
    every matching pair as a positive. Per example, so a `(n,)` `sample_weight`
    weighs pairs.

    With `across_replicas=True`, under `tf.distribute`, each replica scores its
    examples against the whole global batch (use it with
    `ContrastiveLogits(across_replicas=True)`); ids must then identify pairs across
    the global batch (dataset indices, not positions in a batch).

    Example:

    >>> import keras
    >>> from keras_losses.layers import ContrastiveLogits
    >>> image = keras.Input((32,))
    >>> text = keras.Input((16,))
    >>> logits = ContrastiveLogits()([keras.layers.Dense(8)(image), keras.layers.Dense(8)(text)])
    >>> model = keras.Model([image, text], logits)
    >>> model.compile(optimizer="adam", loss=CLIPLoss())  # y: the pair ids
    """

    kind = "clip"

    def __init__(
        self,
        across_replicas=False,
        tiled=False,
        tile_size=256,
        reduction="sum_over_batch_size",
        name="clip_loss",
        dtype=None,
    ):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.across_replicas, self.tiled, self.tile_size = _check_arguments(
            across_replicas, tiled, tile_size
        )


@keras.saving.register_keras_serializable(package="keras_losses")
class SigLIPLoss(_ContrastiveLoss):
    """SigLIP's pairwise sigmoid loss, from the logit matrix and the pair ids.

    See `siglip_loss`. Inputs as in `CLIPLoss`; use it with a learned bias,
    `ContrastiveLogits(logit_scale=10.0, logit_bias=-10.0)` (the paper's start).

    Example:

    >>> import keras
    >>> from keras_losses.layers import ContrastiveLogits
    >>> image = keras.Input((32,))
    >>> text = keras.Input((16,))
    >>> towers = [keras.layers.Dense(8)(image), keras.layers.Dense(8)(text)]
    >>> logits = ContrastiveLogits(logit_scale=10.0, logit_bias=-10.0)(towers)
    >>> model = keras.Model([image, text], logits)
    >>> model.compile(optimizer="adam", loss=SigLIPLoss())
    """

    kind = "siglip"

    def __init__(
        self,
        across_replicas=False,
        tiled=False,
        tile_size=256,
        reduction="sum_over_batch_size",
        name="siglip_loss",
        dtype=None,
    ):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.across_replicas, self.tiled, self.tile_size = _check_arguments(
            across_replicas, tiled, tile_size
        )
