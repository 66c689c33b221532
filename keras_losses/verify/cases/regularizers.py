"""Verification cases of keras_losses.regularizers.

A regularizer is called on one weight, `obj(x)`, and returns a scalar: the inputs
are `{"x": weights}`, the weights take the 16-bit test dtype (as under a float16
or bfloat16 policy), and the gradient is taken with respect to them.
"""

import functools

import keras
import numpy as np

from keras_losses.regularizers import penalties
from keras_losses.testing.reference import regularizers as reference
from keras_losses.verify.case import KERAS
from keras_losses.verify.case import NUMPY
from keras_losses.verify.case import TORCH
from keras_losses.verify.case import Case
from keras_losses.verify.case import Reference
from keras_losses.verify.case import draw

DENSE = (6, 4)  # a Dense kernel (input_dim, units)
CONV = (3, 3, 2, 4)  # a Conv2D kernel (height, width, in_channels, filters)


def _weights(shape, away_from_zero=0.05, scale=1.0, zero_rows=()):
    """Weights with no entry near 0 (the kink of |w|); rows in `zero_rows` all 0."""

    def sample(rng):
        return rng.normal(0.0, scale, shape)

    def inputs(rng):
        x = draw(rng, sample, lambda x: np.min(np.abs(x)) > away_from_zero)
        for row in zero_rows:
            x[row] = 0.0
        return {"x": x}

    return inputs


def _norms_away_from(shape, axis, max_value, scale, zero_rows=()):
    """Weights whose group norms are all clearly inside or outside `max_value`."""

    def sample(rng):
        x = rng.normal(0.0, scale, shape)
        for row in zero_rows:
            x[row] = 0.0
        return x

    def accept(x):
        norms = reference._group_norms(x, axis)
        return np.min(np.abs(norms - max_value)) > 0.05 and np.sum(norms > max_value) >= 2

    return lambda rng: {"x": draw(rng, sample, accept)}


def _numpy(fn, **kwargs):
    return Reference("NumPy formula", NUMPY, functools.partial(fn, **kwargs))


def _keras(name, build):
    return Reference(name, KERAS, build)


def _torch_group_norms(x, axis):
    import torch

    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    squares = torch.sum(x * x, dim=axes)
    # torch.linalg.vector_norm has a NaN gradient at a zero group; the cases with
    # zero groups compare against NumPy only.
    return torch.sqrt(squares)


def _torch_max_norm(max_value, strength, axis):
    def fn(x):
        import torch

        excess = torch.clamp(_torch_group_norms(x, axis) - max_value, min=0.0)
        return strength * torch.sum(excess**2)

    return Reference("torch max-norm penalty", TORCH, fn)


def _torch_group_lasso(strength, axis):
    def fn(x):
        import torch

        return strength * torch.sum(_torch_group_norms(x, axis))

    return Reference("torch group lasso", TORCH, fn)


def _tf_l2_loss(l2):
    """`l2 * tf.nn.l2_loss(w)`: TensorFlow's half sum of squares."""

    def build():
        import tensorflow as tf

        return lambda x: l2 * tf.nn.l2_loss(x)

    return Reference(f"{l2} * tf.nn.l2_loss", KERAS, build, backends=("tensorflow",))


def _case(name, build, inputs, references, quick=False):
    return Case(
        name=name,
        family="regularizers",
        build=build,
        inputs=inputs,
        references=tuple(references),
        wrt="x",
        low_precision=("x",),
        quick=quick,
    )


