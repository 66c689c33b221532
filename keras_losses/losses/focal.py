"""Focal losses: cross-entropy that fades on examples the model already gets right.

Lin et al. (2017) multiply the cross-entropy of the true class by `(1 - p_t)**gamma`,
where `p_t` is the probability the model gives that class. Easy examples (`p_t`
near 1) then weigh almost nothing and training concentrates on the hard ones; an
optional weight `alpha` balances the classes. Eq. 5 of the paper:

    FL(p_t) = -alpha_t * (1 - p_t)**gamma * log(p_t)

Every form here is computed from logits in log space, so it never saturates:

* binary: with `x` the logit and `e = exp(-|x|)`, `-log(p_t)` and `1 - p_t` both
  come from `e` and `log1p(e)` without cancellation (see `_sigmoid_terms`).
* categorical: `log(p) = log_softmax(x)`; `1 - p_c` of the leading class is the sum
  of the other probabilities, which `1 - p_c` would round away.
* sparse: the loss of the true class depends only on its margin logit
  `z = x_t - logsumexp(x_j for j != t)`, because `p_t = sigmoid(z)` exactly; the
  binary formulas then apply to `z`.

So values are finite and gradients non-zero (wherever the true gradient is) for
logits of any size. Keras's `CategoricalFocalCrossentropy` clips probabilities
instead, and its gradient is exactly zero once the wrong class leads by about 17
logits.

The modulating factor `(1 - p_t)**gamma` is `exp(gamma * log(1 - p_t))` with the
logarithm taken from the logits, so `gamma < 1` keeps a finite gradient where
`p_t = 1`. For a whole-number `gamma` (the usual 1, 2, 3) it is `1 - p_t`, computed
as accurately, raised by multiplication: the same value without two more
transcendental functions per element.
"""

import numbers

import keras
import numpy as np
from keras import ops

from keras_losses import _backend
from keras_losses import _inputs
from keras_losses import _validation
from keras_losses.losses.base import function_twin
from keras_losses.losses.base import Loss

# Whole-number gammas up to this are raised by repeated multiplication.
_MAX_INTEGER_GAMMA = 16


# -- argument checks -------------------------------------------------------------


def _check_gamma(gamma):
    return _validation.non_negative_float("gamma", gamma)


def _check_label_smoothing(label_smoothing):
    return _validation.unit_interval("label_smoothing", label_smoothing)


def _check_binary_alpha(alpha):
    if alpha is None:
        return None
    return _validation.unit_interval("alpha", alpha)


_CLASS_ALPHA = "None, a non-negative float or a list of non-negative floats (one per class)"


def _check_class_alpha(alpha):
    """None, a non-negative float, or a list of non-negative floats (JSON-friendly)."""
    if alpha is None:
        return None
    if isinstance(alpha, numbers.Real) and not isinstance(alpha, bool):
        try:
            return _validation.non_negative_float("alpha", alpha)
        except ValueError:
            raise _validation.invalid("alpha", _CLASS_ALPHA, alpha) from None
    if isinstance(alpha, (str, bytes, dict)) or not hasattr(alpha, "__iter__"):
        raise _validation.invalid("alpha", _CLASS_ALPHA, alpha)
    if hasattr(alpha, "shape") and len(alpha.shape) != 1:
        raise _validation.invalid("alpha", _CLASS_ALPHA, alpha)
    values = list(np.asarray(alpha).tolist()) if hasattr(alpha, "shape") else list(alpha)
    if not values:
        raise _validation.invalid("alpha", _CLASS_ALPHA, alpha)
    weights = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise _validation.invalid("alpha", _CLASS_ALPHA, alpha)
        value = float(value)
        if not np.isfinite(value) or value < 0:
            raise _validation.invalid("alpha", _CLASS_ALPHA, alpha)
        weights.append(value)
    return weights


def _check_alpha_length(alpha, num_classes):
    """A per-class `alpha` must have one weight per class (checked once C is known)."""
    if isinstance(alpha, list) and num_classes is not None and len(alpha) != num_classes:
        raise _validation.invalid(
            "alpha", f"one weight per class ({num_classes} classes in `y_pred`)", alpha
        )


