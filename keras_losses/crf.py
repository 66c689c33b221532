"""A linear-chain conditional random field: scores, likelihood, decoding, marginals.

A sequence of `T` steps takes one of `K` tags at each step. Its score adds the
emission of each tag, the transition between each pair of neighbouring tags, and
optionally a start transition into the first tag and an end transition out of the
last:

    score(y) = start[y_0] + sum_t emissions[t, y_t]
               + sum_{t >= 1} transitions[y_{t-1}, y_t] + end[y_{L-1}]

over the `L` real steps of a row (its mask: left-aligned, some trues then falses;
a row may be all false, then every quantity of it is 0). The CRF is the
distribution `p(y) = exp(score(y)) / Z` over all `K**L` sequences, with
`log Z = logsumexp over y of score(y)` computed by the forward algorithm in log
space, `O(L * K**2)` work. Everything here runs in float32 for 16-bit inputs.

Functions, all with `emissions (batch, T, K)` first, `tags (batch, T)` where they
need them, then `transitions (K, K)` (`transitions[i, j]` scores moving from tag `i`
to tag `j`, as TensorFlow Addons and pytorch-crf), then the keywords
`start_transitions=None`, `end_transitions=None` (`(K,)`, `None` means none) and
`mask=None` (`(batch, T)`, `None` means every step is real):

* `sequence_score`: the score of given tag sequences, `(batch,)`.
* `log_partition`: `log Z`, `(batch,)`.
* `log_likelihood`: `score(tags) - log Z`, `(batch,)`.
* `viterbi_decode`: the best sequences `(batch, T)` int32 (-1 at masked steps) and
  their scores `(batch,)`.
* `marginals`: `p(y_t = k)`, `(batch, T, K)`, 0 at masked steps.
* `structured_hinge`: the margin-rescaled structured SVM loss, `(batch,)`.

Bad inputs: shapes that do not match raise `ValueError` naming the argument. In
eager mode, a tag outside `[0, K)` at a real step, or a mask that is not
left-aligned, raises `ValueError` too; compiled code cannot raise, so there the
results of such a row are NaN (decoded tags -1), which shows in the first logged
loss.

The recursions run with `keras.ops.scan`: a `lax.scan` on JAX, a `tf.while_loop`
that XLA compiles on TensorFlow, a Python loop on PyTorch.
"""

import numpy as np
from keras import ops

from keras_losses import _backend
from keras_losses import _inputs
from keras_losses import _validation

__all__ = [
    "sequence_score",
    "log_partition",
    "log_likelihood",
    "viterbi_decode",
    "marginals",
    "structured_hinge",
]


# -- inputs -------------------------------------------------------------------------


