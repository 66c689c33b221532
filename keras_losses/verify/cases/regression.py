"""Verification cases of keras_losses.losses.regression."""

import keras
import numpy as np

from keras_losses.losses import regression
from keras_losses.testing.reference import regression as reference
from keras_losses.verify.case import KERAS
from keras_losses.verify.case import NUMPY
from keras_losses.verify.case import Case
from keras_losses.verify.case import Reference


def _non_negative_pair(rng):
    # Targets over three orders of magnitude, as MSLE is meant for.
    return {
        "y_true": np.exp(rng.uniform(-2.0, 5.0, (8, 4))),
        "y_pred": np.exp(rng.uniform(-2.0, 5.0, (8, 4))),
    }


CASES = [
    Case(
        name="MeanSquaredLogarithmicError",
        family="regression",
        build=lambda: regression.MeanSquaredLogarithmicError(reduction=None),
        inputs=_non_negative_pair,
        references=(
            Reference("NumPy formula", NUMPY, reference.mean_squared_logarithmic_error),
            Reference(
                "keras.losses.MeanSquaredLogarithmicError",
                KERAS,
                lambda: keras.losses.MeanSquaredLogarithmicError(reduction=None),
            ),
        ),
        quick=True,
    ),
]
