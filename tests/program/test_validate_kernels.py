"""The compiled exchange checks refuse what the plain numpy checks they replaced refused, with the same words, on
random exchanges of both forms (bad tiles, pointers, counts and lists included); the compiled compute-set check
passes exactly the compute sets the numpy checks pass."""

from __future__ import annotations

from unittest.mock import patch

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mimdsim.arch import load_machine
from mimdsim.errors import ProgramError
from mimdsim.program import validate
from mimdsim.program.flat_blocks import flat_blocks
from mimdsim.program.ir import ComputeSet, Exchange, Program, Superstep, VertexBlock
from mimdsim.program.validate import MAX_COUNT, MAX_ITEM, check_program

MACHINE = load_machine("mk2", n_ipus=2, tiles_per_ipu=8)  # tiles 0..15
N_TILES = MACHINE.n_tiles


def _plain_problem(ex: Exchange) -> str | None:
    """The array checks as they were written with numpy (before validate_kernels), in their order."""
    n = ex.src.size
    n_lists = n if ex.dst_list is None else ex.dst_ptr.size - 1
    lists = "destination list" if ex.dst_list is not None else "transfer"
    if ex.dst_list is not None and n and (ex.dst_list.min() < 0 or ex.dst_list.max() >= n_lists):
        bad = int(ex.dst_list[(ex.dst_list < 0) | (ex.dst_list >= n_lists)][0])
        return f"dst_list names list {bad}; the exchange has lists 0..{n_lists - 1}"
    if n and ex.messages.min() < 1:
        return f"transfer {int(np.argmin(ex.messages))} has {int(ex.messages.min())} messages (must be >= 1)"
    if n and ex.messages.max() > MAX_COUNT:
        return f"transfer {int(np.argmax(ex.messages))} has {int(ex.messages.max()):,} messages (allowed: 1..{MAX_COUNT:,})"
    if ex.dst_ptr.size and (ex.dst_ptr[0] != 0 or ex.dst_ptr[-1] != ex.dst.size or np.any(np.diff(ex.dst_ptr) < 1)):
        return f"dst_ptr must start at 0, end at len(dst) and give each {lists} >= 1 destination"
    for tiles in (ex.src, ex.dst):
        if tiles.size and (tiles.min() < 0 or tiles.max() >= N_TILES):
            bad = int(tiles[(tiles < 0) | (tiles >= N_TILES)][0])
            return f"tile {bad} does not exist (machine has tiles 0..{N_TILES - 1})"
    if ex.nbytes.size and ex.nbytes.min() < 0:
        return f"byte count {int(ex.nbytes.min())} is negative (must be >= 0)"
    if ex.nbytes.size and ex.nbytes.max() > MAX_ITEM:
        return f"byte count {int(ex.nbytes.max()):,} is too large (allowed: 0..{MAX_ITEM:,})"
    if n and ex.dst_list is None:
        entry_list = np.repeat(np.arange(n_lists), np.diff(ex.dst_ptr))
        own = np.flatnonzero(ex.dst == ex.src[entry_list])
        if own.size:
            i = int(entry_list[own[0]])
            return f"transfer {i} sends from tile {int(ex.src[i])} to itself"
    return None


