"""The builder of one exchange phase (:class:`ExchangeBuilder`), for scripts and lowerings alike.

Transfers go into destination lists (:class:`~mimdsim.program.exchange.Exchange`): :meth:`~ExchangeBuilder.send`,
:meth:`~ExchangeBuilder.send_many` and :meth:`~ExchangeBuilder.send_lists` are the checked forms a script uses,
one list per transfer;
:meth:`~ExchangeBuilder.multicast_many`, :meth:`~ExchangeBuilder.scatter_many` and :meth:`~ExchangeBuilder.unicast`
are the vectorised forms a lowering uses: messages per transfer, one destination list shared by many sources
(a multicast from many sources to one group of tiles holds the group once), transfers from a tile to itself or
of no bytes dropped. An exchange that used them is frozen in the shared-list form.

>>> ex = ExchangeBuilder("gather")
>>> ex.multicast_many(np.array([0, 1, 2]), 8, np.array([0, 1, 2]))  # every tile to the others: one list of 3
>>> e = ex.freeze()
>>> e.n_transfers, e.n_lists, e.destinations(1).tolist()
(3, 1, [0, 2])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mimdsim.errors import ProgramError
from mimdsim.program.builder_values import int_array, non_negative, one_or_each, per_tile
from mimdsim.program.exchange import Exchange
from mimdsim.program.unique import unique_ints

__all__ = ["ExchangeBuilder"]


class ExchangeBuilder:
    """Collects the transfers of one exchange phase (see the module docstring); ``name`` may be given when frozen."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self._src: list[np.ndarray] = []
        self._nbytes: list[np.ndarray] = []
        self._messages: list[np.ndarray] = []
        self._list_of: list[np.ndarray] = []  # per transfer: its list
        self._list_sizes: list[np.ndarray] = []
        self._list_dst: list[np.ndarray] = []
        self._flags: list[tuple[int, bool, bool]] = []  # per part: its transfers, per_destination, replicable
        self._n_lists = 0
        self._shared = False  # a vectorised form was used: freeze in the shared-list form
        self._frozen: Exchange | None = None

    # ---- the checked forms ---------------------------------------------------------------
    def send(
        self, src: int, dst_tiles: int | Sequence[int] | np.ndarray | range, nbytes: int, *, replicable: bool = False
    ) -> None:
        """``nbytes`` bytes from tile ``src`` to every tile of ``dst_tiles`` (one multicast).

        ``replicable``: the bytes are a scalar (a dynamic slice's offset) that a compiler may
        replicate onto the destinations instead (the ``replicate_offsets`` pass drops it).
        """
        where = f"exchange {self.name!r}: send({src!r}, ...)"
        dst = int_array(where, "dst_tiles", dst_tiles)
        if not isinstance(src, int | np.integer) or src < 0:
            raise ProgramError(f"{where}: source tile must be an integer >= 0")
        if not isinstance(nbytes, int | np.integer) or nbytes < 0:
            raise ProgramError(f"{where}: nbytes {nbytes!r} must be an integer >= 0")
        if dst.size == 0:
            raise ProgramError(f"{where}: no destination tile")
        non_negative(where, "destination tile", dst)
        if np.any(dst == src):
            raise ProgramError(f"{where}: tile {src} sends to itself")
        if unique_ints(dst).size != dst.size:
            raise ProgramError(f"{where}: a destination tile appears twice")
        one = np.ones(1, np.int64)
        self._push(np.array([src], np.int64), np.array([nbytes], np.int64), one, np.zeros(1, np.int64), np.array([dst.size]), dst,
                   replicable=bool(replicable))  # fmt: skip

    def send_many(
        self, src: Sequence[int] | np.ndarray, dst: Sequence[int] | np.ndarray, nbytes: int | Sequence[int] | np.ndarray
    ) -> None:
        """Point-to-point transfers ``src[i] -> dst[i]`` of ``nbytes[i]`` (or ``nbytes``) bytes, vectorised."""
        where = f"exchange {self.name!r}: send_many(...)"
        s = int_array(where, "src", src)
        d = int_array(where, "dst", dst)
        if s.size != d.size:
            raise ProgramError(f"{where}: {s.size} sources but {d.size} destinations")
        nb = per_tile(where, "nbytes", nbytes, s.size) if s.size else np.zeros(0, np.int64)
        non_negative(where, "tile", s)
        non_negative(where, "tile", d)
        if np.any(s == d):
            raise ProgramError(f"{where}: tile {int(s[s == d][0])} sends to itself")
        n = s.size
        self._push(s, nb, np.ones(n, np.int64), np.arange(n, dtype=np.int64), np.ones(n, np.int64), d)

    def send_lists(
        self,
        src: Sequence[int] | np.ndarray,
        dst_ptr: Sequence[int] | np.ndarray,
        dst: Sequence[int] | np.ndarray,
        nbytes: int | Sequence[int] | np.ndarray,
    ) -> None:
        """Multicasts in CSR form, vectorised: ``nbytes[i]`` from ``src[i]`` to tiles ``dst[dst_ptr[i]:dst_ptr[i + 1]]``."""
        where = f"exchange {self.name!r}: send_lists(...)"
        s, ptr, d = int_array(where, "src", src), int_array(where, "dst_ptr", dst_ptr), int_array(where, "dst", dst)
        if ptr.size != s.size + 1 or (ptr.size and (ptr[0] != 0 or ptr[-1] != d.size)) or np.any(np.diff(ptr) < 1):
            raise ProgramError(f"{where}: dst_ptr must rise from 0 to {d.size} in {s.size} non-empty lists")
        nb = per_tile(where, "nbytes", nbytes, s.size) if s.size else np.zeros(0, np.int64)
        non_negative(where, "tile", s)
        non_negative(where, "tile", d)
        sizes = np.diff(ptr)
        if np.any(np.repeat(s, sizes) == d):
            raise ProgramError(f"{where}: a tile sends to itself")
        self._push(s, nb, np.ones(s.size, np.int64), np.arange(s.size, dtype=np.int64), sizes, d)

    # ---- the vectorised forms ------------------------------------------------------------
    def multicast(self, src: int, dsts: np.ndarray, nbytes: int, *, replicable: bool = False) -> None:
        """``nbytes`` from ``src`` to every tile of ``dsts`` but itself (``replicable``: a scalar a compiler may replicate instead)."""
        self.multicast_many(np.array([src], np.int64), np.array([nbytes], np.int64), dsts, replicable=replicable)

    def multicast_many(self, srcs: np.ndarray, nbytes: np.ndarray | int, dsts: np.ndarray, *, replicable: bool = False) -> None:
        """One multicast per source: ``nbytes[i]`` from ``srcs[i]`` to every tile of ``dsts`` but ``srcs[i]``."""
        srcs = np.asarray(srcs, np.int64).reshape(-1)
        nbytes = one_or_each(nbytes, srcs.shape)
        dsts = np.asarray(dsts, np.int64).reshape(-1)
        keep = nbytes > 0
        if dsts.size == 1:
            keep &= srcs != dsts[0]
        srcs, nbytes = srcs[keep], nbytes[keep]
        if not srcs.size or not dsts.size:
            return
        n = srcs.size
        self._push(
            srcs, np.ascontiguousarray(nbytes), np.ones(n, np.int64), np.zeros(n, np.int64), np.array([dsts.size], np.int64), dsts,
            replicable=replicable, shared=True,
        )  # fmt: skip

    def scatter_many(self, srcs: np.ndarray, nbytes: np.ndarray, messages: np.ndarray, dsts: np.ndarray) -> None:
        """Each ``srcs[i]`` sends its own ``nbytes[i]`` bytes in ``messages[i]`` regions to every
        tile of ``dsts`` but itself (distinct data per destination: one per-destination transfer)."""
        srcs = np.asarray(srcs, np.int64).reshape(-1)
        dsts = np.asarray(dsts, np.int64).reshape(-1)
        if unique_ints(dsts).size != dsts.size:  # a tile listed twice receives twice: point to point
            self.unicast(
                np.tile(srcs, dsts.size), np.repeat(dsts, srcs.size), np.tile(nbytes, dsts.size), np.tile(messages, dsts.size)
            )
            return
        keep = np.asarray(nbytes) > 0
        if dsts.size == 1:
            keep &= srcs != dsts[0]
        if not keep.any() or not dsts.size:
            return
        n = int(keep.sum())
        self._push(
            srcs[keep], np.asarray(nbytes, np.int64)[keep], np.asarray(messages, np.int64)[keep], np.zeros(n, np.int64),
            np.array([dsts.size], np.int64), dsts, per_destination=True, shared=True,
        )  # fmt: skip

    def unicast(self, src: np.ndarray, dst: np.ndarray, nbytes: np.ndarray | int, messages: np.ndarray | int = 1) -> None:
        """Point-to-point transfers ``src[i] -> dst[i]`` of ``messages[i]`` messages (those from a tile to itself are dropped)."""
        src, dst, nbytes, msgs = (np.asarray(a, np.int64) for a in (src, dst, nbytes, messages))
        if src.ndim == dst.ndim == 1 and src.size == dst.size and nbytes.shape in ((), src.shape) and msgs.ndim == 0:
            # the common case (point-to-point copies), without broadcast_arrays
            nbytes = np.full(src.size, nbytes) if nbytes.ndim == 0 else nbytes
            msgs = np.full(src.size, msgs)
        else:
            src, dst, nbytes, msgs = np.broadcast_arrays(src, dst, nbytes, msgs)
        keep = (src != dst) & (nbytes > 0)
        n = int(np.count_nonzero(keep))
        if not n:
            return
        self._push(
            src[keep].reshape(-1), nbytes[keep].reshape(-1), msgs[keep].reshape(-1), np.arange(n, dtype=np.int64),
            np.ones(n, np.int64), dst[keep].reshape(-1), shared=True,
        )  # fmt: skip

    def _push(
        self,
        src: np.ndarray,
        nbytes: np.ndarray,
        messages: np.ndarray,
        list_of: np.ndarray,
        sizes: np.ndarray,
        dst: np.ndarray,
        *,
        per_destination: bool = False,
        replicable: bool = False,
        shared: bool = False,
    ) -> None:
        """Transfers whose lists are numbered from 0 within this part (``list_of``), and the lists' sizes and tiles."""
        self._flags.append((src.size, per_destination, replicable))
        self._src.append(src)
        self._nbytes.append(nbytes)
        self._messages.append(messages)
        self._list_of.append(list_of + self._n_lists)
        self._list_sizes.append(np.asarray(sizes, np.int64))
        self._list_dst.append(dst)
        self._n_lists += sizes.size
        self._shared |= shared
        self._frozen = None

    # ---- the result ----------------------------------------------------------------------
    @property
    def n_transfers(self) -> int:
        return int(sum(a.size for a in self._src))

    def __bool__(self) -> bool:
        """Whether a transfer was added."""
        return bool(self._src)

    def freeze(self, name: str | None = None) -> Exchange:
        """The exchange as it is now, named ``name`` (default: the builder's); the same object until the next transfer."""
        name = self.name if name is None else name
        if self._frozen is not None and self._frozen.name == name:
            return self._frozen
        if not self._src:
            ex = Exchange(name, np.zeros(0), np.zeros(1), np.zeros(0), np.zeros(0))
        else:
            ptr = np.zeros(self._n_lists + 1, np.int64)
            np.cumsum(np.concatenate(self._list_sizes), out=ptr[1:])
            parts = (self._src, self._list_dst, self._nbytes, self._messages, self._list_of)
            sizes, per_dst, rep = (np.array(column) for column in zip(*self._flags, strict=True))
            arrays = [ptr] + [np.concatenate(p) for p in parts] + [np.repeat(per_dst, sizes), np.repeat(rep, sizes)]
            for a in arrays:
                a.flags.writeable = False  # ours: the exchange keeps them without a copy
            ptr, src, dst, nbytes, messages, dst_list, per_dst, rep = arrays
            ex = Exchange.of_frozen(name, src, ptr, dst, nbytes, messages, dst_list if self._shared else None, per_dst, rep)
        self._frozen = ex
        return ex

    def __repr__(self) -> str:
        return f"ExchangeBuilder({self.name!r}, {self.n_transfers} transfers)"
