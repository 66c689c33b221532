"""CLIP's and SigLIP's losses computed tile by tile, without the `(n, n)` logit matrix.

The logits `L = scale * q @ k.T + bias` are produced `tile` columns at a time:
all `m` rows of `q` against `tile` rows of `k`. The forward pass keeps only
per-row (and per-column) statistics; the backward pass recomputes each tile from
the embeddings and those statistics. So the largest temporaries are `(m, tile)`,
and memory is O(m * tile + (m + n) * d) where the dense losses need O(m * n).

Three kernels share the tile loop:

* `"clip"`: `q` and `k` are the two modalities of the same `n` examples. Each
  tile's columns are complete (every row is present), so their column-wise
  log-sum-exp is exact within the tile, while the rows' log-sum-exp is accumulated
  online over the tiles (running maximum, rescaled sum). The result is
  `(row_ce + column_ce) / 2` per example, with one pass over the matrix.
* `"clip_rows"`: only the row cross-entropies, for rows that are this replica's
  examples and columns that are the global batch (across replicas).
* `"siglip"`: the sum over each row of `softplus(-z * L)` (`-log_sigmoid(z * L)`),
  `z = +1` for a matching pair, else `-1`.

Matching pairs are given by integer groups (equal group, matching pair); a row's
cross-entropy target is spread evenly over its matches, as in the dense losses.
Everything runs in float32.
"""

from keras import ops

from keras_losses import _backend

# Stands for -inf in padded columns and starts the running row max. The lowest float32:
# with -1e30 a row whose logits were all below it (a bias of -1e31) summed exp(l + 1e30),
# all 0, and its loss was -inf. Padded columns are also multiplied by `valid` = 0.
_NEGATIVE = -3.4028234663852886e38