@st.composite
def _exchanges(draw: st.DrawFn) -> Exchange:
    n = draw(st.integers(0, 5))
    tile = st.integers(-1, N_TILES) if draw(st.booleans()) else st.integers(0, N_TILES - 1)
    sizes = draw(st.lists(st.integers(0 if draw(st.booleans()) else 1, 3), min_size=1, max_size=6))
    dst_ptr = np.cumsum([0, *sizes])
    if draw(st.booleans()):
        dst_ptr = dst_ptr + draw(st.sampled_from([0, 0, 1, -1]))
    dst = np.array(draw(st.lists(tile, min_size=int(sum(sizes)), max_size=int(sum(sizes)))), np.int64)
    src = np.array(draw(st.lists(tile, min_size=n, max_size=n)), np.int64)
    big = st.sampled_from([MAX_ITEM + 1, MAX_COUNT + 1])
    nbytes = np.array(draw(st.lists(st.one_of(st.integers(-2, 9), big), min_size=n, max_size=n)), np.int64)
    messages = np.array(draw(st.lists(st.one_of(st.integers(0, 3), big), min_size=n, max_size=n)), np.int64)
    if draw(st.booleans()):  # shared lists
        lists = np.array(draw(st.lists(st.integers(-1, len(sizes)), min_size=n, max_size=n)), np.int64)
        return Exchange("e", src, dst_ptr, dst, nbytes, messages, dst_list=lists)
    dst_ptr = np.cumsum([0, *draw(st.lists(st.integers(1, 2), min_size=n, max_size=n))])  # one list per transfer
    dst = np.array(draw(st.lists(tile, min_size=int(dst_ptr[-1]), max_size=int(dst_ptr[-1]))), np.int64)
    return Exchange("e", src, dst_ptr, dst, nbytes, messages)


@settings(max_examples=400, deadline=None)
@given(_exchanges())
def test_the_compiled_checks_refuse_what_the_plain_ones_did(ex: Exchange) -> None:
    want = _plain_problem(ex)
    try:
        check_program(Program("p", (Superstep("s", "external", ex),)), MACHINE)
        got = None
    except ProgramError as err:
        got = str(err).split("exchange 'e': ", 1)[1]
    if want is None:  # the later checks (lists naming a tile twice, sources alone in their list) may still refuse
        assert got is None or "twice" in got or "no destination but its source" in got
    else:
        assert got == want


@st.composite
def _compute_sets(draw: st.DrawFn) -> tuple[ComputeSet, int]:
    """A compute set of blocks that may be refused: tiles out of range or twice, negative or huge values, tables of
    other row counts, falling segments, counts narrower than cycles."""
    rows = draw(st.integers(1, 3))
    value = st.one_of(st.integers(0, 9), st.sampled_from([-1, MAX_ITEM + 1, MAX_COUNT + 1]))
    blocks = []
    segment = 0
    for _ in range(draw(st.integers(1, 4))):
        n_tiles = draw(st.integers(1, 4))
        tiles = draw(st.lists(st.integers(-1, N_TILES) if draw(st.booleans()) else st.integers(0, N_TILES - 1),
                              min_size=n_tiles, max_size=n_tiles))  # fmt: skip
        nv = draw(st.integers(0, 3))
        table_rows = rows if draw(st.integers(0, 5)) else draw(st.integers(0, 4))
        cyc = draw(st.lists(st.lists(value, min_size=nv, max_size=nv), min_size=table_rows, max_size=table_rows))
        cnt_w = nv if draw(st.integers(0, 5)) else nv + 1
        cnt = draw(st.lists(value, min_size=cnt_w, max_size=cnt_w))
        sup = draw(st.one_of(value, st.lists(value, min_size=table_rows, max_size=table_rows)))
        segment += draw(st.sampled_from([0, 0, 1, -1]))
        cycles = np.array(cyc, np.int64).reshape(table_rows, nv) if not cyc or draw(st.booleans()) else np.array(cyc[0], np.int64)
        blocks.append(VertexBlock("V", tiles, cycles, cnt, sup, segment=segment))
    cs = ComputeSet("c", tuple(blocks))
    return cs, cs.n_rows


@settings(max_examples=400, deadline=None)
@given(_compute_sets())
def test_compute_set_ok_agrees_with_the_checks_that_name_the_problem(case: tuple[ComputeSet, int]) -> None:
    cs, _ = case
    ok = validate._passes(flat_blocks(cs), cs.n_rows, N_TILES)
    with patch.object(validate, "_passes", lambda *a: False):  # the numpy checks that find and name the first problem
        try:
            validate._check_compute_sets([("here", cs)], N_TILES)
            refused = False
        except ProgramError:
            refused = True
    assert ok != refused