class _Chain:
    """The validated inputs of a CRF computation, in the compute dtype.

    Attributes:
        emissions: float `(batch, T, K)`.
        transitions: float `(K, K)`.
        start, end: float `(K,)` (zeros when not given).
        mask: bool `(batch, T)`.
        valid: bool `(batch,)`: the row's mask is left-aligned (and its tags are in
            range, when tags were given).
        tags: int32 `(batch, T)` with masked steps set to 0, or `None`.
        num_tags: `K` (a Python int).
    """

    def __init__(self, emissions, transitions, start_transitions, end_transitions, mask, tags=None):
        emissions = ops.convert_to_tensor(emissions)
        if len(emissions.shape) != 3:
            raise _validation.invalid_shape(
                "emissions", "a tensor of shape (batch, T, num_tags)", emissions.shape
            )
        num_tags = emissions.shape[-1]
        if num_tags is None:
            raise ValueError("`emissions` must have a known number of tags (its last axis).")
        if emissions.shape[1] == 0:
            raise _validation.invalid_shape("emissions", "at least one time step", emissions.shape)
        dtype = _inputs.compute_dtype(emissions)
        self.emissions = ops.cast(emissions, dtype)
        self.num_tags = num_tags
        self.transitions = _parameter("transitions", transitions, (num_tags, num_tags), dtype)
        self.start = _parameter("start_transitions", start_transitions, (num_tags,), dtype)
        self.end = _parameter("end_transitions", end_transitions, (num_tags,), dtype)
        batch_time = tuple(emissions.shape[:2])
        if mask is None:
            self.mask = ops.ones(ops.shape(self.emissions)[:2], "bool")
        else:
            mask = ops.convert_to_tensor(mask)
            _check_shape("mask", mask, batch_time, "(batch, T) like `emissions`")
            self.mask = mask if mask.dtype == "bool" else ops.not_equal(mask, 0)
        # A row is left-aligned when no real step follows a masked one.
        self.valid = ops.logical_not(
            ops.any(ops.logical_and(ops.logical_not(self.mask[:, :-1]), self.mask[:, 1:]), axis=1)
        )
        if _backend.is_concrete(self.mask) and not np.all(_backend.to_numpy(self.valid)):
            rows = np.nonzero(~_backend.to_numpy(self.valid))[0][:10].tolist()
            raise _validation.invalid(
                "mask",
                "a left-aligned mask (in each row some True steps, then only False); "
                f"rows {rows} have a real step after a masked one",
                _backend.to_numpy(self.mask)[rows[0]].astype(int).tolist(),
            )
        self.tags = None
        if tags is not None:
            self.tags = self._tags(tags, batch_time)

    def _tags(self, tags, batch_time):
        tags = ops.convert_to_tensor(tags)
        if len(tags.shape) == 3 and tags.shape[-1] == 1:
            tags = ops.squeeze(tags, -1)
        _check_shape("tags", tags, batch_time, "(batch, T) like `emissions`")
        if not str(tags.dtype).replace("torch.", "").startswith("int"):
            tags = ops.round(tags)
        tags = ops.cast(tags, "int32")
        in_range = ops.logical_and(ops.greater_equal(tags, 0), ops.less(tags, self.num_tags))
        bad = ops.logical_and(self.mask, ops.logical_not(in_range))
        if _backend.is_concrete(tags):
            bad_values = _backend.to_numpy(tags)[_backend.to_numpy(bad)]
            if bad_values.size:
                raise _validation.invalid(
                    "tags",
                    f"integers in [0, {self.num_tags}) at every real (unmasked) step",
                    np.unique(bad_values)[:10].tolist(),
                )
        self.valid = ops.logical_and(self.valid, ops.logical_not(ops.any(bad, axis=1)))
        # Gathers need indices in range (TensorFlow raises on CPU, XLA clamps): a bad
        # tag reads tag 0 and its row is NaN (`finish`).
        return ops.where(ops.logical_and(self.mask, in_range), tags, 0)

    @property
    def lengths(self):
        return ops.sum(ops.cast(self.mask, "int32"), axis=1)

    def finish(self, values, empty=0.0):
        """`values (batch,)` with `empty` for all-masked rows and NaN for invalid rows."""
        values = ops.where(ops.greater(self.lengths, 0), values, ops.full_like(values, empty))
        return ops.where(self.valid, values, ops.full_like(values, float("nan")))

    def time_major(self, x):
        """`(batch, T, ...)` as `(T, batch, ...)`."""
        return ops.moveaxis(x, 1, 0)


def _check_shape(name, x, expected, description):
    shape = tuple(x.shape)
    if len(shape) != len(expected) or any(map(_inputs.dims_differ, shape, expected)):
        raise _validation.invalid_shape(name, f"shape {description}, {tuple(expected)}", shape)


def _parameter(name, value, shape, dtype):
    if value is None:
        return ops.zeros(shape, dtype)
    value = ops.convert_to_tensor(value)
    _check_shape(name, value, shape, "(num_tags, num_tags)" if len(shape) == 2 else "(num_tags,)")
    return ops.cast(value, dtype)


