"""The builder of one compute set (:class:`ComputeSetBuilder`), for scripts and lowerings alike.

>>> cs = ComputeSetBuilder("update").add("Axpy", [0, 1], cycles=40, count=6)
>>> cs.add_table("Scale", np.array([2, 2, 3]), [[10], [20]])  # a 2-iteration table; tile 2 listed twice
ComputeSetBuilder('update', 3 blocks)
>>> [(b.codelet, b.tiles.tolist(), b.worker_cycles.tolist()) for b in cs.freeze().blocks[1:]]
[('Scale', [3], [[10], [20]]), ('Scale', [2], [[10, 10], [20, 20]])]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from mimdsim.errors import ProgramError
from mimdsim.program.builder_values import int_array, non_negative, per_tile
from mimdsim.program.flat_blocks import FlatBlocks, concatenated, keep_flat_blocks, table_group_blocks
from mimdsim.program.ir import ComputeSet, VertexBlock
from mimdsim.program.unique import unique_ints

__all__ = ["ComputeSetBuilder"]


def _frozen(a: np.ndarray) -> np.ndarray:
    """``a`` as read-only int64 (no copy when it already is), so blocks can share it."""
    if a.dtype != np.int64 or not a.flags.c_contiguous:
        a = np.ascontiguousarray(a, np.int64)
    if a.flags.writeable:
        a = a if a.base is None else a.copy()
        a.flags.writeable = False
    return a


_ONES: dict[int, np.ndarray] = {}


def _ones(n: int) -> np.ndarray:
    if n not in _ONES:
        _ONES[n] = _frozen(np.ones(n, np.int64))
    return _ONES[n]


def _vertex_array(values: np.ndarray | list[int]) -> np.ndarray:
    """A vertex list ``[n]`` or a cycle table ``[rows, n]`` as int64."""
    arr = np.asarray(values, np.int64)
    return arr if arr.ndim == 2 else arr.reshape(-1)


class ComputeSetBuilder:
    """Collects the vertex blocks of one compute set.

    :meth:`add` is the checked form a script uses (each argument validated at the call).
    :meth:`add_table`, :meth:`add_repeated`, :meth:`add_supervisor` and
    :meth:`add_supervisor_by` are the vectorised forms a lowering uses for thousands of tiles
    and count-dependent costs: cycle tables with one row per iteration of the loop the compute
    set runs in, tiles listed several times, blocks that share their arrays. They trust their
    arguments; the program is checked once, by :func:`~mimdsim.program.validate.check_program`.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.blocks: list[VertexBlock] = []
        self._frozen: ComputeSet | None = None
        self._flat: list[FlatBlocks] | None = []  # the flat blocks of every block so far, while they are known

    def add(
        self,
        codelet: str,
        tiles: int | Sequence[int] | np.ndarray | range,
        *,
        cycles: int | Sequence[int] | np.ndarray | None = None,
        count: int | Sequence[int] | np.ndarray = 1,
        worker_cycles: Sequence[int] | np.ndarray | None = None,
        worker_counts: Sequence[int] | np.ndarray | None = None,
        supervisor_cycles: int = 0,
    ) -> ComputeSetBuilder:
        """Place vertices of ``codelet`` on each of ``tiles``; returns ``self`` for chaining.

        Give either ``cycles`` and ``count`` -- ``count`` worker vertices of ``cycles``
        thread cycles on every tile; each may also be one value per tile, and tiles with
        equal values share one block -- or ``worker_cycles`` (and ``worker_counts``): the
        same list of worker vertices, in launch order, on every tile.
        ``supervisor_cycles`` (tile cycles) is charged once per tile.
        """
        where = f"compute set {self.name!r}: add({codelet!r})"
        tile_arr = int_array(where, "tiles", tiles)
        non_negative(where, "tile", tile_arr)
        if unique_ints(tile_arr).size != tile_arr.size:
            raise ProgramError(f"{where}: a tile appears twice in tiles")
        if not isinstance(supervisor_cycles, int | np.integer) or supervisor_cycles < 0:
            raise ProgramError(f"{where}: supervisor_cycles {supervisor_cycles!r} must be an integer >= 0")
        if worker_cycles is not None:
            if cycles is not None or not (isinstance(count, int) and count == 1):
                raise ProgramError(f"{where}: give either cycles/count or worker_cycles/worker_counts, not both")
            wc = int_array(where, "worker_cycles", worker_cycles)
            wn = np.ones_like(wc) if worker_counts is None else int_array(where, "worker_counts", worker_counts)
            if wn.size != wc.size:
                raise ProgramError(f"{where}: {wc.size} worker_cycles but {wn.size} worker_counts")
            non_negative(where, "cycles", wc)
            non_negative(where, "count", wn)
            self._append(VertexBlock(codelet, tile_arr, wc, wn, int(supervisor_cycles)))
            return self
        if worker_counts is not None:
            raise ProgramError(f"{where}: worker_counts needs worker_cycles")
        if cycles is None:
            if not supervisor_cycles:
                raise ProgramError(f"{where}: give cycles (thread cycles per worker vertex), worker_cycles or supervisor_cycles")
            self._append(VertexBlock(codelet, tile_arr, supervisor_cycles=int(supervisor_cycles)))
            return self
        cyc = per_tile(where, "cycles", cycles, tile_arr.size)
        cnt = per_tile(where, "count", count, tile_arr.size)
        # tiles with the same (cycles, count) share one block, in order of first appearance
        keys = np.stack([cyc, cnt], axis=1)
        uniq, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
        for g in np.argsort(first, kind="stable"):
            c, n = int(uniq[g, 0]), int(uniq[g, 1])
            self._append(
                VertexBlock(
                    codelet, tile_arr[inverse == g], np.array([c], np.int64), np.array([n], np.int64), int(supervisor_cycles)
                )
            )
        return self

    def add_table(
        self,
        codelet: str,
        tiles: np.ndarray,
        cycles: np.ndarray | list[int],
        counts: np.ndarray | list[int] | None = None,
        supervisor: int | np.ndarray = 0,
        *,
        unique: bool = False,
    ) -> ComputeSetBuilder:
        """The same vertex list on every tile of ``tiles`` (a tile listed m times runs it m times).

        ``cycles`` and ``counts`` are a vertex list ``[n]`` or a cycle table ``[rows, n]``
        (one row per iteration of the loop the compute set runs in); ``supervisor`` an
        int or ``[rows]``. ``unique=True`` promises that no tile is listed twice.
        """
        tiles = _frozen(np.asarray(tiles))
        if tiles.size == 0:
            return self
        cyc = _frozen(_vertex_array(cycles))
        cnt = _ones(cyc.shape[-1]) if counts is None else _frozen(_vertex_array(counts))
        sup = int(supervisor) if np.ndim(supervisor) == 0 else _frozen(np.asarray(supervisor, np.int64).reshape(-1))
        if unique or tiles.size == 1:
            self._append(VertexBlock.of_frozen(codelet, tiles.reshape(-1), cyc, cnt, sup))
            return self
        uniq, mult = unique_ints(tiles, return_counts=True)
        for m in unique_ints(mult).tolist():
            sel = uniq[mult == m]
            reps = (1, m) if cyc.ndim == 2 else m
            cnt_reps = (1, m) if cnt.ndim == 2 else m
            self._append(VertexBlock(codelet, sel, np.tile(cyc, reps), np.tile(cnt, cnt_reps), supervisor_cycles=sup * m))
        return self

    def add_table_groups(
        self, codelet: str, tiles: np.ndarray, bounds: np.ndarray, cycles: np.ndarray, counts: np.ndarray, firsts: np.ndarray
    ) -> None:
        """One block per group ``g``: the vertex list ``cycles`` with the count table ``counts[firsts[g]]`` on the tiles
        ``tiles[bounds[g]:bounds[g+1]]`` (no tile listed twice). Every array read-only int64, so the blocks share them."""
        cyc, tiles, counts = _frozen(cycles), _frozen(tiles), _frozen(counts)  # slices of read-only arrays are read-only
        lo = bounds[:-1].tolist()
        hi = bounds[1:].tolist()
        self.blocks += [
            VertexBlock.of_frozen(codelet, tiles[a:b], cyc, counts[first])
            for a, b, first in zip(lo, hi, firsts.tolist(), strict=True)
        ]
        if self._flat is not None and counts.ndim == 3 and cyc.ndim == 1:
            self._flat.append(table_group_blocks(tiles, bounds, cyc, counts, firsts))
        else:
            self._flat = None
        self._frozen = None

    def add_repeated(self, codelet: str, tiles: np.ndarray, cycles: int, repeats: np.ndarray) -> None:
        """``repeats[i]`` worker vertices of ``cycles`` thread cycles on tile ``tiles[i]``: one block per distinct count."""
        tiles = np.asarray(tiles, np.int64).reshape(-1)
        repeats = np.asarray(repeats, np.int64).reshape(-1)
        order = np.argsort(repeats, kind="stable")
        for part in np.split(order, np.flatnonzero(np.diff(repeats[order])) + 1):
            if part.size:
                self.add_table(codelet, tiles[part], [cycles], [int(repeats[part[0]])], unique=True)

    def add_supervisor_by(self, codelet: str, tiles: np.ndarray, cycles_of: Callable[[int], int], args: np.ndarray) -> None:
        """A supervisor of ``cycles_of(args[i])`` tile cycles on tile ``tiles[i]`` (one call per distinct argument)."""
        args = np.asarray(args, np.int64).reshape(-1)
        if args.size and args.min() == args.max():
            self.add_supervisor(codelet, tiles, cycles_of(int(args[0])))
            return
        uniq, inv = unique_ints(args, return_inverse=True)
        costs = np.array([cycles_of(a) for a in uniq.tolist()], np.int64)
        self.add_supervisor(codelet, tiles, costs[inv.reshape(-1)])

    def add_supervisor(self, codelet: str, tiles: np.ndarray, cycles: np.ndarray | list[int] | int) -> None:
        """A supervisor (MultiVertex) of ``cycles`` tile cycles on each tile (one value, or one per tile):
        one block per distinct value."""
        tiles = np.asarray(tiles, np.int64).reshape(-1)
        cyc = np.asarray(cycles, np.int64).reshape(-1)
        if not tiles.size:
            return
        if cyc.size == 1 or (cyc.size and cyc.min() == cyc.max()):
            self.add_table(codelet, tiles, [], supervisor=int(cyc[0]), unique=True)
            return
        order = np.argsort(cyc, kind="stable")
        cuts = np.flatnonzero(np.diff(cyc[order])) + 1
        for part in np.split(order, cuts):
            self.add_table(codelet, tiles[part], [], supervisor=int(cyc[part[0]]), unique=True)

    def _append(self, block: VertexBlock) -> None:
        self.blocks.append(block)
        self._flat = None  # made from the blocks when asked for (flat_blocks)
        self._frozen = None

    def freeze(self) -> ComputeSet:
        """The compute set as it is now (the same object until the next :meth:`add`)."""
        if self._frozen is None:
            self._frozen = ComputeSet(self.name, tuple(self.blocks))
            if self._flat:  # every block came from add_table_groups: their flat arrays are made already
                keep_flat_blocks(self._frozen, self._flat[0] if len(self._flat) == 1 else concatenated(self._flat))
        return self._frozen

    def __repr__(self) -> str:
        return f"ComputeSetBuilder({self.name!r}, {len(self.blocks)} blocks)"
