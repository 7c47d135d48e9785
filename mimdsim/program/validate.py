"""Check a program against itself and a machine before any simulation runs."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from mimdsim.arch.spec import MachineSpec
from mimdsim.errors import ProgramError
from mimdsim.program import validate_kernels as vk
from mimdsim.program.flat_blocks import FlatBlocks, flat_blocks
from mimdsim.program.ir import TENSOR_KINDS, ComputeSet, Exchange, HostCopy, Program, Repeat, Step, Superstep, VertexBlock
from mimdsim.program.memo import derived

__all__ = ["check_program"]


_NO_SUCH_TILE = "tile {v} does not exist (machine has tiles 0..{last_tile})"
_NEGATIVE = "{what} {v} is negative (must be >= 0)"
_TOO_LARGE = "{what} {v:,} is too large (allowed: 0..{limit:,})"


def _tiles_in_range(where: str, tiles: np.ndarray, n_tiles: int) -> None:
    e = vk.first_outside(np.ascontiguousarray(tiles, np.int64), n_tiles)
    if e >= 0:
        raise ProgramError(f"{where}: {_NO_SUCH_TILE.format(v=int(tiles[e]), last_tile=n_tiles - 1)}")


MAX_ITEM = 1 << 40
"""Largest cycle count, byte count or repeat count one program entry may hold (about 10 minutes
at 1.85 GHz, 1 TiB): with it no per-tile total of a valid program can wrap int64."""
MAX_COUNT = 1 << 31
"""Largest number of copies of one vertex, or of messages of one transfer."""


def _non_negative(where: str, values: np.ndarray, what: str, limit: int = MAX_ITEM) -> None:
    if values.size and values.min() < 0:
        raise ProgramError(f"{where}: {_NEGATIVE.format(what=what, v=int(values.min()))}")
    if values.size and values.max() > limit:
        raise ProgramError(f"{where}: {_TOO_LARGE.format(what=what, v=int(values.max()), limit=limit)}")


def _table_problems(f: FlatBlocks, cs_rows: int) -> np.ndarray:
    """Per block of ``f``: whether :func:`_check_block_tables` or the segment order would refuse it."""
    big = np.iinfo(np.int64).max
    rows = [(f.cyc_2d, f.cyc_rows), (f.cnt_2d, f.cnt_rows), (f.sup_1d, f.sup_rows)]
    lo = np.minimum.reduce([np.where(has, r, big) for has, r in rows])
    hi = np.maximum.reduce([np.where(has, r, -1) for has, r in rows])
    table = f.cyc_2d | f.cnt_2d | f.sup_1d
    bad = (f.nvtx != f.cnt_width) | (table & ((lo != hi) | (lo != cs_rows) | (cs_rows == 0)))
    bad |= f.segment < 0
    bad[1:] |= f.segment[1:] < f.segment[:-1]
    return bad


def _passes(f: FlatBlocks, cs_rows: int, n_tiles: int) -> bool:
    return bool(vk.compute_set_ok(
        f.tile_ptr, f.tiles, f.nvtx, f.cnt_width, f.cyc_2d, f.cnt_2d, f.sup_1d, f.cyc_rows, f.cnt_rows, f.sup_rows, f.segment,
        f.cyc, f.cnt, f.sup, cs_rows, n_tiles, MAX_ITEM, MAX_COUNT,
    ))  # fmt: skip


def _check_compute_sets(sets: list[tuple[str, ComputeSet]], n_tiles: int) -> None:
    """Check every block of every compute set: each set's flat blocks in one compiled pass; when one is refused, the
    first problem found vectorised over the whole program's flat blocks, and named."""
    flats = [flat_blocks(cs) for _, cs in sets]
    if all(_passes(f, cs.n_rows, n_tiles) for (_, cs), f in zip(sets, flats, strict=True)):
        return
    # some block is refused: find the first problem, in the order below, to name it
    sizes = np.array([f.n_blocks for f in flats], np.int64)
    if not sizes.sum():
        return
    first_block = np.r_[0, np.cumsum(sizes)]

    def where_of(i: int) -> str:
        j = int(np.searchsorted(first_block, i, side="right")) - 1
        k = int(i) - int(first_block[j])
        where, cs = sets[j]
        return f"{where}: compute set {cs.name!r} block {k} ({cs.blocks[k].codelet})"

    for j, ((_, cs), f) in enumerate(zip(sets, flats, strict=True)):
        bad = np.flatnonzero(_table_problems(f, cs.n_rows))
        if bad.size:  # the first refused block, with the message of its first problem
            k = int(bad[0])
            b = cs.blocks[k]
            where = functools.partial(where_of, int(first_block[j]) + k)
            _check_block_tables(where, b, cs.n_rows)
            raise ProgramError(
                f"{where()}: segment {b.segment} (segments start at 0 and never decrease from one block to the next)"
            )
    tiles = np.concatenate([f.tiles for f in flats])
    tile_ptr = np.r_[0, np.cumsum(np.concatenate([np.diff(f.tile_ptr) for f in flats]))]
    checks = (
        ("vertex cycles", [f.cyc for f in flats], [f.nvtx * f.cyc_rows for f in flats], MAX_ITEM),
        ("vertex count", [f.cnt for f in flats], [f.cnt_width * f.cnt_rows for f in flats], MAX_COUNT),
        ("supervisor_cycles", [f.sup for f in flats], [f.sup_rows for f in flats], MAX_ITEM),
    )
    if tiles.size and (tiles.min() < 0 or tiles.max() >= n_tiles):
        bad = np.flatnonzero((tiles < 0) | (tiles >= n_tiles))
        owner = np.searchsorted(tile_ptr, bad[0], side="right") - 1
        raise ProgramError(f"{where_of(owner)}: {_NO_SUCH_TILE.format(v=int(tiles[bad[0]]), last_tile=n_tiles - 1)}")
    for name, parts, part_sizes, limit in checks:
        if all(not p.size or (p.min() >= 0 and p.max() <= limit) for p in parts):  # no copy of every table when all pass
            continue
        values = np.concatenate(parts)
        owner = np.repeat(np.arange(first_block[-1]), np.concatenate(part_sizes))
        bad = np.flatnonzero(values < 0)
        if bad.size:
            raise ProgramError(f"{where_of(owner[bad[0]])}: {_NEGATIVE.format(what=name, v=int(values[bad[0]]))}")
        bad = np.flatnonzero(values > limit)
        raise ProgramError(f"{where_of(owner[bad[0]])}: {_TOO_LARGE.format(what=name, v=int(values[bad[0]]), limit=limit)}")
    rising = tiles[1:] > tiles[:-1]
    starts = tile_ptr[1:-1]
    rising[starts[(starts > 0) & (starts < tiles.size)] - 1] = True  # a block's first tile may be anything
    if bool(rising.all()):  # every block lists its tiles in increasing order: none twice
        return
    tile_owner = np.repeat(np.arange(first_block[-1]), np.diff(tile_ptr))
    key = np.sort(tile_owner * n_tiles + tiles)
    dup = np.flatnonzero(key[1:] == key[:-1])
    if dup.size:
        raise ProgramError(f"{where_of(key[dup[0]] // n_tiles)}: tile {int(key[dup[0]] % n_tiles)} appears twice in one block")


