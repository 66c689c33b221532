"""NumPy oracles of the linear-chain CRF by brute force: every one of the K**L sequences.

Written from the definition, not from the recursions of `keras_losses.crf`: a
sequence's score is a plain sum over its steps, and every quantity below is a sum,
a maximum or a ratio over an explicit list of all sequences of a row's real steps.
Exponential in the length, so for small T and K only (tests and verification).
"""

import itertools

import numpy as np


def _boundaries(num_tags, start, end):
    start = np.zeros(num_tags) if start is None else np.asarray(start, np.float64)
    end = np.zeros(num_tags) if end is None else np.asarray(end, np.float64)
    return start, end


def _lengths(mask, batch, steps):
    if mask is None:
        return np.full(batch, steps)
    return np.asarray(mask).astype(bool).sum(axis=1)


def path_score(emissions, path, transitions, start, end):
    """The score of one tag path over the first `len(path)` steps of `emissions (T, K)`."""
    if len(path) == 0:
        return 0.0
    total = start[path[0]] + end[path[-1]]
    for t, tag in enumerate(path):
        total += emissions[t, tag]
        if t > 0:
            total += transitions[path[t - 1], tag]
    return total


def all_paths(num_tags, length):
    """Every sequence of `length` tags, as an int array `(num_tags**length, length)`."""
    return np.array(list(itertools.product(range(num_tags), repeat=length)), np.int64).reshape(-1, length)


def _row_scores(emissions, transitions, start, end, length):
    """(paths, scores) of every sequence of one row's real steps."""
    paths = all_paths(emissions.shape[-1], length)
    scores = np.array([path_score(emissions, p, transitions, start, end) for p in paths])
    return paths, scores


def _logsumexp(x):
    top = np.max(x)
    return top + np.log(np.sum(np.exp(x - top)))


def _per_row(fn, emissions, transitions, start, end, mask):
    emissions = np.asarray(emissions, np.float64)
    transitions = np.asarray(transitions, np.float64)
    batch, steps, num_tags = emissions.shape
    start, end = _boundaries(num_tags, start, end)
    lengths = _lengths(mask, batch, steps)
    return [fn(b, emissions[b], transitions, start, end, int(lengths[b])) for b in range(batch)]


def sequence_score(emissions, tags, transitions, start_transitions=None, end_transitions=None, mask=None):
    tags = np.asarray(tags)
    return np.array(
        _per_row(
            lambda b, e, tr, s, en, n: path_score(e, tags[b, :n], tr, s, en),
            emissions, transitions, start_transitions, end_transitions, mask,
        )
    )


def log_partition(emissions, transitions, start_transitions=None, end_transitions=None, mask=None):
    def row(b, e, tr, s, en, n):
        if n == 0:
            return 0.0
        return _logsumexp(_row_scores(e, tr, s, en, n)[1])

    return np.array(_per_row(row, emissions, transitions, start_transitions, end_transitions, mask))


def log_likelihood(emissions, tags, transitions, start_transitions=None, end_transitions=None, mask=None):
    return sequence_score(emissions, tags, transitions, start_transitions, end_transitions, mask) - log_partition(
        emissions, transitions, start_transitions, end_transitions, mask
    )


def viterbi(emissions, transitions, start_transitions=None, end_transitions=None, mask=None):
    """(tags `(batch, T)` with -1 at masked steps, scores `(batch,)`): the argmax path."""
    emissions = np.asarray(emissions)
    tags = np.full(emissions.shape[:2], -1, np.int64)

    def row(b, e, tr, s, en, n):
        if n == 0:
            return 0.0
        paths, scores = _row_scores(e, tr, s, en, n)
        tags[b, :n] = paths[np.argmax(scores)]
        return np.max(scores)

    scores = np.array(_per_row(row, emissions, transitions, start_transitions, end_transitions, mask))
    return tags, scores


def viterbi_scores(emissions, transitions, start_transitions=None, end_transitions=None, mask=None):
    return viterbi(emissions, transitions, start_transitions, end_transitions, mask)[1]


def marginals(emissions, transitions, start_transitions=None, end_transitions=None, mask=None):
    """`(batch, T, K)`: the probability mass of the sequences with tag k at step t."""
    emissions = np.asarray(emissions, np.float64)
    out = np.zeros(emissions.shape)

    def row(b, e, tr, s, en, n):
        if n == 0:
            return 0.0
        paths, scores = _row_scores(e, tr, s, en, n)
        p = np.exp(scores - _logsumexp(scores))
        for t in range(n):
            out[b, t] = np.bincount(paths[:, t], weights=p, minlength=e.shape[-1])
        return 0.0

    _per_row(row, emissions, transitions, start_transitions, end_transitions, mask)
    return out


def loss_augmented(emissions, tags, transitions, start_transitions=None, end_transitions=None, mask=None, cost=1.0):
    """(best tags, loss) of the structured SVM: max over y' of score(y') + cost * hamming."""
    emissions = np.asarray(emissions)
    tags = np.asarray(tags)
    best = np.full(emissions.shape[:2], -1, np.int64)

    def row(b, e, tr, s, en, n):
        if n == 0:
            return 0.0
        paths, scores = _row_scores(e, tr, s, en, n)
        augmented = scores + cost * np.sum(paths != tags[b, :n], axis=1)
        best[b, :n] = paths[np.argmax(augmented)]
        return np.max(augmented) - path_score(e, tags[b, :n], tr, s, en)

    losses = np.array(_per_row(row, emissions, transitions, start_transitions, end_transitions, mask))
    return best, losses


def structured_hinge(emissions, tags, transitions, start_transitions=None, end_transitions=None, mask=None, cost=1.0):
    return loss_augmented(emissions, tags, transitions, start_transitions, end_transitions, mask, cost)[1]


def unpack(potentials):
    """The packed potentials of `keras_losses.layers.CRF`, read in NumPy from their layout."""
    potentials = np.asarray(potentials, np.float64)
    num_tags = potentials.shape[-1] - 1
    steps = potentials.shape[1] - num_tags - 2
    emissions = potentials[:, :steps, :num_tags]
    mask = potentials[:, :steps, num_tags] > 0.5
    transitions = potentials[0, steps:steps + num_tags, :num_tags]
    start = potentials[0, steps + num_tags, :num_tags]
    end = potentials[0, steps + num_tags + 1, :num_tags]
    return emissions, transitions, start, end, mask