def _scan(step, init, xs, reverse=False):
    """`keras.ops.scan(step, init, xs)`, also when the sequence is statically empty.

    Every step below returns its new carry as its output (TensorFlow's scan needs
    outputs of the carry's structure, shapes and dtypes).
    """
    length = ops.shape(_first(xs))[0]
    if isinstance(length, int) and length == 0:
        return init, _empty_like(init)
    return _backend.scan(step, init, xs, reverse=reverse)


def _scan_reverse(step, init, xs):
    return _scan(step, init, xs, reverse=True)


def _first(xs):
    return xs[0] if isinstance(xs, (tuple, list)) else xs


def _empty_like(init):
    if isinstance(init, (tuple, list)):
        return type(init)(_empty_like(x) for x in init)
    return ops.zeros((0,) + tuple(ops.shape(init)), init.dtype)


# -- scores ---------------------------------------------------------------------------


def _score(chain, emissions=None):
    """The score of `chain.tags` (masked steps already 0), without the row fix-ups."""
    emissions = chain.emissions if emissions is None else emissions
    tags, mask = chain.tags, chain.mask
    zero = ops.zeros((), emissions.dtype)
    emitted = ops.squeeze(ops.take_along_axis(emissions, ops.expand_dims(tags, -1), axis=2), -1)
    total = ops.sum(ops.where(mask, emitted, zero), axis=1)
    pairs = tags[:, :-1] * chain.num_tags + tags[:, 1:]
    moved = ops.take(ops.reshape(chain.transitions, (-1,)), pairs, axis=0)
    total = total + ops.sum(ops.where(mask[:, 1:], moved, zero), axis=1)
    total = total + ops.where(mask[:, 0], ops.take(chain.start, tags[:, 0], axis=0), zero)
    # The last real step is real while the next one is not.
    after = ops.concatenate([mask[:, 1:], ops.zeros_like(mask[:, :1])], axis=1)
    is_last = ops.logical_and(mask, ops.logical_not(after))
    ends = ops.take(chain.end, tags, axis=0)
    return total + ops.sum(ops.where(is_last, ends, zero), axis=1)


def sequence_score(emissions, tags, transitions, *, start_transitions=None, end_transitions=None, mask=None):
    """The score of each given tag sequence under a linear-chain CRF.

        score = start[y_0] + sum_t emissions[t, y_t] + sum_{t>=1} transitions[y_{t-1}, y_t]
                + end[y_last]

    summed over the real steps of each row only.

    Args:
        emissions: float `(batch, T, K)`; 16-bit inputs are computed in float32.
        tags: integer `(batch, T)` in `[0, K)` at real steps (any value at masked
            steps, -1 included).
        transitions: float `(K, K)`; `transitions[i, j]` scores tag `i` then tag `j`.
        start_transitions: float `(K,)` or `None` (no start transitions).
        end_transitions: float `(K,)` or `None`.
        mask: `(batch, T)` bool (or 0/1), left-aligned; `None`: all steps real.

    Returns:
        Float `(batch,)`; 0 for a row with no real step.

    Example:

    >>> import numpy as np
    >>> emissions = np.array([[[1.0, 0.0], [0.0, 2.0]]])  # 1 sequence, 2 steps, 2 tags
    >>> transitions = np.array([[0.0, 0.5], [0.0, 0.0]])
    >>> score = sequence_score(emissions, np.array([[0, 1]]), transitions)
    >>> print(f"{float(score[0]):.2f}")  # 1 + 2 + transitions[0, 1]
    3.50
    """
    chain = _Chain(emissions, transitions, start_transitions, end_transitions, mask, tags)
    return chain.finish(_score(chain))