def _check_block_tables(where: Callable[[], str], b: VertexBlock, cs_rows: int) -> None:
    """A block's vertex list and cycle tables agree in shape, and with the compute set's rows
    (``where()`` names the block; only called for a message)."""
    cyc, cnt = b.worker_cycles, b.worker_counts
    assert cnt is not None  # an array after __post_init__
    if cyc.shape[-1] != cnt.shape[-1]:
        raise ProgramError(f"{where()}: worker_counts has {cnt.shape[-1]} entries, worker_cycles {cyc.shape[-1]}")
    if cyc.ndim == 1 and cnt.ndim == 1 and not isinstance(b.supervisor_cycles, np.ndarray):
        return  # no table
    rows = {a.shape[0] for a in (cyc, cnt) if a.ndim == 2}
    if isinstance(b.supervisor_cycles, np.ndarray):
        rows.add(b.supervisor_cycles.size)
    if len(rows) > 1:
        raise ProgramError(f"{where()}: its cycle tables have different numbers of rows ({', '.join(map(str, sorted(rows)))})")
    if rows != {cs_rows}:
        raise ProgramError(f"{where()}: cycle table of {rows.pop()} rows in a compute set whose tables have {cs_rows}")
    if cs_rows == 0:
        raise ProgramError(f"{where()}: a cycle table needs at least one row")


