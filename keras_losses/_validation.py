"""Argument checks shared by every public object, with errors in the Keras form.

    Invalid value for argument `gamma`: expected a non-negative float. Received: gamma=-1

The rule: every public function checks each of its hyperparameters (not its tensors)
before it computes, through its family's `_check_*` helpers built on this module; a
class calls the same checks in `__init__` and stores what they return, so a bad
argument fails at construction, with the same message as the function. Layers,
regularizers, initializers and the optimizer check their arguments in `__init__`
the same way. A message in this form is written only here (`invalid`).
"""

import math
import numbers


def invalid(name, expected, value):
    """The `ValueError` for argument `name`, in the form Keras uses."""
    return ValueError(
        f"Invalid value for argument `{name}`: expected {expected}. "
        f"Received: {name}={value!r}"
    )


def invalid_shape(name, expected, shape):
    """The `ValueError` for tensor argument `name` of the wrong shape, in the same form."""
    return ValueError(
        f"Invalid value for argument `{name}`: expected {expected}. "
        f"Received shape {tuple(shape)}."
    )


def _real(name, value, expected, accept):
    """`value` as a float when it is a finite real number that `accept`s, else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise invalid(name, expected, value)
    number = float(value)
    if not math.isfinite(number) or not accept(number):
        raise invalid(name, expected, value)
    return number


def non_negative_float(name, value):
    """A finite float >= 0."""
    return _real(name, value, "a non-negative float", lambda v: v >= 0)


def positive_float(name, value):
    """A finite float > 0."""
    return _real(name, value, "a positive finite float", lambda v: v > 0)


def finite_float(name, value):
    """Any finite float."""
    return _real(name, value, "a finite float", lambda v: True)


def unit_interval(name, value, *, open_low=False, open_high=False):
    """A float in [0, 1]; either end may be excluded."""
    low, high = ("(" if open_low else "["), (")" if open_high else "]")
    expected = f"a float in {low}0, 1{high}"
    return _real(
        name,
        value,
        expected,
        lambda v: (v > 0 if open_low else v >= 0) and (v < 1 if open_high else v <= 1),
    )


def boolean(name, value):
    if not isinstance(value, bool):
        raise invalid(name, "a bool", value)
    return value


def integer(name, value, *, minimum=None, allow_none=False):
    """An int (not a bool), optionally >= `minimum`; `None` when `allow_none`."""
    if value is None and allow_none:
        return None
    expected = "an integer" if minimum is None else f"an integer >= {minimum}"
    if allow_none:
        expected += " or None"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise invalid(name, expected, value)
    value = int(value)
    if minimum is not None and value < minimum:
        raise invalid(name, expected, value)
    return value


def non_empty_string(name, value):
    if not isinstance(value, str) or not value:
        raise invalid(name, "a non-empty string", value)
    return value


def one_of(name, value, choices):
    if value not in choices:
        expected = "one of " + ", ".join(repr(c) for c in choices)
        raise invalid(name, expected, value)
    return value
