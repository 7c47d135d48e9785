"""Values derived from a program, kept as long as the program lives.

The IR is immutable, so anything computed from a :class:`~mimdsim.program.ir.Program`
and a few machine numbers (its validation, its flat arrays, the cost of its compute sets
and exchanges on a machine) can be kept and reused while the program object exists: a
warm process re-costing one program on many machine descriptions recomputes only what
the changed machine fields affect. Entries go when the program is garbage collected.

Values that depend on rates and overheads (the engines' costs on a machine) are asked for with ``per_machine``: of
each family of keys (its first element) only the :data:`MACHINE_VARIANTS` last used are kept, so a long what-if over
thousands of machine descriptions in one process does not keep the costs of every one of them with the program.

>>> from mimdsim.program.ir import Program
>>> p = Program("p", ())
>>> calls = []
>>> make = lambda: calls.append(1) or len(calls)
>>> derived(p, ("answer", 1), make), derived(p, ("answer", 1), make), derived(p, ("answer", 2), make)
(1, 1, 2)
>>> [derived(p, ("rate", r), lambda: r, per_machine=True) for r in range(MACHINE_VARIANTS + 1)][-1]
16
>>> len(calls), derived(p, ("rate", 0), make, per_machine=True)  # the oldest rate was dropped: made again
(2, 3)
"""

from __future__ import annotations

import contextlib
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

__all__ = ["MACHINE_VARIANTS", "derived", "forget", "keep", "kept"]

T = TypeVar("T")

MACHINE_VARIANTS = 16
"""Values kept per object and family of ``per_machine`` keys (the last used). On the family (a) 2-hidden network one
machine's compute costs take 1.7 MB (tracemalloc, docs/performance.md): 100 worker-launch values in one process kept
170 MB with the program before this bound, 27 MB with it."""

_MISSING = object()

_STORE: weakref.WeakKeyDictionary[Any, dict[Hashable, Any]] = weakref.WeakKeyDictionary()


def derived(program: object, key: Hashable, make: Callable[[], T], *, per_machine: bool = False) -> T:
    """``make()`` the first time ``(program, key)`` is asked for, the kept value afterwards.

    ``key`` must hold everything besides the program that the value depends on. With ``per_machine`` ``key`` is a
    tuple whose first element names its family, and only the :data:`MACHINE_VARIANTS` last used keys of the family
    are kept.
    """
    per = _STORE.get(program)
    if per is None:
        per = _STORE[program] = {}
    if not per_machine:
        if key in per:
            return per[key]
        value = per[key] = make()
        return value
    family = ("per_machine", key[0])  # type: ignore[index]
    last = per.get(family)
    if last is None:
        last = per.setdefault(family, OrderedDict())
    # each OrderedDict call is atomic; between them another thread (an executor's) may drop the key
    found = last.get(key, _MISSING)
    if found is not _MISSING:
        with contextlib.suppress(KeyError):
            last.move_to_end(key)
        return found
    value = last[key] = make()
    with contextlib.suppress(KeyError):
        while len(last) > MACHINE_VARIANTS:
            last.popitem(last=False)
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