def _forward(chain, emissions=None):
    """The forward variables: `(alphas (T, batch, K), log Z before the end transitions)`.

    `alpha_t[j]` is the log-sum of the scores of all prefixes ending in tag `j` at
    step `t`; at a masked step it carries the last real step's value over.
    """
    emissions = chain.emissions if emissions is None else emissions
    transitions = ops.expand_dims(chain.transitions, 0)  # (1, K_from, K_to)
    first = emissions[:, 0] + chain.start

    def step(alpha, inputs):
        emitted, real = inputs
        # alpha'[j] = logsumexp_i(alpha[i] + transitions[i, j]) + emissions[t, j]
        moved = ops.logsumexp(ops.expand_dims(alpha, -1) + transitions, axis=1) + emitted
        alpha = ops.where(ops.expand_dims(real, -1), moved, alpha)
        return alpha, alpha

    xs = (chain.time_major(emissions[:, 1:]), chain.time_major(chain.mask[:, 1:]))
    last, rest = _scan(step, first, xs)
    alphas = ops.concatenate([ops.expand_dims(first, 0), rest], axis=0)
    return alphas, last


def _backward(chain):
    """The backward variables `(T, batch, K)`: `beta_t[i]` is the log-sum of the scores
    of every continuation from tag `i` at step `t` to the end, end transition included."""
    emissions = chain.emissions
    transitions = ops.expand_dims(chain.transitions, 0)
    end = ops.broadcast_to(chain.end, ops.shape(emissions[:, 0]))

    def step(beta_next, inputs):
        emitted_next, real_next = inputs
        # beta[i] = logsumexp_j(transitions[i, j] + emissions[t+1, j] + beta_next[j])
        moved = ops.logsumexp(transitions + ops.expand_dims(emitted_next + beta_next, 1), axis=2)
        beta = ops.where(ops.expand_dims(real_next, -1), moved, end)
        return beta, beta

    xs = (chain.time_major(emissions[:, 1:]), chain.time_major(chain.mask[:, 1:]))
    _, rest = _scan_reverse(step, end, xs)
    return ops.concatenate([rest, ops.expand_dims(end, 0)], axis=0)


def _log_partition(chain):
    _, last = _forward(chain)
    return ops.logsumexp(last + chain.end, axis=-1)


def log_partition(emissions, transitions, *, start_transitions=None, end_transitions=None, mask=None):
    """The log-partition function `log Z = logsumexp over all tag sequences of score`.

    The forward algorithm in log space: `alpha_0 = start + emissions[0]`,
    `alpha_t[j] = logsumexp_i(alpha_{t-1}[i] + transitions[i, j]) + emissions[t, j]`,
    `log Z = logsumexp_j(alpha_last[j] + end[j])`. Finite for emissions of any size.

    Args:
        emissions, transitions, start_transitions, end_transitions, mask: as in
            `sequence_score`.

    Returns:
        Float `(batch,)`; 0 for a row with no real step. Its gradient with respect
        to `emissions` is `marginals`.

    Example:

    >>> import numpy as np
    >>> log_z = log_partition(np.zeros((1, 3, 2)), np.zeros((2, 2)))
    >>> print(f"{float(log_z[0]):.4f}")  # log(2**3): 8 sequences, all of score 0
    2.0794
    """
    chain = _Chain(emissions, transitions, start_transitions, end_transitions, mask)
    return chain.finish(_log_partition(chain))


def log_likelihood(emissions, tags, transitions, *, start_transitions=None, end_transitions=None, mask=None):
    """The log-probability of each tag sequence: `sequence_score - log_partition`.

    `-log_likelihood` is the CRF's training loss (`keras_losses.CRFLoss`). `exp` of
    it summed over all `K**L` sequences of a row is 1.

    Args:
        emissions, tags, transitions, start_transitions, end_transitions, mask: as
            in `sequence_score`.

    Returns:
        Float `(batch,)`, at most 0; 0 for a row with no real step.

    Example:

    >>> import numpy as np
    >>> ll = log_likelihood(np.zeros((1, 3, 2)), np.array([[0, 1, 1]]), np.zeros((2, 2)))
    >>> print(f"{float(ll[0]):.4f}")  # log(1/8)
    -2.0794

    References:
        Lafferty, McCallum and Pereira, 2001, "Conditional Random Fields:
        Probabilistic Models for Segmenting and Labeling Sequence Data".
    """
    chain = _Chain(emissions, transitions, start_transitions, end_transitions, mask, tags)
    return chain.finish(_score(chain) - _log_partition(chain))


