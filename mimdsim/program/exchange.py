"""The :class:`Exchange` of the program IR: the transfers of one exchange phase.

Two forms hold the same kind of transfer (one source tile, one or more destination
tiles, ``nbytes`` bytes in ``messages`` regions):

* **per transfer** (``dst_list`` is None): transfer ``i`` goes to
  ``dst[dst_ptr[i]:dst_ptr[i+1]]`` (CSR; ``dst_ptr`` has one entry per transfer plus one);
  a transfer never names its own source;
* **shared destination lists** (``dst_list`` given): ``dst_ptr`` / ``dst`` hold
  destination *lists* and transfer ``i`` goes to every tile of list ``dst_list[i]``
  **except its own source**. Many sources multicasting to one group of tiles (a tensor
  spread over an IPU that every tile of a layer reads) then hold the group once instead
  of once per source, and the exchange cost kernel works list by list, in time
  proportional to sources plus list members rather than their product.

Both forms describe the same traffic and cost the same (:meth:`Exchange.expanded` turns
one into the other).

A transfer is a multicast (the same bytes to every destination: sent once) unless
``per_destination[i]``: then it sends its own ``nbytes[i]`` bytes in ``messages[i]``
regions to each destination (distinct data, as if one point-to-point transfer per
destination), which is how a group of tiles that each read their own slice of a tensor
from the same source tiles is held compactly.

>>> ex = Exchange("e", src=[0, 1, 2], dst_ptr=[0, 3], dst=[0, 1, 2], nbytes=[4, 4, 8], dst_list=[0, 0, 0])
>>> [ex.destinations(i).tolist() for i in range(3)], ex.fanout().tolist()
([[1, 2], [0, 2], [0, 1]], [2, 2, 2])
>>> ex.expanded().dst_ptr.tolist()
[0, 2, 4, 6]
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np

from mimdsim.errors import ProgramError
from mimdsim.program.frozen import frozen_array
from mimdsim.program.list_kernels import MALFORMED, list_facts
from mimdsim.program.memo import derived

__all__ = ["Exchange", "concat_exchanges"]


@dataclass(frozen=True, eq=False)
class Exchange:
    """Compiler-scheduled transfers of one exchange phase (see the module docstring).

    ``messages[i]`` (default 1) is how many contiguous memory regions transfer ``i``'s
    bytes form; each region is one message, which costs ``exchange_message_cycles`` at
    the source and at every destination (docs/concepts.md).

    ``replicable[i]`` (default False) marks a transfer that carries a scalar a compiler may
    instead replicate onto the consuming tiles (a dynamic slice's offset: Poplar's "small
    graph replication", PopLibs lib/popops/DynamicSlice.cpp:468-469); the
    ``replicate_offsets`` pass of :mod:`mimdsim.program.passes` drops such transfers.
    Engines cost them like any other.
    """

    name: str
    src: np.ndarray
    dst_ptr: np.ndarray
    dst: np.ndarray
    nbytes: np.ndarray
    messages: np.ndarray = None  # type: ignore[assignment]  # None -> ones in __post_init__
    dst_list: np.ndarray | None = None
    per_destination: np.ndarray = None  # type: ignore[assignment]  # None -> all False in __post_init__
    replicable: np.ndarray = None  # type: ignore[assignment]  # None -> all False in __post_init__

    def __post_init__(self) -> None:
        object.__setattr__(self, "src", frozen_array(self.src, np.int64).reshape(-1))
        object.__setattr__(self, "dst_ptr", frozen_array(self.dst_ptr, np.int64).reshape(-1))
        object.__setattr__(self, "dst", frozen_array(self.dst, np.int64).reshape(-1))
        object.__setattr__(self, "nbytes", frozen_array(self.nbytes, np.int64).reshape(-1))
        msgs = np.ones(self.src.shape, np.int64) if self.messages is None else self.messages
        object.__setattr__(self, "messages", frozen_array(msgs, np.int64).reshape(-1))
        if self.dst_list is not None:
            object.__setattr__(self, "dst_list", frozen_array(self.dst_list, np.int64).reshape(-1))
        pd = np.zeros(self.src.shape, np.bool_) if self.per_destination is None else self.per_destination
        object.__setattr__(self, "per_destination", frozen_array(pd, np.bool_).reshape(-1))
        rp = np.zeros(self.src.shape, np.bool_) if self.replicable is None else self.replicable
        object.__setattr__(self, "replicable", frozen_array(rp, np.bool_).reshape(-1))

    @classmethod
    def of_frozen(
        cls,
        name: str,
        src: np.ndarray,
        dst_ptr: np.ndarray,
        dst: np.ndarray,
        nbytes: np.ndarray,
        messages: np.ndarray,
        dst_list: np.ndarray | None,
        per_destination: np.ndarray,
        replicable: np.ndarray,
    ) -> Exchange:
        """An exchange of arrays that are already what :meth:`__post_init__` makes of them (read-only, C-contiguous,
        1-D, int64 or bool): no copies, no conversions. :class:`~mimdsim.program.exchange_builder.ExchangeBuilder`
        freezes a hundred exchanges a lowered program; :func:`~mimdsim.program.validate.check_program` checks them."""
        ex = object.__new__(cls)
        ex.__dict__.update(  # what the frozen dataclass's __init__ would set, without its conversions
            name=name, src=src, dst_ptr=dst_ptr, dst=dst, nbytes=nbytes, messages=messages, dst_list=dst_list,
            per_destination=per_destination, replicable=replicable,
        )  # fmt: skip
        return ex

    @classmethod
    def from_transfers(cls, name: str, transfers: list[tuple[int, list[int] | np.ndarray, int]]) -> Exchange:
        """Build from ``[(src_tile, dst_tiles, nbytes), ...]`` (one message each)."""
        src = np.array([t[0] for t in transfers], np.int64)
        dsts = [np.asarray(t[1], np.int64).reshape(-1) for t in transfers]
        ptr = np.zeros(len(transfers) + 1, np.int64)
        ptr[1:] = np.cumsum([len(d) for d in dsts]) if dsts else []
        dst = np.concatenate(dsts) if dsts else np.zeros(0, np.int64)
        nbytes = np.array([t[2] for t in transfers], np.int64)
        return cls(name, src, ptr, dst, nbytes)

    @property
    def n_transfers(self) -> int:
        return int(self.src.shape[0])

    @property
    def n_lists(self) -> int:
        """Destination lists (one per transfer in the per-transfer form)."""
        return int(self.dst_ptr.shape[0]) - 1

    @property
    def shares_lists(self) -> bool:
        return self.dst_list is not None

    def list_of_transfer(self) -> np.ndarray:
        """The destination list of every transfer."""
        return np.arange(self.n_transfers, dtype=np.int64) if self.dst_list is None else self.dst_list

    def destinations(self, i: int) -> np.ndarray:
        """Destination tiles of transfer ``i``."""
        g = i if self.dst_list is None else int(self.dst_list[i])
        tiles = self.dst[self.dst_ptr[g] : self.dst_ptr[g + 1]]
        return tiles if self.dst_list is None else tiles[tiles != self.src[i]]

    def list_naming_a_tile_twice(self) -> int:
        """The first destination list (a transfer's, in the per-transfer form) that names a tile twice; -1 if none."""
        return self._list_facts()[0]

    def _kept(self, key: Hashable, make: Callable[[], np.ndarray]) -> np.ndarray:
        """``make()`` made read-only and kept with the exchange (:mod:`mimdsim.program.memo`): lowerings, validation,
        the cycle bound and the engines all ask for the same fan-outs and lists."""

        def frozen() -> np.ndarray:
            value = make()
            value.flags.writeable = False
            return value

        return derived(self, ("exchange", key), frozen)

    def source_in_list(self) -> np.ndarray:
        """Whether each transfer's source is a member of its list (always False in the per-transfer form)."""
        if self.dst_list is None:
            return self._kept("source_in_list", lambda: np.zeros(self.n_transfers, bool))
        return self._list_facts()[1]

    def _list_facts(self) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        """:func:`~mimdsim.program.list_kernels.list_facts` of the lists, made once (arrays read-only)."""

        def make() -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
            twice, member, ptr, order = list_facts(self.src, self.dst_ptr, self.dst, self.list_of_transfer())
            if twice == MALFORMED:
                raise ProgramError(
                    f"exchange {self.name!r}: dst_ptr must rise from 0 to len(dst) and every transfer name one of its "
                    f"{self.n_lists} destination lists"
                )
            for a in (member, ptr, order):
                a.flags.writeable = False
            return int(twice), member, ptr, order

        return derived(self, ("exchange", "list_facts"), make)

    def received_bytes(self, n_tiles: int) -> np.ndarray:
        """Bytes each of tiles ``0 .. n_tiles-1`` receives in this exchange (every destination gets a transfer's ``nbytes``).

        >>> Exchange("e", src=[0, 1], dst_ptr=[0, 3], dst=[0, 1, 2], nbytes=[4, 8], dst_list=[0, 0]).received_bytes(4).tolist()
        [8, 4, 12, 0]
        """
        sizes = np.diff(self.dst_ptr)
        if self.dst_list is None:
            per_entry = np.repeat(self.nbytes, sizes)
        else:  # every member of a list gets each of its transfers, less those it sent itself
            per_entry = np.repeat(np.bincount(self.dst_list, self.nbytes, minlength=self.n_lists).astype(np.int64), sizes)
        out = np.bincount(self.dst, per_entry, minlength=n_tiles).astype(np.int64)[:n_tiles]
        if self.dst_list is not None:
            own = self.source_in_list()
            out -= np.bincount(self.src[own], self.nbytes[own], minlength=n_tiles).astype(np.int64)[:n_tiles]
        return out

    def fanout(self) -> np.ndarray:
        """Number of destination tiles of every transfer (read-only)."""

        def make() -> np.ndarray:
            sizes = np.diff(self.dst_ptr)
            return sizes if self.dst_list is None else sizes[self.dst_list] - self.source_in_list()

        return self._kept("fanout", make)

    def transfers_by_list(self) -> tuple[np.ndarray, np.ndarray]:
        """``(ptr, order)``: the transfers of list ``g`` are ``order[ptr[g]:ptr[g+1]]`` (cached)."""
        return self._list_facts()[2:]

    def crosses_ipus(self, tiles_per_ipu: int) -> np.ndarray:
        """Whether each transfer reaches a tile on another IPU than its source's."""
        if not self.n_transfers:
            return np.zeros(0, bool)

        def make() -> np.ndarray:
            if int(self.src.max()) < tiles_per_ipu and (not self.dst.size or int(self.dst.max()) < tiles_per_ipu):
                return np.zeros(self.n_transfers, bool)  # every tile on IPU 0
            ipu = self.dst // tiles_per_ipu
            starts = self.dst_ptr[:-1]
            lo = np.minimum.reduceat(ipu, starts) if ipu.size else np.zeros(self.n_lists, np.int64)
            hi = np.maximum.reduceat(ipu, starts) if ipu.size else np.zeros(self.n_lists, np.int64)
            g = self.list_of_transfer()
            sipu = self.src // tiles_per_ipu
            return (lo[g] != sipu) | (hi[g] != sipu)

        return self._kept(("crosses_ipus", tiles_per_ipu), make)

    def as_lists(self) -> Exchange:
        """The same transfers in the shared-list form (each transfer its own list if it had none)."""
        if self.dst_list is not None:
            return self
        return Exchange(
            self.name, self.src, self.dst_ptr, self.dst, self.nbytes, self.messages, np.arange(self.n_transfers, dtype=np.int64),
            self.per_destination, self.replicable,
        )  # fmt: skip

    def select(self, keep: np.ndarray, name: str | None = None) -> Exchange:
        """The transfers where ``keep`` is True (a boolean mask over transfers), in the shared-list form.

        >>> ex = Exchange("e", src=[0, 1], dst_ptr=[0, 1, 2], dst=[1, 2], nbytes=[4, 8])
        >>> sub = ex.select(np.array([False, True]))
        >>> sub.n_transfers, sub.destinations(0).tolist(), int(sub.nbytes[0])
        (1, [2], 8)
        """
        ex = self.as_lists()
        keep = np.asarray(keep, bool)
        return Exchange(
            self.name if name is None else name, ex.src[keep], ex.dst_ptr, ex.dst, ex.nbytes[keep], ex.messages[keep],
            ex.dst_list[keep], ex.per_destination[keep], ex.replicable[keep],  # type: ignore[index]
        )  # fmt: skip

    def expanded(self) -> Exchange:
        """The same transfers in the per-transfer form, with one point-to-point transfer per
        destination of every ``per_destination`` transfer (itself if there is nothing to expand)."""
        if self.dst_list is None and not self.per_destination.any():
            return self
        if self.dst_list is None:
            sizes = np.diff(self.dst_ptr)
            entry = np.arange(self.dst.size)
            dst = self.dst
            keep = np.ones(dst.size, bool)
        else:
            sizes = np.diff(self.dst_ptr)[self.dst_list]
            starts = self.dst_ptr[:-1][self.dst_list]
            entry = np.repeat(starts - np.cumsum(sizes) + sizes, sizes) + np.arange(int(sizes.sum()))
            dst = self.dst[entry]
            keep = dst != np.repeat(self.src, sizes)
        transfer = np.repeat(np.arange(self.n_transfers), sizes)[keep]
        dst = dst[keep]
        split = self.per_destination[transfer]
        # a per-destination transfer becomes one transfer per destination; a multicast stays one
        first = np.ones(transfer.size, bool)
        first[1:] = transfer[1:] != transfer[:-1]
        new_transfer = np.cumsum(split | first) - 1
        n_new = int(new_transfer[-1]) + 1 if new_transfer.size else 0
        owner = np.zeros(n_new, np.int64)
        owner[new_transfer] = transfer
        ptr = np.zeros(n_new + 1, np.int64)
        np.cumsum(np.bincount(new_transfer, minlength=n_new), out=ptr[1:])
        return Exchange(
            self.name, self.src[owner], ptr, dst, self.nbytes[owner], self.messages[owner], replicable=self.replicable[owner]
        )


def concat_exchanges(name: str, exchanges: list[Exchange]) -> Exchange:
    """One exchange phase holding every transfer of ``exchanges`` (in the shared-list form).

    >>> a = Exchange("a", src=[0], dst_ptr=[0, 2], dst=[1, 2], nbytes=[4])
    >>> b = Exchange("b", src=[3, 4], dst_ptr=[0, 2], dst=[3, 4], nbytes=[8, 8], dst_list=[0, 0])
    >>> ab = concat_exchanges("ab", [a, b])
    >>> [ab.destinations(i).tolist() for i in range(3)], ab.nbytes.tolist()
    ([[1, 2], [4], [3]], [4, 8, 8])
    """
    parts = [e.as_lists() for e in exchanges]
    if len(parts) == 1:
        e = parts[0]
        return e if e.name == name else e.select(np.ones(e.n_transfers, bool), name)
    n_entries = np.cumsum([0] + [e.dst.size for e in parts])
    n_lists = np.cumsum([0] + [e.n_lists for e in parts])
    ptr = np.concatenate([np.zeros(1, np.int64)] + [e.dst_ptr[1:] + n_entries[i] for i, e in enumerate(parts)])
    dst_list = np.concatenate([e.list_of_transfer() + n_lists[i] for i, e in enumerate(parts)])

    def cat(field: str) -> np.ndarray:
        return np.concatenate([getattr(e, field) for e in parts])

    return Exchange(
        name, cat("src"), ptr, cat("dst"), cat("nbytes"), cat("messages"), dst_list, cat("per_destination"), cat("replicable")
    )
