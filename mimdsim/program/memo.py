"""Values derived from a program, kept as long as the program lives.

The IR is immutable, so anything computed from a :class:`~mimdsim.program.ir.Program`
and a few machine numbers (its validation, its flat arrays, the cost of its compute sets
and exchanges on a machine) can be kept and reused while the program object exists: a
warm process re-costing one program on many machine descriptions recomputes only what
the changed machine fields affect. Entries go when the program is garbage collected.

>>> from mimdsim.program.ir import Program
>>> p = Program("p", ())
>>> calls = []
>>> make = lambda: calls.append(1) or len(calls)
>>> derived(p, ("answer", 1), make), derived(p, ("answer", 1), make), derived(p, ("answer", 2), make)
(1, 1, 2)
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

__all__ = ["derived", "forget", "keep", "kept"]

T = TypeVar("T")

_STORE: weakref.WeakKeyDictionary[Any, dict[Hashable, Any]] = weakref.WeakKeyDictionary()


def derived(program: object, key: Hashable, make: Callable[[], T]) -> T:
    """``make()`` the first time ``(program, key)`` is asked for, the kept value afterwards.

    ``key`` must hold everything besides the program that the value depends on.
    """
    per = _STORE.get(program)
    if per is None:
        per = _STORE[program] = {}
    if key in per:
        return per[key]
    value = per[key] = make()
    return value


def kept(program: object, key: Hashable) -> Any:
    """What :func:`keep` (or :func:`derived`) kept for ``(program, key)``, or None."""
    per = _STORE.get(program)
    return None if per is None else per.get(key)


def keep(program: object, key: Hashable, value: object) -> None:
    """Keep ``value`` for ``(program, key)`` while ``program`` lives (for values kept only sometimes: by size, say)."""
    _STORE.setdefault(program, {})[key] = value


def forget(program: object | None = None) -> None:
    """Drop what is kept for ``program`` (for every program when None)."""
    if program is None:
        _STORE.clear()
    else:
        _STORE.pop(program, None)