def _check_num_classes(y_pred, num_classes):
    if num_classes is not None and num_classes < 2:
        raise ValueError(
            "A categorical focal loss needs at least 2 classes along `axis`; `y_pred` "
            f"has shape {tuple(y_pred.shape)}. For one output per example use "
            "BinaryFocalLoss."
        )


# -- shared maths ----------------------------------------------------------------


def _integer_power(x, n):
    """`x**n` for a whole number n >= 1 by repeated squaring (no exp, no log)."""
    result = None
    while n:
        if n & 1:
            result = x if result is None else result * x
        n >>= 1
        if n:
            x = x * x
    return result


def _modulating_factor(gamma, one_minus_p, log_one_minus_p):
    """`(1 - p_t)**gamma`, or `None` for gamma 0 (a factor of 1).

    `log_one_minus_p` is a function, called only when gamma is not a whole number:
    then the factor is `exp(gamma * log(1 - p_t))`, whose gradient stays finite
    where `p_t = 1` even for `gamma < 1`.
    """
    if gamma == 0:
        return None
    if float(gamma).is_integer() and gamma <= _MAX_INTEGER_GAMMA:
        return _integer_power(one_minus_p, int(gamma))
    return ops.exp(gamma * log_one_minus_p())


def _times(factor, x):
    return x if factor is None else factor * x


def _sigmoid_terms(logits, labels):
    """Binary cross-entropy, `1 - p_t` and `log(1 - p_t)` of logits, in log space.

    With `p = sigmoid(x)`, soft labels `y` in [0, 1] and, as Keras defines them for
    soft labels, `p_t = y * p + (1 - y) * (1 - p)`. Let `e = exp(-|x|)` and `q` the
    weight of the less likely outcome (`1 - y` where `x >= 0`, else `y`):

        cross_entropy = -(y * log(p) + (1 - y) * log(1 - p)) = log1p(e) + q * |x|
        1 - p_t       = y * sigmoid(-x) + (1 - y) * sigmoid(x) = (q + (1 - q) * e) / (1 + e)

    Every term is a sum of non-negative parts, so nothing cancels, and `exp` only
    sees values <= 0. `|x|` is taken with one `where`, so the gradient at `x = 0` is
    the true one. Returns `(cross_entropy, one_minus_p_t, log_one_minus_p_t)`, the
    last a function (it costs one more `log`).
    """
    positive = ops.greater_equal(logits, 0)
    negative_abs = ops.where(positive, -logits, logits)  # -|x|
    q = ops.where(positive, 1 - labels, labels)
    e = ops.exp(negative_abs)
    log1p_e = ops.log1p(e)
    # log1p(e) + q * |x|, written as max(x, 0) - x * y + log1p(e) and the numerator
    # as below (not e + q * (1 - e)): XLA on a CPU fuses these forms best
    cross_entropy = ops.where(positive, logits, 0) - logits * labels + log1p_e
    numerator = q + (1 - q) * e
    # a reciprocal, not a division: the one the gradient of log1p(e) needs as well
    one_minus_p = numerator * ops.reciprocal(1 + e)

    def log_one_minus_p():
        # log(1 - p_t) = log(q + (1 - q) e) - log1p(e). The floor only acts where
        # q = 0 and e underflows: there the cross-entropy log1p(e) + q|x| is 0, so
        # the product with the factor is 0 whatever the factor.
        return ops.log(_at_least_tiny(numerator)) - log1p_e

    return cross_entropy, one_minus_p, log_one_minus_p


def _open_unit(p):
    """Probabilities moved into the open interval (0, 1) where they sit on or past an end.

    Only exact 0 and 1 (and values outside [0, 1]) change: the logarithms of the
    cross-entropy need it, and there is no finite loss to give otherwise. Such a
    value has a zero gradient; every probability strictly inside keeps its own.
    """
    info = np.finfo(_inputs.compute_dtype(p))
    # tensors of p's dtype: a Python float would be made float32 first, where the
    # float64 tiny is 0 and 1 - epsneg is 1, and nothing would change
    low = _inputs.constant(info.tiny, info.dtype)
    high = _inputs.constant(1 - info.epsneg, info.dtype)
    return ops.where(ops.less(p, low), low, ops.where(ops.greater(p, high), high, p))


