"""Every verification case, family by family. A new family adds its module here."""

from keras_losses.verify.cases import contrastive
from keras_losses.verify.cases import hierarchical
from keras_losses.verify.cases import focal
from keras_losses.verify.cases import hinges
from keras_losses.verify.cases import regression
from keras_losses.verify.cases import regularizers
from keras_losses.verify.cases import metric_learning
from keras_losses.verify.cases import crf
from keras_losses.verify.cases import linear_cross_entropy

CASES = [
    *regression.CASES,
    *hinges.CASES,
    *contrastive.CASES,
    *regularizers.CASES,
    *hierarchical.CASES,
    *focal.CASES,
    *metric_learning.CASES,
    *crf.CASES,
    *linear_cross_entropy.CASES,
]


def by_name():
    """The cases as a dict keyed by name (names are unique)."""
    found = {}
    for case in CASES:
        if case.name in found:
            raise ValueError(f"Two verification cases are named {case.name!r}.")
        found[case.name] = case
    return found