def _viterbi(chain, emissions):
    """Best tags `(batch, T)` int32 (masked steps: the last real tag) and scores."""
    transitions = ops.expand_dims(chain.transitions, 0)
    first = emissions[:, 0] + chain.start
    batch_shape = ops.shape(first)
    identity = ops.broadcast_to(ops.arange(chain.num_tags, dtype="int32"), batch_shape)

    def step(carry, inputs):
        best, _ = carry
        emitted, real = inputs
        candidates = ops.expand_dims(best, -1) + transitions  # (batch, K_from, K_to)
        # One reduction: the best predecessor, then its score read off (not a second max).
        pointer = ops.cast(ops.argmax(candidates, axis=1), "int32")
        moved = ops.squeeze(ops.take_along_axis(candidates, ops.expand_dims(pointer, 1), axis=1), 1) + emitted
        real = ops.expand_dims(real, -1)
        # At a masked step the scores carry over and each tag points to itself.
        carry = (ops.where(real, moved, best), ops.where(real, pointer, identity))
        return carry, carry

    xs = (chain.time_major(emissions[:, 1:]), chain.time_major(chain.mask[:, 1:]))
    (last, _), (_, pointers) = _scan(step, (first, identity), xs)
    final = last + chain.end
    scores = ops.max(final, axis=-1, initial=float("-inf"))  # `initial`: an empty batch too
    last_tag = ops.cast(ops.argmax(final, axis=-1), "int32")

    def back(tag, pointer):
        # pointer (batch, K) maps the tag at step t + 1 to the best tag at step t.
        previous = ops.squeeze(ops.take_along_axis(pointer, ops.expand_dims(tag, -1), axis=1), -1)
        return previous, previous

    _, earlier = _scan_reverse(back, last_tag, pointers)  # the tags of steps 0 .. T - 2
    tags = ops.concatenate([earlier, ops.expand_dims(last_tag, 0)], axis=0)
    return ops.moveaxis(tags, 0, 1), scores


def viterbi_decode(emissions, transitions, *, start_transitions=None, end_transitions=None, mask=None):
    """The highest-scoring tag sequence of each row (the Viterbi algorithm).

    `delta_t[j] = max_i(delta_{t-1}[i] + transitions[i, j]) + emissions[t, j]`, with a
    pointer to the best `i`, then a walk back from the best last tag. Ties go to the
    lowest tag index.

    Args:
        emissions, transitions, start_transitions, end_transitions, mask: as in
            `sequence_score`.

    Returns:
        `(tags, scores)`: int32 `(batch, T)` with -1 at masked steps, and float
        `(batch,)`, the score of those tags (0 for a row with no real step).

    Example:

    >>> import numpy as np
    >>> emissions = np.array([[[2.0, 0.0], [0.0, 1.0], [0.0, 1.0]]])
    >>> transitions = np.array([[0.0, -5.0], [0.0, 0.0]])  # 0 -> 1 is penalised
    >>> tags, scores = viterbi_decode(emissions, transitions, mask=np.array([[1, 1, 0]]))
    >>> np.asarray(tags).tolist(), f"{float(scores[0]):.1f}"
    ([[0, 0, -1]], '2.0')
    """
    chain = _Chain(emissions, transitions, start_transitions, end_transitions, mask)
    tags, scores = _viterbi(chain, chain.emissions)
    tags = ops.where(ops.logical_and(chain.mask, ops.expand_dims(chain.valid, -1)), tags, -1)
    return ops.cast(tags, "int32"), chain.finish(scores)