def _at_least_tiny(x):
    """`x` floored at the smallest normal float of its dtype.

    A `where`, not `maximum`: Keras 3.15's PyTorch `maximum` returns float32 for
    float64 tensors, where the float64 floor is 0.
    """
    info = np.finfo(_inputs.compute_dtype(x))
    tiny = _inputs.constant(info.tiny, info.dtype)
    return ops.where(ops.less(x, tiny), tiny, x)


def _move_class_axis_last(x, axis):
    rank = len(x.shape)
    axis = axis % rank
    return x if axis == rank - 1 else ops.moveaxis(x, axis, -1)


def _margin_logits(logits, is_class):
    """`z = x_c - logsumexp(x_j for j != c)` of the class marked by `is_class`.

    `p_c = sigmoid(z)` exactly, so a class's cross-entropy and focal factor follow
    from `z` with the binary formulas. The sum over the other classes is shifted by
    their own maximum, so it is at least 1 and never underflows, however far ahead
    class `c` is. (The shift cancels in value, so it carries no gradient.)
    """
    others = ops.where(is_class, float("-inf"), logits)
    others_max = ops.stop_gradient(_backend.max_along(others, -1, keepdims=True))
    exp_others = ops.exp(others - others_max)  # 0 at the class itself
    log_others = ops.squeeze(others_max, -1) + ops.log(ops.sum(exp_others, axis=-1))
    class_logit = ops.sum(ops.where(is_class, logits, 0), axis=-1)
    return class_logit - log_others


# -- binary ----------------------------------------------------------------------


@function_twin
def binary_focal_loss(
    y_true,
    y_pred,
    *,
    gamma=2.0,
    alpha=0.25,
    from_logits=False,
    label_smoothing=0.0,
    axis=-1,
):
    """Binary focal loss (RetinaNet), the mean over `axis`.

    With `p` the predicted probability of the positive class and `y` the label:

        y             = y * (1 - label_smoothing) + 0.5 * label_smoothing
        p_t           = y * p + (1 - y) * (1 - p)
        alpha_t       = y * alpha + (1 - y) * (1 - alpha)     (1 when alpha is None)
        cross_entropy = -(y * log(p) + (1 - y) * log(1 - p))  (= -log(p_t) for y in {0, 1})
        loss          = mean(alpha_t * (1 - p_t)**gamma * cross_entropy, axis)

    For hard labels this is eq. 5 of Lin et al.; soft labels (smoothed or given) are
    weighted as `keras.losses.BinaryFocalCrossentropy` weighs them.

    From logits (`from_logits=True`, recommended) everything is computed in log
    space: finite values and gradients for logits of any size, with no saturation.
    From probabilities nothing is clipped except exact 0 and 1 (where the logarithm
    has no finite value): they are moved to the nearest representable probability
    inside (0, 1), and have a zero gradient there.

    Args:
        y_true: labels in [0, 1] (hard 0/1 or soft), `(batch, ..., d)`.
        y_pred: logits (with `from_logits=True`) or probabilities, the shape of
            `y_true`. 16-bit inputs are computed in float32.
        gamma: float >= 0, the focusing parameter; 0 gives the (alpha-weighted)
            binary cross-entropy. Default 2.
        alpha: float in [0, 1], the weight of positives (negatives get
            `1 - alpha`), or `None` for no class weight. Default 0.25.
        from_logits: whether `y_pred` holds logits. Default False.
        label_smoothing: float in [0, 1]; labels are squeezed towards 0.5.
        axis: the axis the mean is taken over. Default -1.

    Returns:
        Float tensor `(batch, ...)`: `y_pred`'s shape without `axis`.

    Example:

    >>> import numpy as np
    >>> loss = binary_focal_loss(np.array([[1.0]]), np.array([[0.0]]), from_logits=True)
    >>> print(f"{float(loss[0]):.5f}")  # 0.25 * (1 - 0.5)**2 * log(2)
    0.04332

    References:
        Lin, Goyal, Girshick, He and Dollar, 2017, "Focal Loss for Dense Object
        Detection", https://arxiv.org/abs/1708.02002
    """
    gamma = _check_gamma(gamma)
    alpha = _check_binary_alpha(alpha)
    label_smoothing = _check_label_smoothing(label_smoothing)
    from_logits = _validation.boolean("from_logits", from_logits)
    axis = _validation.integer("axis", axis)
    y_true, y_pred = _inputs.dense_pair(y_true, y_pred)
    _inputs.check_unit_interval(y_true)  # eager: a label of 2 or -3 would give a negative loss
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        cross_entropy, one_minus_p, log_one_minus_p = _sigmoid_terms(y_pred, y_true)
    else:
        p = _open_unit(y_pred)
        cross_entropy = -(y_true * ops.log(p) + (1 - y_true) * ops.log1p(-p))
        one_minus_p = y_true * (1 - p) + (1 - y_true) * p  # >= min(p, 1 - p) > 0

        def log_one_minus_p():
            return ops.log(one_minus_p)

    losses = _times(_modulating_factor(gamma, one_minus_p, log_one_minus_p), cross_entropy)
    if alpha is not None:
        # alpha_t = y * alpha + (1 - y) * (1 - alpha)
        losses = ((1.0 - alpha) + (2.0 * alpha - 1.0) * y_true) * losses
    return ops.mean(losses, axis=axis)


