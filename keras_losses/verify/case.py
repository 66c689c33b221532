"""What one verification case is: an object, its inputs, and what it must equal."""

import dataclasses
from typing import Callable

import numpy as np

NUMPY = "numpy"  # a NumPy oracle of testing/reference/<family>.py; gradient by finite differences
KERAS = "keras"  # a Keras built-in on the active backend; gradient by autodiff (float32)
TORCH = "torch"  # a PyTorch built-in on the CPU in float64; gradient by autograd


@dataclasses.dataclass(frozen=True)
class Reference:
    """Something the object under test must equal, values and gradients.

    Attributes:
        name: how the report names it, e.g. "keras.losses.Hinge".
        kind: `NUMPY`, `KERAS` or `TORCH`.
        fn: for `NUMPY`, `fn(**inputs)` on float64 arrays returning values; for
            `KERAS`, a builder `fn()` of the built-in, which is then called like the
            object under test; for `TORCH`, `fn(**inputs)` on float64 torch tensors.
        backends: the Keras backends it runs on (`None`: all).
        library: the Python package it needs besides Keras and the active backend
            (default: "torch" for `TORCH`, none otherwise). Where that package is
            not installed, the reference is skipped, and the report says so.
    """

    name: str
    kind: str
    fn: Callable
    backends: tuple = None
    library: str = None

    @property
    def requires(self):
        """The package this reference imports, or `None`."""
        if self.library is not None:
            return self.library
        return "torch" if self.kind == TORCH else None


@dataclasses.dataclass(frozen=True)
class Case:
    """One object under test with one configuration.

    Attributes:
        name: a readable name, unique across cases, e.g. "Hinge(margin=0.5)".
        family: the module it belongs to ("hinge", "focal", ...).
        build: `build()` returns the object under test (a loss built with
            `reduction=None`, so values are per example, or a regularizer).
        inputs: `inputs(rng)` returns a dict of NumPy arrays, the keyword
            arguments of the call (floats in float64, labels and ids as integers).
        references: what it must equal.
        wrt: the input the gradient is taken with respect to.
        low_precision: the inputs that take the 16-bit test dtype (model outputs,
            weights); other float inputs stay float32, as a dataset gives them.
        quick: whether `--quick` runs it.
        call: how to apply the object; default `obj(**inputs)`.
    """

    name: str
    family: str
    build: Callable
    inputs: Callable
    references: tuple
    wrt: str = "y_pred"
    low_precision: tuple = ("y_pred",)
    quick: bool = False
    call: Callable = None

    def apply(self, obj, inputs):
        if self.call is not None:
            return self.call(obj, **inputs)
        return obj(**inputs)


def draw(rng, sample, accept, tries=100):
    """Draws `sample(rng)` until `accept(result)`; deterministic for a seeded rng.

    Inputs of a loss with kinks (hinges, maxima) are drawn until every kink is
    clearly away, so finite differences and tolerances are not taken across one.
    """
    for _ in range(tries):
        result = sample(rng)
        if accept(result):
            return result
    raise RuntimeError("Could not draw inputs away from the kinks; widen the sampler.")
