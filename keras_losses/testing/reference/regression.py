"""NumPy oracle of the regression loss (`losses/regression.py`)."""

import numpy as np


def mean_squared_logarithmic_error(y_true, y_pred):
    """mean((log(1 + y_pred) - log(1 + y_true))**2) over the last axis, for y >= 0."""
    return np.mean((np.log(1.0 + y_pred) - np.log(1.0 + y_true)) ** 2, axis=-1)