# -- categorical -----------------------------------------------------------------


def _class_weights(alpha, dtype):
    """`alpha` as a factor: None, a Python float, or a `(num_classes,)` tensor."""
    if isinstance(alpha, list):
        return ops.convert_to_tensor(np.asarray(alpha), dtype=dtype)
    return alpha


def _sums_at_and_below_max(values, at_max):
    """Per row: the sum of the values at the maximum, and of the others, kept apart."""
    top = ops.sum(ops.where(at_max, values, 0), axis=-1, keepdims=True)
    others = ops.sum(ops.where(at_max, 0, values), axis=-1, keepdims=True)
    return top, others


def _focal_terms(p, neg_log_p, at_max, top, others, gamma):
    """`-log(p_c)` and `(1 - p_c)**gamma` per class, with `1 - p_c` done right.

    Only a largest class can have `p_c` near 1, where `1 - p_c` would round away
    what it is made of: there it is the sum of the other probabilities (the other
    largest ones and the rest, summed apart, so ties keep their gradients). For
    every other class `p_c <= 1/2`, and `1 - p_c` is exact enough as it stands.
    """
    one_minus_p = ops.where(at_max, others + (top - p), 1 - p)

    def log_one_minus_p():
        # floored only where 1 - p_c underflows: there -log(p_c) is 0 as well
        return ops.log(_at_least_tiny(one_minus_p))

    return neg_log_p, _modulating_factor(gamma, one_minus_p, log_one_minus_p)


def _softmax_focal_terms(logits, gamma):
    """Per class: `-log(p_c)` and the focal factor `(1 - p_c)**gamma` of logits.

    `log(p) = log_softmax(x)`, so `-log(p_c)` is finite and has its true gradient
    `p - onehot` for logits of any size (no probability is clipped), and `p =
    exp(log(p))`; `1 - p_c` as `_focal_terms` says.
    """
    log_p = ops.log_softmax(logits, axis=-1)
    p = ops.exp(log_p)
    at_max = ops.greater_equal(log_p, _backend.max_along(log_p, -1, keepdims=True))
    top, others = _sums_at_and_below_max(p, at_max)
    return _focal_terms(p, -log_p, at_max, top, others, gamma)


def _probability_focal_terms(probabilities, gamma):
    """As `_softmax_focal_terms`, from probabilities.

    They are normalized to sum to 1 along the last axis, as Keras does. Logarithms
    see at least the smallest normal float: only an exact 0 changes, where the
    cross-entropy has no finite value.
    """
    at_max = ops.greater_equal(
        probabilities, _backend.max_along(probabilities, -1, keepdims=True)
    )
    top, others = _sums_at_and_below_max(probabilities, at_max)
    inverse_total = ops.reciprocal(top + others)  # one division per row
    p = probabilities * inverse_total
    neg_log_p = -ops.log(_at_least_tiny(p))
    return _focal_terms(
        p, neg_log_p, at_max, top * inverse_total, others * inverse_total, gamma
    )