def tiled_loss(kind, q, k, q_groups, k_groups, scale, bias, tile_size):
    """Per-row losses `(m,)` of `kind` ("clip", "clip_rows", "siglip"); see the module.

    Args:
        q: float32 `(m, d)` row embeddings (already normalised).
        k: float32 `(n, d)` column embeddings.
        q_groups, k_groups: int32 `(m,)` and `(n,)`; rows and columns of equal group
            are matching pairs. For "clip", `m == n` and the groups are the same.
        scale, bias: float32 scalars; the logits are `scale * q @ k.T + bias`.
        tile_size: the number of columns per tile (a Python int).
    """
    d = q.shape[-1]
    if d is None or k.shape[-1] is None:
        raise ValueError("The embedding size must be known when the loss is traced.")
    n = ops.shape(k)[0]
    num_tiles = (n + tile_size - 1) // tile_size
    # At least one tile of padding: JAX traces the loop body, and its slice of a tile,
    # even for an empty batch (0 tiles, which the loop then never runs).
    at_least_one = max(num_tiles, 1) if isinstance(num_tiles, int) else ops.maximum(num_tiles, 1)
    padded = at_least_one * tile_size
    k_padded = ops.pad(k, [[0, padded - n], [0, 0]])
    # Group -1 never matches: groups are non-negative.
    k_groups_padded = ops.pad(k_groups, [[0, padded - n]], constant_values=-1)
    q_groups = ops.expand_dims(q_groups, 1)
    offsets = ops.arange(tile_size, dtype="int32")

    def tile(t, q, k_padded, scale, bias, q_groups, k_groups_padded):
        """Tile `t`: its rows of `k`, similarities, logits, valid columns, matches."""
        start = t * tile_size
        k_tile = ops.slice(k_padded, [start, 0], [tile_size, d])
        groups = ops.slice(k_groups_padded, [start], [tile_size])
        valid = ops.less(start + offsets, n)
        similarity = ops.matmul(q, ops.transpose(k_tile))
        logits = scale * similarity + bias
        matches = ops.cast(ops.equal(q_groups, ops.expand_dims(groups, 0)), "float32")
        return k_tile, similarity, logits, ops.cast(valid, "float32"), matches, start

    m = ops.shape(q)[0]
    zeros_m = ops.zeros((m,), "float32")
    zeros_padded = ops.zeros((padded,), "float32")

    def forward(q, k_padded, scale, bias, q_groups, k_groups_padded):
        def step(t, carry):
            row_max, row_sum, positive_sum, positives, column_lse, column_positive, siglip = carry
            _, _, logits, valid, matches, start = tile(
                t, q, k_padded, scale, bias, q_groups, k_groups_padded
            )
            if kind == "siglip":
                signs = 2.0 * matches - 1.0
                siglip = siglip + ops.sum(valid * ops.softplus(-signs * logits), axis=1)
                return row_max, row_sum, positive_sum, positives, column_lse, column_positive, siglip
            masked = ops.where(valid > 0, logits, _NEGATIVE)
            positive_sum = positive_sum + ops.sum(matches * logits, axis=1)
            positives = positives + ops.sum(matches, axis=1)
            # Online log-sum-exp over the rows: rescale the running sum to the new max.
            new_max = ops.maximum(row_max, ops.max(masked, axis=1))
            row_sum = row_sum * ops.exp(row_max - new_max) + ops.sum(
                valid * ops.exp(masked - ops.expand_dims(new_max, 1)), axis=1
            )
            if kind == "clip":
                # Every row is in the tile, so each column's log-sum-exp is exact here.
                column_lse = ops.slice_update(
                    column_lse, [start], ops.logsumexp(logits, axis=0)
                )
                column_positive = ops.slice_update(
                    column_positive, [start], ops.sum(matches * logits, axis=0)
                )
            return new_max, row_sum, positive_sum, positives, column_lse, column_positive, siglip

        init = (
            zeros_m + _NEGATIVE, zeros_m, zeros_m, zeros_m, zeros_padded, zeros_padded, zeros_m
        )
        row_max, row_sum, positive_sum, positives, column_lse, column_positive, siglip = (
            ops.fori_loop(0, num_tiles, step, init)
        )
        if kind == "siglip":
            # the backward pass recomputes every tile from the inputs alone
            return siglip, (siglip,)
        row_lse = row_max + ops.log(row_sum)
        # Cross-entropy against targets spread over the matches:
        # logsumexp(l) - sum(match * l) / sum(match).
        value = row_lse - positive_sum / positives
        if kind == "clip":
            # Matching is symmetric: column j has as many matches as row j.
            column_lse = column_lse[:m]
            column_ce = column_lse - column_positive[:m] / positives
            value = 0.5 * value + 0.5 * column_ce  # halved first: the sum may overflow
        return value, (row_lse, positives, column_lse)

    def backward(inputs, residuals, upstream):
        q, k_padded, scale, bias, q_groups, k_groups_padded = inputs
        upstream = ops.cast(upstream, "float32")
        if kind != "siglip":
            row_lse, positives, column_lse = residuals
            row_weight = ops.expand_dims(upstream, 1)
            row_lse_ = ops.expand_dims(row_lse, 1)
            per_positive = ops.expand_dims(upstream / positives, 1)
        if kind == "clip":
            half = 0.5
            upstream_padded = ops.pad(upstream, [[0, padded - m]])
            positives_padded = ops.pad(positives, [[0, padded - m]], constant_values=1.0)
            column_lse_padded = ops.pad(column_lse, [[0, padded - m]])
        else:
            half = 1.0

        def step(t, carry):
            dq, dk, dscale, dbias = carry
            k_tile, similarity, logits, valid, matches, start = tile(
                t, q, k_padded, scale, bias, q_groups, k_groups_padded
            )
            if kind == "siglip":
                signs = 2.0 * matches - 1.0
                # d/dl softplus(-z l) = -z * sigmoid(-z l)
                dlogits = -ops.expand_dims(upstream, 1) * signs * ops.sigmoid(-signs * logits)
            else:
                probabilities = ops.exp(logits - row_lse_)
                dlogits = half * (row_weight * probabilities - per_positive * matches)
                if kind == "clip":
                    g = ops.slice(upstream_padded, [start], [tile_size])
                    lse = ops.slice(column_lse_padded, [start], [tile_size])
                    count = ops.slice(positives_padded, [start], [tile_size])
                    column_probabilities = ops.exp(logits - ops.expand_dims(lse, 0))
                    dlogits = dlogits + half * ops.expand_dims(g, 0) * (
                        column_probabilities - matches / ops.expand_dims(count, 0)
                    )
            dlogits = dlogits * ops.expand_dims(valid, 0)
            dq = dq + scale * ops.matmul(dlogits, k_tile)
            dk = ops.slice_update(dk, [start, 0], scale * ops.matmul(ops.transpose(dlogits), q))
            dscale = dscale + ops.sum(dlogits * similarity)
            dbias = dbias + ops.sum(dlogits)
            return dq, dk, dscale, dbias

        zero = ops.zeros((), "float32")
        dq, dk, dscale, dbias = ops.fori_loop(
            0, num_tiles, step, (ops.zeros_like(q), ops.zeros_like(k_padded), zero, zero)
        )
        return dq, dk, dscale, dbias, None, None  # the groups are integers

    loss = _backend.custom_gradient(forward, backward)
    return loss(q, k_padded, scale, bias, q_groups, k_groups_padded)