def marginals(emissions, transitions, *, start_transitions=None, end_transitions=None, mask=None):
    """Posterior tag probabilities `p(y_t = k)` at each step (forward-backward).

    `p(y_t = k) = softmax_k(alpha_t[k] + beta_t[k])`, normalised at each step (the
    normaliser is `log Z` at every step; normalising per step keeps each row of
    probabilities summing to 1 in float32 even for emissions of 1e4).

    Args:
        emissions, transitions, start_transitions, end_transitions, mask: as in
            `sequence_score`.

    Returns:
        Float `(batch, T, K)`: rows summing to 1 at real steps, 0 at masked steps.
        Equals the gradient of `log_partition` with respect to `emissions`.

    Example:

    >>> import numpy as np
    >>> p = marginals(np.zeros((1, 2, 2)), np.array([[1.0, 0.0], [0.0, 1.0]]))
    >>> print(np.round(np.asarray(p[0]), 3).tolist())  # symmetric: every tag 1/2
    [[0.5, 0.5], [0.5, 0.5]]
    """
    chain = _Chain(emissions, transitions, start_transitions, end_transitions, mask)
    alphas, _ = _forward(chain)
    betas = _backward(chain)
    probabilities = ops.softmax(ops.moveaxis(alphas + betas, 0, 1), axis=-1)
    keep = ops.logical_and(chain.mask, ops.expand_dims(chain.valid, -1))
    zero = ops.zeros((), probabilities.dtype)
    probabilities = ops.where(ops.expand_dims(keep, -1), probabilities, zero)
    nan = ops.full_like(probabilities, float("nan"))
    return ops.where(ops.expand_dims(ops.expand_dims(chain.valid, -1), -1), probabilities, nan)


def structured_hinge(
    emissions,
    tags,
    transitions,
    *,
    start_transitions=None,
    end_transitions=None,
    mask=None,
    cost=1.0,
):
    """The margin-rescaled structured SVM loss of each sequence.

        loss = max over y' of [score(y') + cost * hamming(y, y')] - score(y)

    where `hamming` counts the real steps at which `y'` differs from the true `y`. The
    maximum is found by loss-augmented Viterbi (`cost` added to every wrong tag's
    emission), so it is exact. Never negative (`y' = y` is a candidate); zero when
    `y` beats every other sequence by at least `cost` per wrong tag. Its gradient is
    the feature difference between the loss-augmented best sequence and `y`.

    Args:
        emissions, tags, transitions, start_transitions, end_transitions, mask: as
            in `sequence_score`.
        cost: non-negative float, the margin required per wrong tag (keyword-only).

    Returns:
        Float `(batch,)`; 0 for a row with no real step.

    Example:

    >>> import numpy as np
    >>> emissions = np.array([[[3.0, 0.0], [0.0, 0.5]]])
    >>> loss = structured_hinge(emissions, np.array([[0, 1]]), np.zeros((2, 2)), cost=1.0)
    >>> print(f"{float(loss[0]):.2f}")  # (3 + 0 + 1) - (3 + 0.5): tag 0 at step 2 wins
    0.50

    References:
        Taskar, Guestrin and Koller, 2003, "Max-Margin Markov Networks".
        Tsochantaridis, Joachims, Hofmann and Altun, 2005, "Large Margin Methods for
        Structured and Interdependent Output Variables".
    """
    cost = _validation.non_negative_float("cost", cost)
    chain = _Chain(emissions, transitions, start_transitions, end_transitions, mask, tags)
    wrong = 1.0 - ops.one_hot(chain.tags, chain.num_tags, dtype=chain.emissions.dtype)
    augmented = chain.emissions + cost * wrong
    # The loss-augmented best sequence, found without gradient; the loss is then a
    # difference of two scores, whose gradient is the difference of their features.
    fixed = _Chain(
        ops.stop_gradient(augmented),
        ops.stop_gradient(chain.transitions),
        ops.stop_gradient(chain.start),
        ops.stop_gradient(chain.end),
        chain.mask,
    )
    rival, _ = _viterbi(fixed, fixed.emissions)
    rival_chain = _Rescored(chain, ops.where(chain.mask, rival, 0))
    margin = _score(rival_chain, augmented) - _score(chain)
    return chain.finish(ops.maximum(margin, ops.zeros_like(margin)))


