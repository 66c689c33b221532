"""NumPy oracles of the row-sparse updates (`keras_losses.optimizers`), written from the rules.

Plain NumPy, one row at a time where that is clearer, so that they share nothing
with the code they check.
"""

import numpy as np


def sum_repeated_rows(indices, values):
    """`{row: summed gradient}` for a row gradient whose rows may repeat."""
    total = {}
    for row, value in zip(np.asarray(indices).reshape(-1).tolist(), np.asarray(values, np.float64)):
        total[row] = total.get(row, 0.0) + value
    return total


def lazy_adam_step(weights, m, v, step, indices, values, learning_rate=0.001, beta_1=0.9, beta_2=0.999,
                   epsilon=1e-7):
    """One lazy Adam step (`step` counts from 1); returns new `(weights, m, v)`.

    For each distinct row r of the gradient, with g its summed gradient:
    m[r] = b1 m[r] + (1 - b1) g; v[r] = b2 v[r] + (1 - b2) g^2;
    w[r] -= lr sqrt(1 - b2^t) / (1 - b1^t) m[r] / (sqrt(v[r]) + eps). Other rows unchanged.
    """
    weights, m, v = (np.array(a, np.float64) for a in (weights, m, v))
    alpha = learning_rate * np.sqrt(1 - beta_2**step) / (1 - beta_1**step)
    for row, g in sum_repeated_rows(indices, values).items():
        m[row] = beta_1 * m[row] + (1 - beta_1) * g
        v[row] = beta_2 * v[row] + (1 - beta_2) * g * g
        weights[row] = weights[row] - alpha * m[row] / (np.sqrt(v[row]) + epsilon)
    return weights, m, v


def adam_step(weights, m, v, step, gradient, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """One dense Adam step (Keras's placement of epsilon); returns new `(weights, m, v)`."""
    weights, m, v, g = (np.array(a, np.float64) for a in (weights, m, v, gradient))
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g * g
    alpha = learning_rate * np.sqrt(1 - beta_2**step) / (1 - beta_1**step)
    return weights - alpha * m / (np.sqrt(v) + epsilon), m, v


def sgd_rows_step(weights, indices, values, learning_rate):
    """Plain SGD with a row gradient: each listed row moves by -lr times its values (repeats add)."""
    weights = np.array(weights, np.float64)
    for row, g in sum_repeated_rows(indices, values).items():
        weights[row] = weights[row] - learning_rate * g
    return weights


def hierarchical_path_rows(hidden, labels, kernel, bias, paths, codes):
    """Row gradients of the mean hierarchical-softmax NLL over a batch, path by path.

    The loss of an example is `sum over its path of -log_sigmoid(code * (h . w[node] + b[node]))`;
    `d/dz -log_sigmoid(s z) = -s * sigmoid(-s z)`. The batch loss is the mean.

    Args:
        paths, codes: per class, lists of node ids and +1/-1 codes (unpadded).

    Returns:
        `(nodes, kernel_rows, bias_rows)`: one entry per (example, path position),
        rows repeated when examples share nodes.
    """
    hidden, kernel, bias = (np.asarray(a, np.float64) for a in (hidden, kernel, bias))
    nodes, kernel_rows, bias_rows = [], [], []
    batch = len(labels)
    for h, label in zip(hidden, np.asarray(labels).tolist()):
        for node, code in zip(paths[label], codes[label]):
            z = h @ kernel[node] + bias[node]
            dz = -code / (1.0 + np.exp(code * z)) / batch  # -s sigmoid(-s z) / batch
            nodes.append(node)
            kernel_rows.append(dz * h)
            bias_rows.append(dz)
    return np.array(nodes), np.array(kernel_rows), np.array(bias_rows)
