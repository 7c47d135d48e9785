"""Exchanges a lowering builds again with the same inputs, kept across lowerings.

The programs after the op (the loss: the sparse-to-dense of the output spikes, the sum over time and the
cross-entropy, their gradients) move every (time step, sample) row of the output layer, some 58,000 transfers
for the family (a) step, and depend on the output layer's layout only: not on the max activity, which sets the
hidden layers' sparse sizes, nor on the spike counts. A sweep over activities lowered and costed them again at
every point. :func:`kept_exchange` builds such an exchange from a pure function of its arguments and keeps it
under their content, so the next lowering with equal arguments gets the same object back, and with it what was
derived from it and kept with it (its traffic, fan-outs and lists: :mod:`mimdsim.program.memo`).

The key is the function, the exchange's name and the content of every argument (arrays by dtype, shape and
bytes), so a function that reads only its arguments cannot be given a stale exchange. Each kept exchange is used
by one step of a program, as the function's own result would be: the programs, saved or costed, are the same
as without the cache. At most :data:`KEPT_EXCHANGES` are kept (least recently used first out); exchanges of
more than :data:`KEPT_MAX_TRANSFERS` transfers are not kept. Inside :func:`bypassed` (an estimate with
``cache=False``) nothing is read from or added to the cache.

>>> from mimdsim.program.exchange_builder import ExchangeBuilder
>>> def ring(n: int) -> ExchangeBuilder:
...     tr = ExchangeBuilder()
...     tr.unicast(np.arange(n), (np.arange(n) + 1) % n, 4)
...     return tr
>>> a, b = kept_exchange("ring", ring, 3), kept_exchange("ring", ring, 3)
>>> a is b, a.name, a.n_transfers, kept_exchange("ring", ring, 4) is a
(True, 'ring', 3, False)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np

from mimdsim.program.exchange import Exchange
from mimdsim.program.exchange_builder import ExchangeBuilder

__all__ = ["KEPT_EXCHANGES", "KEPT_MAX_TRANSFERS", "bypassed", "clear", "kept_exchange"]

KEPT_EXCHANGES = 32
"""Exchanges kept (the loss has five per network; a sweep over four networks keeps twenty)."""

KEPT_MAX_TRANSFERS = 1 << 20
"""An exchange of more transfers (tens of MB with what is derived from it) is built afresh each time."""

_KEPT: OrderedDict[Hashable, Exchange] = OrderedDict()
_LOCK = threading.Lock()  # estimates may run in threads (a Dask worker's)
_BYPASS: ContextVar[bool] = ContextVar("mimdsim_kept_bypass", default=False)


def _content(value: Any) -> Hashable:
    if isinstance(value, np.ndarray):
        return (value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, bool | int | float | str | np.integer | np.floating):
        return (type(value).__name__, value)
    raise TypeError(f"kept_exchange: an argument of type {type(value).__name__} has no content key")


def kept_exchange(name: str, make: Callable[..., ExchangeBuilder], *args: Any) -> Exchange:
    """``make(*args).freeze(name)``, or the exchange it gave for equal arguments before (see the module docstring).
    ``make`` must read nothing but its arguments (arrays, numbers, strings)."""
    if _BYPASS.get():
        return make(*args).freeze(name)
    key = (name, make.__module__, make.__qualname__, *(_content(a) for a in args))
    with _LOCK:
        ex = _KEPT.get(key)
        if ex is not None:
            _KEPT.move_to_end(key)
            return ex
    ex = make(*args).freeze(name)
    if ex.n_transfers <= KEPT_MAX_TRANSFERS:
        with _LOCK:
            ex = _KEPT.setdefault(key, ex)  # another thread's, if it was first
            while len(_KEPT) > KEPT_EXCHANGES:
                _KEPT.popitem(last=False)
    return ex


@contextmanager
def bypassed() -> Iterator[None]:
    """Inside the block (in this thread or task), :func:`kept_exchange` builds every exchange afresh and keeps none."""
    token = _BYPASS.set(True)
    try:
        yield
    finally:
        _BYPASS.reset(token)


def clear() -> None:
    """Forget every kept exchange."""
    with _LOCK:
        _KEPT.clear()