class _Rescored:
    """`chain` with other tags, for `_score`."""

    def __init__(self, chain, tags):
        self.transitions, self.start, self.end = chain.transitions, chain.start, chain.end
        self.mask, self.num_tags, self.tags = chain.mask, chain.num_tags, tags


# -- the packed potentials that layers.CRF hands to the losses ------------------------
#
# Keras gives a loss only `y_true` and `y_pred`. So that a compiled loss can use the
# layer's own transition weights (and the Keras mask of its input), the layer returns
# one tensor holding everything, `(batch, T + K + 2, K + 1)`:
#
#     [:, :T, :K]     emissions           [:, :T, K]     the mask (1 real, 0 masked)
#     [:, T:T+K, :K]  transitions         [:, T+K, :K]   start transitions
#                                         [:, T+K+1, :K] end transitions
#
# (the transition rows are the same in every example; the rest of column K is 0).
# `pack` writes it and `unpack` reads it: the one encoder and the one decoder.


def pack(emissions, transitions, start_transitions, end_transitions, mask):
    """The potentials tensor `(batch, T + K + 2, K + 1)` (see the comment above)."""
    emissions = _inputs.floats(emissions)
    dtype = emissions.dtype
    batch = ops.shape(emissions)[0]
    num_tags = emissions.shape[-1]
    if mask is None:
        real = ops.ones(ops.shape(emissions)[:2], dtype)
    else:
        real = ops.cast(ops.cast(mask, "bool"), dtype)
    steps = ops.concatenate([emissions, ops.expand_dims(real, -1)], axis=-1)
    table = ops.concatenate(
        [
            ops.cast(transitions, dtype),
            ops.expand_dims(ops.cast(start_transitions, dtype), 0),
            ops.expand_dims(ops.cast(end_transitions, dtype), 0),
        ],
        axis=0,
    )
    table = ops.pad(table, [[0, 0], [0, 1]])  # (K + 2, K + 1)
    table = ops.broadcast_to(ops.expand_dims(table, 0), (batch, num_tags + 2, num_tags + 1))
    return ops.concatenate([steps, table], axis=1)


def unpack(potentials):
    """`(emissions, transitions, start, end, mask)` from `pack`'s tensor."""
    potentials = ops.convert_to_tensor(potentials)
    if len(potentials.shape) != 3 or potentials.shape[-1] is None or potentials.shape[-1] < 2:
        raise ValueError(
            "`y_pred` must be the potentials that `keras_losses.layers.CRF` returns, of shape "
            f"(batch, T + num_tags + 2, num_tags + 1). Received shape {tuple(potentials.shape)}."
        )
    num_tags = potentials.shape[-1] - 1
    rows = num_tags + 2
    if potentials.shape[1] is not None and potentials.shape[1] <= rows:
        raise ValueError(
            "`y_pred` must be the potentials that `keras_losses.layers.CRF` returns, of shape "
            f"(batch, T + {rows}, {num_tags + 1}) with T >= 1. Received shape {tuple(potentials.shape)}."
        )
    emissions = potentials[:, :-rows, :num_tags]
    mask = ops.greater(potentials[:, :-rows, num_tags], 0.5)
    # Every row holds the same table; the sum over the first (or no) row also works for
    # an empty batch, where indexing row 0 failed.
    table = ops.sum(potentials[:1, -rows:, :num_tags], axis=0)
    return emissions, table[:num_tags], table[num_tags], table[num_tags + 1], mask
