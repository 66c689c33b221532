"""Plain NumPy oracles, written from the formulas in the papers and course notes.

One module per family, named as its verification cases are (`verify/cases/<family>.py`
checks the package against `reference/<family>.py`): `regression`, `hinges`, `focal`,
`contrastive`, `hierarchical` (and the trees), `regularizers`, `metric_learning` (with
the quantile and sparsemax losses), `crf`, `linear_cross_entropy`, and `optimizers`
(row-sparse updates, checked by the tests only).

Each oracle takes float64 NumPy arrays and returns the per-example values in float64.
They are slow and obvious on purpose: loops where the formula has a sum over classes,
no shared code with the package. The verification command and the tests compare the
package against these, and against the built-ins of Keras, TensorFlow and PyTorch
where one exists; gradients are compared against `finite_difference_vjp` below."""

import numpy as np


def finite_difference_vjp(fn, inputs, wrt, cotangent, step=1e-6):
    """d sum(fn(**inputs) * cotangent) / d inputs[wrt] by central differences.

    In float64 with a step relative to each entry, accurate to about 1e-8 where `fn`
    is smooth near the input (test inputs keep away from kinks).
    """
    inputs = {k: np.asarray(v) for k, v in inputs.items()}
    x = inputs[wrt].astype(np.float64)
    grad = np.zeros_like(x)
    flat = grad.reshape(-1)
    for index in range(x.size):
        h = step * max(1.0, abs(x.flat[index]))
        plus, minus = x.copy(), x.copy()
        plus.flat[index] += h
        minus.flat[index] -= h
        f_plus = np.sum(fn(**{**inputs, wrt: plus}) * cotangent)
        f_minus = np.sum(fn(**{**inputs, wrt: minus}) * cotangent)
        flat[index] = (f_plus - f_minus) / (2 * h)
    return grad
