"""The blocks of one compute set as flat arrays, made in one pass and kept with the compute set.

Validation (:mod:`mimdsim.program.validate`), the cycle bound (:mod:`mimdsim.cost.bounds`) and the
compute costs (:mod:`mimdsim.cost.compute`) all read every block of every compute set; a lowered SNN
step holds about a thousand blocks, most in one compute set (the sparse reduce's stage 1). Each of
them reads these arrays instead of walking the blocks again (:func:`flat_blocks`, kept by
:mod:`mimdsim.program.memo` while the compute set lives).

Block ``k``'s tiles are ``tiles[tile_ptr[k]:tile_ptr[k+1]]``; its worker cycles are
``cyc[cyc_ptr[k]:]``, ``cyc_rows[k]`` rows of ``nvtx[k]`` entries (one row when it has no table);
likewise its counts (``cnt``) and its supervisor cycles (``sup``, ``sup_rows[k]`` entries).

A builder that made its blocks from one table in one call (:meth:`~mimdsim.program.compute_builder.
ComputeSetBuilder.add_table_groups`: the stage-1 reduce, some 700 blocks) makes their flat arrays the same way
(:func:`table_group_blocks`) and hands them to the compute set it freezes (:func:`keep_flat_blocks`), so that they
are not made again block by block.

>>> from mimdsim.program.ir import ComputeSet, VertexBlock
>>> cs = ComputeSet("c", (VertexBlock("A", [0, 1], [[5, 6], [7, 8]]), VertexBlock("B", [2], [3], supervisor_cycles=9)))
>>> f = flat_blocks(cs)
>>> f.tiles.tolist(), f.nvtx.tolist(), f.cyc_rows.tolist(), f.cyc.tolist(), f.sup.tolist()
([0, 1, 2], [2, 1], [2, 1], [5, 6, 7, 8, 3], [0, 9])
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from mimdsim.program.ir import ComputeSet
from mimdsim.program.memo import derived, keep

__all__ = ["CostTables", "FlatBlocks", "concatenated", "flat_blocks", "keep_flat_blocks", "table_group_blocks"]


def _starts(sizes: np.ndarray) -> np.ndarray:
    out = np.zeros(sizes.size, np.int64)
    if sizes.size > 1:
        np.cumsum(sizes[:-1], out=out[1:])
    return out


def _cat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


_A = np.ndarray
CostTables = tuple[_A, _A, _A, _A, _A, _A, _A, _A, _A, _A, _A]
"""``(nvtx, cyc_ptr, cyc_rows, cnt_ptr, cnt_rows, sup_ptr, sup_rows, segment, cyc, cnt, sup)``."""


@dataclass(frozen=True, eq=False)
class FlatBlocks:
    """Every block of a compute set in flat int64 arrays (see the module docstring)."""

    tile_ptr: np.ndarray  # [blocks + 1]
    tiles: np.ndarray
    nvtx: np.ndarray  # entries of each block's vertex list (its worker cycles' last dimension)
    cnt_width: np.ndarray  # the last dimension of its worker counts (equal to nvtx in a valid block)
    cyc_2d: np.ndarray  # bool: the worker cycles are a table
    cnt_2d: np.ndarray
    sup_1d: np.ndarray  # bool: the supervisor cycles are a table
    cyc_rows: np.ndarray
    cnt_rows: np.ndarray
    sup_rows: np.ndarray
    segment: np.ndarray
    cyc: np.ndarray
    cnt: np.ndarray
    sup: np.ndarray

    @property
    def n_blocks(self) -> int:
        return int(self.nvtx.size)

    def cost_tables(self) -> CostTables:
        """``(nvtx, cyc_ptr, cyc_rows, cnt_ptr, cnt_rows, sup_ptr, sup_rows, segment, cyc, cnt, sup)``: what the
        compute-cost kernels of :mod:`mimdsim.cost.compute` and the cycle bound read (made once)."""
        return self._cost_tables

    @functools.cached_property
    def _cost_tables(self) -> CostTables:
        return (
            self.nvtx, _starts(self.nvtx * self.cyc_rows), self.cyc_rows, _starts(self.nvtx * self.cnt_rows), self.cnt_rows,
            _starts(self.sup_rows), self.sup_rows, self.segment, self.cyc, self.cnt, self.sup,
        )  # fmt: skip


def _ints(values: list[int] | list[bool], dtype: type = np.int64) -> np.ndarray:
    return np.array(values, dtype)


def _make(cs: ComputeSet) -> FlatBlocks:
    blocks = cs.blocks
    cycs = [b.worker_cycles for b in blocks]
    cnts = [b.worker_counts for b in blocks]
    sups = [b.supervisor_cycles for b in blocks]
    cyc_shape = [c.shape for c in cycs]
    cnt_shape = [c.shape for c in cnts]
    sup_1d = [isinstance(x, np.ndarray) for x in sups]
    tile_ptr = np.zeros(len(blocks) + 1, np.int64)
    np.cumsum([b.tiles.size for b in blocks], out=tile_ptr[1:])
    sup_flat = (
        _cat([np.atleast_1d(np.asarray(x, np.int64)) for x in sups]) if any(sup_1d) else np.array(sups, np.int64).reshape(-1)
    )
    arrays = (
        tile_ptr,
        _cat([b.tiles for b in blocks]),
        _ints([s[-1] for s in cyc_shape]),
        _ints([s[-1] for s in cnt_shape]),
        _ints([len(s) == 2 for s in cyc_shape], bool),
        _ints([len(s) == 2 for s in cnt_shape], bool),
        _ints(sup_1d, bool),
        _ints([s[0] if len(s) == 2 else 1 for s in cyc_shape]),
        _ints([s[0] if len(s) == 2 else 1 for s in cnt_shape]),
        _ints([x.size if t else 1 for x, t in zip(sups, sup_1d, strict=True)]),  # type: ignore[union-attr]
        _ints([b.segment for b in blocks]),
        _cat([c.ravel() for c in cycs]),
        _cat([c.ravel() for c in cnts]),
        sup_flat,
    )
    for a in arrays:
        a.flags.writeable = False
    return FlatBlocks(*arrays)


def flat_blocks(cs: ComputeSet) -> FlatBlocks:
    """:class:`FlatBlocks` of ``cs``, made once while ``cs`` lives."""
    return derived(cs, ("flat_blocks",), lambda: _make(cs))


def table_group_blocks(
    tiles: np.ndarray, bounds: np.ndarray, cycles: np.ndarray, counts: np.ndarray, firsts: np.ndarray
) -> FlatBlocks:
    """The flat blocks of ``add_table_groups(codelet, tiles, bounds, cycles, counts, firsts)``: block ``g`` on
    ``tiles[bounds[g]:bounds[g+1]]`` with the vertex list ``cycles`` (1-D) and the count table ``counts[firsts[g]]``
    (``[rows, len(cycles)]``), no supervisor, segment 0; what :func:`flat_blocks` makes of those blocks."""
    n, nv = firsts.size, cycles.size
    _, rows, width = counts.shape
    ints = lambda value: np.full(n, value, np.int64)  # noqa: E731
    arrays = (
        (bounds - bounds[0]).astype(np.int64), tiles[bounds[0] : bounds[-1]].astype(np.int64), ints(nv), ints(width),
        np.zeros(n, bool), np.ones(n, bool), np.zeros(n, bool), ints(1), ints(rows), ints(1), ints(0),
        np.tile(cycles.astype(np.int64), n), counts[firsts].astype(np.int64).reshape(-1), ints(0),
    )  # fmt: skip
    for a in arrays:
        a.flags.writeable = False
    return FlatBlocks(*arrays)


def concatenated(parts: list[FlatBlocks]) -> FlatBlocks:
    """The flat blocks of the blocks of ``parts``, one after the other."""
    offsets = np.cumsum([0] + [p.tiles.size for p in parts[:-1]])
    tile_ptr = np.concatenate([np.zeros(1, np.int64), *(p.tile_ptr[1:] + off for p, off in zip(parts, offsets, strict=True))])
    arrays = (tile_ptr, *(np.concatenate([getattr(p, f) for p in parts]) for f in _FIELDS[1:]))
    for a in arrays:
        a.flags.writeable = False
    return FlatBlocks(*arrays)


def keep_flat_blocks(cs: ComputeSet, flat: FlatBlocks) -> None:
    """Give ``cs`` its flat blocks, made by whoever made its blocks (:func:`table_group_blocks`)."""
    keep(cs, ("flat_blocks",), flat)


_FIELDS = tuple(FlatBlocks.__dataclass_fields__)