@function_twin
def categorical_focal_loss(
    y_true,
    y_pred,
    *,
    gamma=2.0,
    alpha=None,
    from_logits=False,
    label_smoothing=0.0,
    axis=-1,
):
    """Focal loss on one-hot (or soft) labels over classes along `axis`.

        y    = y * (1 - label_smoothing) + label_smoothing / num_classes
        loss = sum over classes c of alpha_c * y_c * (1 - p_c)**gamma * -log(p_c)

    which for a one-hot label is eq. 5 of Lin et al.: `-alpha_t * (1 - p_t)**gamma *
    log(p_t)`. From logits it is computed in log space (see the module docstring):
    no clipping, finite values and a non-zero gradient wherever the true gradient
    is non-zero, for logits of any size. From probabilities (normalized to sum to 1
    along `axis`, as Keras does) only an exact 0 is moved to the smallest normal
    float before its logarithm.

    Args:
        y_true: one-hot or soft labels, `(batch, ..., num_classes)` (classes along
            `axis`).
        y_pred: logits (with `from_logits=True`) or probabilities, the shape of
            `y_true`.
        gamma: float >= 0, the focusing parameter; 0 gives the cross-entropy.
        alpha: `None` (no weight), a non-negative float (one factor for every
            class, as Keras applies its scalar `alpha`), or a list of non-negative
            floats, one per class.
        from_logits: whether `y_pred` holds logits. Default False.
        label_smoothing: float in [0, 1].
        axis: the class axis. Default -1.

    Returns:
        Float tensor: `y_pred`'s shape without `axis`, one value per example.

    Example:

    >>> import numpy as np
    >>> logits = np.array([[0.0, 0.0]])  # p_t = 0.5
    >>> loss = categorical_focal_loss(np.array([[1.0, 0.0]]), logits, from_logits=True)
    >>> print(f"{float(loss[0]):.5f}")  # (1 - 0.5)**2 * log(2)
    0.17329

    References:
        Lin, Goyal, Girshick, He and Dollar, 2017, "Focal Loss for Dense Object
        Detection", https://arxiv.org/abs/1708.02002
    """
    gamma = _check_gamma(gamma)
    alpha = _check_class_alpha(alpha)
    label_smoothing = _check_label_smoothing(label_smoothing)
    from_logits = _validation.boolean("from_logits", from_logits)
    axis = _validation.integer("axis", axis)
    y_true, y_pred = _inputs.dense_pair(y_true, y_pred)
    y_true = _move_class_axis_last(y_true, axis)
    y_pred = _move_class_axis_last(y_pred, axis)
    num_classes = y_pred.shape[-1]
    _check_num_classes(y_pred, num_classes)
    _check_alpha_length(alpha, num_classes)
    if label_smoothing:
        classes = ops.cast(_inputs.class_count(y_pred), y_pred.dtype)
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / classes
    terms = _softmax_focal_terms if from_logits else _probability_focal_terms
    neg_log_p, factor = terms(y_pred, gamma)
    # a class with no label weight adds 0, also where its -log(p) overflowed to inf
    # (a logit gap beyond the float range), which 0 * inf would make NaN
    losses = _times(factor, ops.where(ops.greater(y_true, 0), y_true * neg_log_p, 0))
    weights = _class_weights(alpha, _inputs.compute_dtype(losses))
    if weights is not None:
        losses = weights * losses
    return ops.sum(losses, axis=-1)


# -- sparse ----------------------------------------------------------------------


def _sparse_focal_terms(y_pred, is_target, gamma, from_logits):
    """`-log(p_t)` and `(1 - p_t)**gamma` of the target class, one per position."""
    if from_logits:
        z = _margin_logits(y_pred, is_target)
        # p_t = sigmoid(z): the binary terms of the margin logit with a positive label
        cross_entropy, one_minus_p, log_one_minus_p = _sigmoid_terms(z, ops.ones_like(z))
    else:
        total = ops.sum(y_pred, axis=-1)
        p_t = ops.sum(ops.where(is_target, y_pred, 0), axis=-1) / total
        one_minus_p = ops.sum(ops.where(is_target, 0, y_pred), axis=-1) / total
        cross_entropy = -ops.log(_at_least_tiny(p_t))

        def log_one_minus_p():
            return ops.log(_at_least_tiny(one_minus_p))

    return _times(_modulating_factor(gamma, one_minus_p, log_one_minus_p), cross_entropy)


