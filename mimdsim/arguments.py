"""The kinds of value an API function takes, checked before any work: one rule per argument, one error.

A value of the wrong kind (a dict for a rate, an array for an engine name, a list for a count) is a
:class:`~mimdsim.errors.ConfigError` naming the argument, the value and what is allowed, instead of a ``TypeError``
or ``ValueError`` from deep inside (found by calling the API with values of every kind). What a value of the right
kind means (an engine's name, a rate's range) is checked where it is used.

>>> check_kinds({"rate": {}, "steps": 3}, {"rate": FINITE_OR_NONE, "steps": POSITIVE_INT})
Traceback (most recent call last):
...
mimdsim.errors.ConfigError: rate: {} is not a finite number or None
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from mimdsim.errors import ConfigError

__all__ = [
    "Kind", "check_kinds", "is_int", "is_number", "is_finite", "is_path", "FLAG", "FINITE", "FINITE_OR_NONE",
    "NUMBER_OR_NONE", "NAME", "NAME_OR_NONE", "POSITIVE_INT", "POSITIVE_INT_OR_NONE", "PATH_OR_NONE",
]  # fmt: skip

Kind = tuple[Callable[[Any], bool], str]
"""A rule (does the value have the kind?) and what the error says is allowed."""


def is_int(v: Any) -> bool:
    """A Python or numpy integer, not a boolean."""
    return isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_)


def is_number(v: Any) -> bool:
    """A Python or numpy number (NaN and infinities included: a range check refuses them), not a boolean."""
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool | np.bool_)


def is_finite(v: Any) -> bool:
    """A finite Python or numpy number, not a boolean."""
    return is_number(v) and math.isfinite(v)


def is_path(v: Any) -> bool:
    """A name or a path."""
    return isinstance(v, str | os.PathLike)


FLAG: Kind = (lambda v: isinstance(v, bool | np.bool_), "True or False")
FINITE: Kind = (is_finite, "a finite number")
FINITE_OR_NONE: Kind = (lambda v: v is None or is_finite(v), "a finite number or None")
NUMBER_OR_NONE: Kind = (lambda v: v is None or is_number(v), "a number or None")
NAME: Kind = (lambda v: isinstance(v, str), "a name (a string)")
NAME_OR_NONE: Kind = (lambda v: v is None or isinstance(v, str), "a name (a string) or None")
POSITIVE_INT: Kind = (lambda v: is_int(v) and v >= 1, "a positive integer")
POSITIVE_INT_OR_NONE: Kind = (lambda v: v is None or (is_int(v) and v >= 1), "a positive integer or None")
PATH_OR_NONE: Kind = (lambda v: v is None or is_path(v), "a path or None")


def check_kinds(args: Mapping[str, Any], kinds: Mapping[str, Kind]) -> None:
    """Raise :class:`ConfigError` for the first of ``args`` (name -> value) whose value is not of its kind (names
    without a rule are not checked)."""
    for name, value in args.items():
        rule = kinds.get(name)
        if rule is not None and not rule[0](value):
            shown = repr(value)
            raise ConfigError(f"{name}: {shown if len(shown) <= 80 else shown[:77] + '...'} is not {rule[1]}")
