"""How often the cyclic garbage collector runs while mimdsim works.

A simulation allocates many short-lived, acyclic objects (arrays, vertex blocks, small records) that reference
counting frees; with Python's default thresholds (a collection every 700 net allocations, a full one every 100 of
those) the collector walks them, and every object a warm process keeps (lowered programs, their costs), again and
again. Measured on the family (a) 2-hidden step (docs/performance.md): a re-estimate on another machine took
6.0 ms with the default thresholds and 1.6 ms with these.

:func:`relaxed_gc` sets the thresholds for the whole process (the command line and sweep workers);
:func:`relaxed_gc_during` only for the duration of one call (the API's estimates), restoring the caller's after.

>>> import gc
>>> before = gc.get_threshold()
>>> with relaxed_gc_during():
...     gc.get_threshold() == RELAXED_THRESHOLDS
True
>>> gc.get_threshold() == before
True
>>> with relaxed_gc_during():
...     with relaxed_gc_during():
...         pass
...     gc.get_threshold() == RELAXED_THRESHOLDS  # the outer block still runs
True
>>> gc.get_threshold() == before
True
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["RELAXED_THRESHOLDS", "relaxed_gc", "relaxed_gc_during"]

RELAXED_THRESHOLDS = (100_000, 50, 100)
"""Collect after 100,000 net allocations instead of 700, and the older generations less often. Peak memory stays the
same (measured on the 64-IPU case of docs/performance.md)."""


def relaxed_gc() -> None:
    """Set :data:`RELAXED_THRESHOLDS` for the rest of the process."""
    gc.set_threshold(*RELAXED_THRESHOLDS)


_LOCK = threading.Lock()
_DEPTH = 0  # blocks inside relaxed_gc_during now (nested calls, threads)
_SAVED: tuple[int, ...] = ()


@contextmanager
def relaxed_gc_during() -> Iterator[None]:
    """:data:`RELAXED_THRESHOLDS` inside the ``with`` block, the thresholds it found after it (also on an error).

    Nested blocks, and blocks in several threads at once, restore the thresholds found by the outermost one
    when the last of them ends."""
    global _DEPTH, _SAVED
    with _LOCK:
        if _DEPTH == 0:
            _SAVED = gc.get_threshold()
            gc.set_threshold(*RELAXED_THRESHOLDS)
        _DEPTH += 1
    try:
        yield
    finally:
        with _LOCK:
            _DEPTH -= 1
            if _DEPTH == 0:
                gc.set_threshold(*_SAVED)