@function_twin
def sparse_categorical_focal_loss(
    y_true,
    y_pred,
    *,
    gamma=2.0,
    alpha=None,
    from_logits=False,
    ignore_class=None,
    axis=-1,
):
    """`categorical_focal_loss` with integer labels, one value per position.

        loss = -alpha_t * (1 - p_t)**gamma * log(p_t)      (Lin et al., eq. 5)

    On spatial outputs (segmentation) `y_pred` is `(batch, H, W, num_classes)` and
    `y_true` `(batch, H, W)`: one loss per pixel. Positions labelled `ignore_class`
    get a loss of 0 and a Keras mask, so that the loss classes leave them out of
    the mean, as `keras.losses.SparseCategoricalCrossentropy(ignore_class=...)` does.

    A label outside `[0, num_classes)` (other than `ignore_class`) raises
    `ValueError` in eager mode; in a compiled function, where nothing can raise,
    the loss at that position is NaN.

    Args:
        y_true: integer labels, `y_pred`'s shape without `axis` (a trailing axis of
            1 is accepted).
        y_pred: logits (with `from_logits=True`) or probabilities,
            `(batch, ..., num_classes)` with the classes along `axis`.
        gamma: float >= 0; 0 gives the sparse cross-entropy.
        alpha: `None`, a non-negative float, or a list of non-negative floats,
            one per class (`alpha_t` is the weight of the label's class).
        from_logits: whether `y_pred` holds logits. Default False.
        ignore_class: an integer label to leave out, or `None`.
        axis: the class axis of `y_pred`. Default -1.

    Returns:
        Float tensor of `y_true`'s shape (without a trailing axis of 1).

    Example:

    >>> import numpy as np
    >>> logits = np.array([[0.0, 0.0], [3.0, -3.0]])
    >>> loss = sparse_categorical_focal_loss(np.array([0, 1]), logits, from_logits=True)
    >>> print(f"{float(loss[0]):.5f}")  # (1 - 0.5)**2 * log(2)
    0.17329

    References:
        Lin, Goyal, Girshick, He and Dollar, 2017, "Focal Loss for Dense Object
        Detection", https://arxiv.org/abs/1708.02002
    """
    gamma = _check_gamma(gamma)
    alpha = _check_class_alpha(alpha)
    from_logits = _validation.boolean("from_logits", from_logits)
    ignore_class = _validation.integer("ignore_class", ignore_class, allow_none=True)
    axis = _validation.integer("axis", axis)
    y_pred = _inputs.floats(y_pred)
    if len(y_pred.shape) < 2:
        raise ValueError(
            "`y_pred` must hold one score per class, (batch, ..., num_classes); "
            f"received shape {tuple(y_pred.shape)}."
        )
    labels = _inputs.class_labels(y_true, y_pred, axis)
    y_pred = _move_class_axis_last(y_pred, axis)
    _check_num_classes(y_pred, y_pred.shape[-1])
    _check_alpha_length(alpha, y_pred.shape[-1])
    num_classes = _inputs.class_count(y_pred)  # a tensor when unknown until run time

    in_range = _inputs.labels_in_range(labels, num_classes, ignore_class)
    kept = None if ignore_class is None else ops.not_equal(labels, ignore_class)
    has_target = in_range if kept is None else ops.logical_and(in_range, kept)
    targets = ops.where(has_target, labels, 0)
    is_target = ops.equal(ops.expand_dims(targets, -1), ops.arange(num_classes, dtype="int32"))

    losses = _sparse_focal_terms(y_pred, is_target, gamma, from_logits)
    weights = _class_weights(alpha, _inputs.compute_dtype(losses))
    if isinstance(alpha, list):
        losses = ops.take(weights, targets) * losses
    elif alpha is not None:
        losses = alpha * losses
    if kept is not None:
        losses = ops.where(kept, losses, 0)
    losses = ops.where(in_range, losses, float("nan"))
    if kept is not None:
        _backend.set_mask(losses, kept)
    return losses


