"""Grids of design points: the cartesian product of axes over a base configuration."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mimdsim.errors import ConfigError

__all__ = ["expand_grid"]


def expand_grid(base: Mapping[str, Any], axes: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the ``axes`` values on top of ``base`` (first axis slowest).

    Axis values replace ``base`` values of the same key. No axes gives ``[dict(base)]``.

    Raises
    ------
    ConfigError
        An axis is not a list/tuple of values, or is empty.

    >>> expand_grid({"a": 0}, {"a": [1, 2], "b": ["x"]})
    [{'a': 1, 'b': 'x'}, {'a': 2, 'b': 'x'}]
    """
    names = list(axes)
    values: list[list[Any]] = []
    for name in names:
        vals = axes[name]
        if isinstance(vals, (str, bytes)) or not isinstance(vals, Iterable):
            raise ConfigError(f"sweep axis {name!r}: expected a list of values (got {vals!r})")
        vals = list(vals)
        if not vals:
            raise ConfigError(f"sweep axis {name!r}: no values")
        values.append(vals)
    return [{**base, **dict(zip(names, combo, strict=True))} for combo in itertools.product(*values)]