_NO_LISTS = np.zeros(0, np.int64)
_NO_LISTS.flags.writeable = False  # read-only like an exchange's arrays: one compiled kernel for both forms

_EXCHANGE_PROBLEMS = {
    vk.LIST_RANGE: "dst_list names list {v}; the exchange has lists 0..{last_list}",
    vk.FEW_MESSAGES: "transfer {i} has {v} messages (must be >= 1)",
    vk.MANY_MESSAGES: "transfer {i} has {v:,} messages (allowed: 1..{max_count:,})",
    vk.POINTERS: "dst_ptr must start at 0, end at len(dst) and give each {lists} >= 1 destination",
    vk.SOURCE_TILE: _NO_SUCH_TILE,
    vk.DESTINATION_TILE: _NO_SUCH_TILE,
    vk.NEGATIVE_BYTES: _NEGATIVE,
    vk.TOO_MANY_BYTES: _TOO_LARGE,
    vk.SELF_SEND: "transfer {i} sends from tile {v} to itself",
}
"""The words for each problem :func:`~mimdsim.program.validate_kernels.exchange_problem` finds."""


def _check_exchange(where: str, ex: Exchange, scope: str, machine: MachineSpec) -> None:
    w = f"{where}: exchange {ex.name!r}"
    n = ex.src.size
    n_lists = n if ex.dst_list is None else ex.dst_ptr.size - 1
    lists = "destination list" if ex.dst_list is not None else "transfer"
    if (
        ex.nbytes.size != n
        or ex.messages.size != n
        or ex.per_destination.size != n
        or ex.replicable.size != n
        or (ex.dst_list is None and ex.dst_ptr.size != n + 1)
    ):
        raise ProgramError(
            f"{w}: src, dst_ptr, nbytes, messages, per_destination and replicable disagree on the number of transfers"
        )
    if ex.dst_list is not None:
        if ex.dst_list.size != n:
            raise ProgramError(f"{w}: dst_list has {ex.dst_list.size} entries for {n} transfers")
        if ex.dst_ptr.size < 1:
            raise ProgramError(f"{w}: dst_ptr must hold at least one entry (0)")
    code, i, v = vk.exchange_problem(
        ex.src, ex.dst_ptr, ex.dst, ex.nbytes, ex.messages, _NO_LISTS if ex.dst_list is None else ex.dst_list, ex.dst_list is not None,
        machine.n_tiles, MAX_ITEM, MAX_COUNT,
    )  # fmt: skip
    if code != vk.OK:
        problem = _EXCHANGE_PROBLEMS[code].format(i=i, v=v, lists=lists, last_list=n_lists - 1, last_tile=machine.n_tiles - 1,
                                                  max_count=MAX_COUNT, what="byte count", limit=MAX_ITEM)  # fmt: skip
        raise ProgramError(f"{w}: {problem}")
    if n == 0:
        return
    twice = ex.list_naming_a_tile_twice()
    if twice >= 0:
        raise ProgramError(f"{w}: {lists} {twice} names a destination tile twice")
    if ex.dst_list is not None:
        alone = np.flatnonzero(ex.fanout() == 0)
        if alone.size:
            i = int(alone[0])
            raise ProgramError(f"{w}: transfer {i} from tile {int(ex.src[i])} has no destination but its source")
    if scope == "internal":
        cross = np.flatnonzero(ex.crosses_ipus(machine.tiles_per_ipu))
        if cross.size:
            i = int(cross[0])
            dsts = ex.destinations(i)
            d = int(dsts[dsts // machine.tiles_per_ipu != ex.src[i] // machine.tiles_per_ipu][0])
            raise ProgramError(
                f"{w}: transfer {i} crosses IPUs (tile {int(ex.src[i])} -> tile {d} on IPU {d // machine.tiles_per_ipu}) "
                "in a superstep with an internal sync (use sync='external')"
            )


def _check_steps(
    steps: tuple[Step, ...],
    machine: MachineSpec,
    prefix: str,
    seen: set[tuple[int, str]],
    sets: list[tuple[str, ComputeSet]],
    tables: list[tuple[str, ComputeSet, int | None]],
    loop_count: int | None = None,
) -> None:
    """Check each step; an exchange shared by several steps is checked once; compute sets go to
    ``sets``, and those with cycle tables, with ``loop_count`` (the count of the innermost
    repeat around ``steps``; None at the top), to ``tables``."""
    for k, s in enumerate(steps):
        where = f"{prefix}step {k} ({getattr(s, 'name', '?')!r})"
        if isinstance(s, Superstep):
            if s.sync not in ("internal", "external"):
                raise ProgramError(f"{where}: sync {s.sync!r} is not 'internal' or 'external'")
            if s.compute is not None and s.compute.is_table:
                tables.append((where, s.compute, loop_count))
            if s.exchange is not None and (id(s.exchange), s.sync) not in seen:
                _check_exchange(where, s.exchange, s.sync, machine)
                seen.add((id(s.exchange), s.sync))
            if s.compute is not None and (id(s.compute), "") not in seen:
                sets.append((where, s.compute))
                seen.add((id(s.compute), ""))
        elif isinstance(s, HostCopy):
            _tiles_in_range(where, s.tiles, machine.n_tiles)
            _non_negative(where, s.nbytes, "byte count")
            if s.tiles.size != s.nbytes.size:
                raise ProgramError(f"{where}: tiles and nbytes differ in length")
            if s.direction not in ("to_device", "from_device"):
                raise ProgramError(f"{where}: direction {s.direction!r} is not 'to_device' or 'from_device'")
        elif isinstance(s, Repeat):
            if isinstance(s.count, bool) or not isinstance(s.count, int | np.integer) or not 0 <= s.count <= MAX_ITEM:
                raise ProgramError(f"{where}: repeat count {s.count!r} must be an integer in 0..{MAX_ITEM:,}")
            _check_steps(s.body, machine, f"{where} > ", seen, sets, tables, int(s.count))
        else:
            raise ProgramError(f"{where}: {type(s).__name__} is not a Superstep, HostCopy or Repeat")


def check_program(program: Program, machine: MachineSpec) -> None:
    """Raise :class:`ProgramError` naming the step, field and value of the first problem.

    The checks depend on the machine's tile count and tiles per IPU only; a program that
    passed on such a machine is not checked again (:mod:`mimdsim.program.memo`).
    """

    def check() -> bool:
        _check_program(program, machine)
        return True

    derived(program, ("valid", machine.n_tiles, machine.tiles_per_ipu), check)


def _check_program(program: Program, machine: MachineSpec) -> None:
    if program.batch_size is not None and program.batch_size <= 0:
        raise ProgramError(f"program {program.name!r}: batch_size {program.batch_size} must be > 0")
    for t in program.tensors:
        where = f"program {program.name!r}: tensor {t.name!r}"
        if t.kind not in TENSOR_KINDS:
            raise ProgramError(f"{where}: kind {t.kind!r} is not one of {', '.join(TENSOR_KINDS)}")
        if t.tiles.size != t.nbytes.size:
            raise ProgramError(f"{where}: tiles and nbytes differ in length")
        _tiles_in_range(where, t.tiles, machine.n_tiles)
        _non_negative(where, t.nbytes, "byte count")
    sets: list[tuple[str, ComputeSet]] = []
    tables: list[tuple[str, ComputeSet, int | None]] = []
    _check_steps(program.body, machine, f"program {program.name!r}: ", set(), sets, tables)
    _check_compute_sets(sets, machine.n_tiles)
    for where, cs, loop_count in tables:
        if cs.n_rows != 1 and cs.n_rows != loop_count:
            inside = "outside any repeat" if loop_count is None else f"directly in a repeat of {loop_count}"
            raise ProgramError(
                f"{where}: compute set {cs.name!r} has cycle tables of {cs.n_rows} rows but runs {inside} "
                "(row i is used in iteration i of the innermost repeat, so the counts must be equal)"
            )