# -- classes ---------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="keras_losses")
class BinaryFocalLoss(Loss):
    """Binary focal loss of RetinaNet, stable from logits; see `binary_focal_loss`.

    `alpha` weighs positives by `alpha` and negatives by `1 - alpha`; `alpha=None`
    turns the weight off (no hidden switch: a given `alpha` is always applied).
    Equals `keras.losses.BinaryFocalCrossentropy(apply_class_balancing=alpha is not
    None, alpha=0.25 if alpha is None else alpha, ...)` on TensorFlow; with
    `gamma=0, alpha=None` it is `keras.losses.BinaryCrossentropy`.

    Example:

    >>> import keras
    >>> from keras_losses.initializers import PriorProbability
    >>> head = keras.layers.Dense(1, bias_initializer=PriorProbability(0.01))
    >>> model = keras.Sequential([keras.Input((4,)), head])  # logits, no sigmoid
    >>> model.compile(optimizer="adam", loss=BinaryFocalLoss(from_logits=True))
    """

    function = staticmethod(binary_focal_loss)

    def __init__(
        self,
        gamma=2.0,
        alpha=0.25,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="binary_focal_loss",
        dtype=None,
    ):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.gamma = _check_gamma(gamma)
        self.alpha = _check_binary_alpha(alpha)
        self.from_logits = _validation.boolean("from_logits", from_logits)
        self.label_smoothing = _check_label_smoothing(label_smoothing)
        self.axis = _validation.integer("axis", axis)

    def class_axis(self):
        return self.axis


@keras.saving.register_keras_serializable(package="keras_losses")
class CategoricalFocalLoss(Loss):
    """Focal loss on one-hot labels, stable from logits; see `categorical_focal_loss`.

    `alpha`: `None` (no weight), a non-negative float (one factor for every class),
    or a list with one non-negative weight per class. Equals
    `keras.losses.CategoricalFocalCrossentropy(alpha=1.0 if alpha is None else
    alpha, ...)` wherever that one does not saturate; unlike it, this one keeps a
    non-zero gradient when the wrong class leads by many logits.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> model.compile(optimizer="adam", loss=CategoricalFocalLoss(from_logits=True))
    """

    function = staticmethod(categorical_focal_loss)

    def __init__(
        self,
        gamma=2.0,
        alpha=None,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="categorical_focal_loss",
        dtype=None,
    ):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.gamma = _check_gamma(gamma)
        self.alpha = _check_class_alpha(alpha)
        self.from_logits = _validation.boolean("from_logits", from_logits)
        self.label_smoothing = _check_label_smoothing(label_smoothing)
        self.axis = _validation.integer("axis", axis)

    def class_axis(self):
        return self.axis


@keras.saving.register_keras_serializable(package="keras_losses")
class SparseCategoricalFocalLoss(Loss):
    """Focal loss on integer labels, per position; see `sparse_categorical_focal_loss`.

    For segmentation: `y_pred` `(batch, H, W, classes)`, `y_true` `(batch, H, W)`.
    Pixels labelled `ignore_class` neither weigh nor count in the mean; a
    `(batch,)` `sample_weight` weighs whole images, a `(batch, H, W)` one weighs
    pixels. With `gamma=0, alpha=None` it equals
    `keras.losses.SparseCategoricalCrossentropy`, `ignore_class` included.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(5, 1)])
    >>> model.compile(
    ...     optimizer="adam",
    ...     loss=SparseCategoricalFocalLoss(from_logits=True, ignore_class=255),
    ... )
    """

    function = staticmethod(sparse_categorical_focal_loss)
    sparse_labels = True

    def __init__(
        self,
        gamma=2.0,
        alpha=None,
        from_logits=False,
        ignore_class=None,
        axis=-1,
        reduction="sum_over_batch_size",
        name="sparse_categorical_focal_loss",
        dtype=None,
    ):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.gamma = _check_gamma(gamma)
        self.alpha = _check_class_alpha(alpha)
        self.from_logits = _validation.boolean("from_logits", from_logits)
        self.ignore_class = _validation.integer("ignore_class", ignore_class, allow_none=True)
        self.axis = _validation.integer("axis", axis)

    def class_axis(self):
        return self.axis