CASES = [
    _case(
        "L1",
        lambda: penalties.L1(),
        _weights(DENSE),
        [
            _numpy(reference.l1_penalty, l1=0.01),
            _keras("keras.regularizers.L1", lambda: keras.regularizers.L1(0.01)),
        ],
        quick=True,
    ),
    _case(
        "L1(l1=0.3), conv kernel",
        lambda: penalties.L1(l1=0.3),
        _weights(CONV),
        [
            _numpy(reference.l1_penalty, l1=0.3),
            _keras("keras.regularizers.L1", lambda: keras.regularizers.L1(0.3)),
        ],
    ),
    _case(
        "L2",
        lambda: penalties.L2(),
        _weights(DENSE, away_from_zero=0.0),
        [
            _numpy(reference.l2_penalty, l2=0.01),
            _keras("keras.regularizers.L2", lambda: keras.regularizers.L2(0.01)),
        ],
        quick=True,
    ),
    _case(
        "L2(l2=0.05, half=True)",
        lambda: penalties.L2(l2=0.05, half=True),
        _weights(DENSE, away_from_zero=0.0),
        [
            _numpy(reference.l2_penalty, l2=0.05, half=True),
            _keras("keras.regularizers.L2(0.025)", lambda: keras.regularizers.L2(0.025)),
            _tf_l2_loss(0.05),
        ],
        quick=True,
    ),
    _case(
        "L2(l2=0.5), large weights",
        lambda: penalties.L2(l2=0.5),
        _weights((16, 16), away_from_zero=0.0, scale=30.0),  # sum of squares ~2e5 > float16 max
        [_numpy(reference.l2_penalty, l2=0.5)],
    ),
    _case(
        "ElasticNet",
        lambda: penalties.ElasticNet(),
        _weights(DENSE),
        [
            _numpy(reference.elastic_net_penalty, l1=0.01, l2=0.01),
            _keras(
                "keras.regularizers.L1L2(0.01, 0.01)",
                lambda: keras.regularizers.L1L2(l1=0.01, l2=0.01),
            ),
        ],
        quick=True,
    ),
    _case(
        "ElasticNet(l1=0.2, l2=0.05)",
        lambda: penalties.ElasticNet(l1=0.2, l2=0.05),
        _weights(CONV),
        [
            _numpy(reference.elastic_net_penalty, l1=0.2, l2=0.05),
            _keras(
                "keras.regularizers.L1L2(0.2, 0.05)",
                lambda: keras.regularizers.L1L2(l1=0.2, l2=0.05),
            ),
        ],
    ),
    _case(
        "MaxNormPenalty(max_value=2.0)",
        lambda: penalties.MaxNormPenalty(max_value=2.0),
        _norms_away_from(DENSE, 0, 2.0, scale=1.0),
        [
            _numpy(reference.max_norm_penalty, max_value=2.0, strength=0.01, axis=0),
            _torch_max_norm(2.0, 0.01, 0),
        ],
        quick=True,
    ),
    _case(
        "MaxNormPenalty(max_value=1.5, strength=0.2, axis=[0, 1, 2]), conv kernel",
        lambda: penalties.MaxNormPenalty(max_value=1.5, strength=0.2, axis=[0, 1, 2]),
        _norms_away_from(CONV, (0, 1, 2), 1.5, scale=0.4),
        [
            _numpy(reference.max_norm_penalty, max_value=1.5, strength=0.2, axis=(0, 1, 2)),
            _torch_max_norm(1.5, 0.2, (0, 1, 2)),
        ],
    ),
    _case(
        "MaxNormPenalty(max_value=0.5, axis=1), zero rows",
        lambda: penalties.MaxNormPenalty(max_value=0.5, axis=1),
        _norms_away_from(DENSE, 1, 0.5, scale=0.5, zero_rows=(1, 4)),
        [_numpy(reference.max_norm_penalty, max_value=0.5, strength=0.01, axis=1)],
    ),
    _case(
        "GroupLasso",
        lambda: penalties.GroupLasso(),
        _weights(DENSE, away_from_zero=0.0),
        [
            _numpy(reference.group_lasso_penalty, strength=0.01, axis=1),
            _torch_group_lasso(0.01, 1),
        ],
        quick=True,
    ),
    _case(
        "GroupLasso(strength=0.3, axis=0)",
        lambda: penalties.GroupLasso(strength=0.3, axis=0),
        _weights(DENSE, away_from_zero=0.0),
        [
            _numpy(reference.group_lasso_penalty, strength=0.3, axis=0),
            _torch_group_lasso(0.3, 0),
        ],
    ),
    _case(
        "GroupLasso(axis=[0, 1, 3]), conv kernel",
        lambda: penalties.GroupLasso(axis=[0, 1, 3]),
        _weights(CONV, away_from_zero=0.0),
        [
            _numpy(reference.group_lasso_penalty, strength=0.01, axis=(0, 1, 3)),
            _torch_group_lasso(0.01, (0, 1, 3)),
        ],
    ),
    # A zero row: the norm's kink. Central differences there are 0 by symmetry, the
    # subgradient the penalty uses; a NaN gradient (sqrt at 0) would fail.
    _case(
        "GroupLasso(strength=0.1), zero rows",
        lambda: penalties.GroupLasso(strength=0.1),
        _weights(DENSE, away_from_zero=0.0, zero_rows=(0, 3)),
        [_numpy(reference.group_lasso_penalty, strength=0.1, axis=1)],
        quick=True,
    ),
]
