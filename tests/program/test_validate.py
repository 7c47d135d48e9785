"""check_program: every bad input gives a ProgramError that names the step, the field and the value."""

from __future__ import annotations

import numpy as np
import pytest

from mimdsim.arch import MachineSpec, load_machine
from mimdsim.errors import ProgramError
from mimdsim.program.ir import ComputeSet, Exchange, HostCopy, Program, Repeat, Step, Superstep, Tensor, VertexBlock
from mimdsim.program.validate import check_program

# 2 IPUs of 8 tiles: tiles 0-7 on IPU 0, 8-15 on IPU 1
MACHINE = load_machine("mk2", n_ipus=2, tiles_per_ipu=8)


def _ex(src: list[int], dst_ptr: list[int], dst: list[int], nbytes: list[int]) -> Exchange:
    return Exchange("e", np.array(src), np.array(dst_ptr), np.array(dst), np.array(nbytes))


def _lists(src: list[int], dst_ptr: list[int], dst: list[int], nbytes: list[int], dst_list: list[int]) -> Exchange:
    return Exchange("e", np.array(src), np.array(dst_ptr), np.array(dst), np.array(nbytes), dst_list=np.array(dst_list))


def _cs(*blocks: VertexBlock) -> ComputeSet:
    return ComputeSet("c", blocks)


def _prog(*steps: Step, tensors: tuple[Tensor, ...] = (), batch_size: int | None = None) -> Program:
    return Program("p", steps, tensors, batch_size)


_TABLE_A = VertexBlock("A", [0], [[1], [2], [3]])


def _ok_program() -> Program:
    ex = Exchange.from_transfers("e", [(0, [1, 2], 8), (3, [4], 4), (1, [9], 4)])
    cs = _cs(VertexBlock("V", [0, 1, 15], [5, 7], [2, 1], 10), VertexBlock("W", [0], [], [], 3))
    return _prog(
        HostCopy("h", np.array([0, 15]), np.array([4, 8]), "from_device"),
        Repeat(0, (Superstep("s", "external", ex, cs),)),
        Superstep("t"),
        tensors=(Tensor("x", [0, 15], [1, 0], "exchange_buffer"),),
        batch_size=2,
    )


def test_valid_program_passes() -> None:
    check_program(_ok_program(), MACHINE)
    check_program(_prog(), MACHINE)


# (program, words that must be in the message): one case per check in validate.py
_BAD: list[tuple[str, Program, list[str]]] = [
    ("batch_size", _prog(batch_size=0), ["program 'p'", "batch_size 0 must be > 0"]),
    ("tensor kind", _prog(tensors=(Tensor("x", [0], [4], "weights"),)), ["tensor 'x'", "kind 'weights' is not one of"]),  # type: ignore[arg-type]
    ("tensor lengths", _prog(tensors=(Tensor("x", [0, 1], [4]),)), ["tensor 'x'", "tiles and nbytes differ in length"]),
    ("tensor tile high", _prog(tensors=(Tensor("x", [0, 16], [4, 4]),)), ["tensor 'x'", "tile 16 does not exist", "0..15"]),
    ("tensor tile negative", _prog(tensors=(Tensor("x", [-1], [4]),)), ["tile -1 does not exist"]),
    ("tensor bytes", _prog(tensors=(Tensor("x", [0], [-4]),)), ["tensor 'x'", "byte count -4 is negative"]),
    ("sync", _prog(Superstep("s", "global")), ["step 0 ('s')", "sync 'global' is not 'internal' or 'external'"]),  # type: ignore[arg-type]
    (
        "exchange counts",
        _prog(Superstep("s", exchange=_ex([0, 1], [0, 1], [2], [4, 4]))),
        ["exchange 'e'", "src, dst_ptr, nbytes, messages, per_destination and replicable disagree"],
    ),
    (
        "exchange messages",
        _prog(
            Superstep("s", exchange=Exchange("e", np.array([0]), np.array([0, 1]), np.array([2]), np.array([4]), np.array([0])))
        ),
        ["exchange 'e'", "transfer 0 has 0 messages (must be >= 1)"],
    ),
    (
        "exchange nbytes count",
        _prog(Superstep("s", exchange=_ex([0], [0, 1], [2], [4, 4]))),
        ["disagree on the number of transfers"],
    ),
    ("dst_ptr start", _prog(Superstep("s", exchange=_ex([0], [1, 2], [2, 3], [4]))), ["dst_ptr must start at 0"]),
    ("dst_ptr end", _prog(Superstep("s", exchange=_ex([0], [0, 1], [2, 3], [4]))), ["end at len(dst)"]),
    ("dst_ptr empty", _prog(Superstep("s", exchange=_ex([0, 1], [0, 0, 1], [2], [4, 4]))), [">= 1 destination"]),
    ("src range", _prog(Superstep("s", exchange=_ex([16], [0, 1], [2], [4]))), ["exchange 'e'", "tile 16 does not exist"]),
    ("dst range", _prog(Superstep("s", exchange=_ex([0], [0, 1], [99], [4]))), ["tile 99 does not exist"]),
    ("exchange bytes", _prog(Superstep("s", exchange=_ex([0], [0, 1], [2], [-8]))), ["byte count -8 is negative"]),
    ("self send", _prog(Superstep("s", exchange=_ex([3], [0, 2], [1, 3], [4]))), ["transfer 0 sends from tile 3 to itself"]),
    ("dup dst", _prog(Superstep("s", exchange=_ex([0], [0, 2], [1, 1], [4]))), ["transfer 0 names a destination tile twice"]),
    (
        "cross IPU",
        _prog(Superstep("s", "internal", _ex([2], [0, 1], [9], [4]))),
        ["transfer 0 crosses IPUs", "tile 2 -> tile 9 on IPU 1", "use sync='external'"],
    ),
    (
        "list of transfer",
        _prog(Superstep("s", exchange=_lists([0], [0, 2], [1, 2], [4], [1]))),
        ["dst_list names list 1", "lists 0..0"],
    ),
    (
        "list count",
        _prog(Superstep("s", exchange=_lists([0, 1], [0, 2], [1, 2], [4, 4], [0]))),
        ["dst_list has 1 entries for 2 transfers"],
    ),
    (
        "list only source",
        _prog(Superstep("s", exchange=_lists([1], [0, 1], [1], [4], [0]))),
        ["transfer 0 from tile 1 has no destination but its source"],
    ),
    (
        "list dup",
        _prog(Superstep("s", exchange=_lists([0], [0, 2], [1, 1], [4], [0]))),
        ["destination list 0 names a destination tile twice"],
    ),
    (
        "list empty",
        _prog(Superstep("s", exchange=_lists([0], [0, 0, 1], [1], [4], [1]))),
        ["each destination list >= 1 destination"],
    ),
    (
        "list cross IPU",
        _prog(Superstep("s", "internal", _lists([2, 9], [0, 2], [2, 9], [4, 4], [0, 0]))),
        ["transfer 0 crosses IPUs", "tile 2 -> tile 9 on IPU 1"],
    ),
    (
        "block tile",
        _prog(Superstep("s", compute=_cs(VertexBlock("V", [20], [1])))),
        ["compute set 'c' block 0 (V)", "tile 20 does not exist"],
    ),
    (
        "block cycles",
        _prog(Superstep("s", compute=_cs(VertexBlock("V", [0], [-1])))),
        ["block 0 (V)", "vertex cycles -1 is negative"],
    ),
    ("block count", _prog(Superstep("s", compute=_cs(VertexBlock("V", [0], [1], [-2])))), ["vertex count -2 is negative"]),
    (
        "block shapes",
        _prog(Superstep("s", compute=_cs(VertexBlock("V", [0], [1, 2], [1])))),
        ["worker_counts has 1 entries, worker_cycles 2"],
    ),
    (
        "table outside repeat",
        _prog(Superstep("s", compute=_cs(VertexBlock("V", [0], [[1], [2]])))),
        ["step 0 ('s')", "cycle tables of 2 rows but runs outside any repeat"],
    ),
    (
        "table rows vs repeat",
        _prog(Repeat(3, (Superstep("s", compute=_cs(VertexBlock("V", [0], [[1], [2]]))),))),
        ["step 0 ('s')", "cycle tables of 2 rows but runs directly in a repeat of 3"],
    ),
    (
        "table rows differ in a block",
        _prog(Repeat(2, (Superstep("s", compute=_cs(VertexBlock("V", [0], [[1], [2]], [[1], [1], [1]]))),))),
        ["block 0 (V)", "different numbers of rows (2, 3)"],
    ),
    (
        "table rows differ between blocks",
        _prog(
            Repeat(
                2, (Superstep("s", compute=_cs(VertexBlock("V", [0], [[1], [2]]), VertexBlock("W", [1], [5], [1], [1, 2, 3]))),)
            )
        ),
        ["block 0 (V)", "cycle table of 2 rows in a compute set whose tables have 3"],
    ),
    (
        "negative table entry",
        _prog(Repeat(2, (Superstep("s", compute=_cs(VertexBlock("V", [0], [[1], [-2]]))),))),
        ["block 0 (V)", "vertex cycles -2 is negative"],
    ),
    ("supervisor", _prog(Superstep("s", compute=_cs(VertexBlock("V", [0], [], [], -3)))), ["supervisor_cycles -3 is negative"]),
    (
        "block dup tile",
        _prog(Superstep("s", compute=_cs(VertexBlock("A", [0], [1]), VertexBlock("V", [1, 1], [1])))),
        ["block 1 (V)", "tile 1 appears twice in one block"],
    ),
    (
        "block dup tile, unsorted, second compute set",
        _prog(
            Superstep("s", compute=_cs(VertexBlock("A", [3, 1], [1]))),
            Superstep("t", compute=_cs(VertexBlock("B", [0], [1]), VertexBlock("W", [5, 2, 5], [1]))),
        ),
        ["step 1 ('t')", "block 1 (W)", "tile 5 appears twice in one block"],
    ),
    (
        "table rows differ within a block, after good blocks",
        _prog(Repeat(3, (Superstep("s", compute=_cs(_TABLE_A, VertexBlock("V", [1], [[1], [2], [3]], [1], [4, 5]))),))),
        ["block 1 (V)", "its cycle tables have different numbers of rows (2, 3)"],
    ),
    ("host tile", _prog(HostCopy("h", np.array([16]), np.array([4]))), ["step 0 ('h')", "tile 16 does not exist"]),
    ("host bytes", _prog(HostCopy("h", np.array([0]), np.array([-4]))), ["byte count -4 is negative"]),
    ("host lengths", _prog(HostCopy("h", np.array([0, 1]), np.array([4]))), ["tiles and nbytes differ in length"]),
    (
        "host direction",
        _prog(HostCopy("h", np.array([0]), np.array([4]), "sideways")),  # type: ignore[arg-type]
        ["direction 'sideways' is not 'to_device' or 'from_device'"],
    ),
    (
        "repeat negative",
        _prog(Repeat(-1, ())),
        ["step 0 ('repeat')", "repeat count -1 must be an integer in 0..1,099,511,627,776"],
    ),
    ("repeat huge", _prog(Repeat(2**50, ())), ["repeat count 1125899906842624 must be an integer in 0.."]),
    (
        "vertex cycles huge",
        _prog(Superstep("s", compute=_cs(VertexBlock("V", [0], [2**62])))),
        ["vertex cycles 4,611,686,018,427,387,904 is too large", "allowed: 0..1,099,511,627,776"],
    ),
    (
        "vertex count huge",
        _prog(Superstep("s", compute=_cs(VertexBlock("V", [0], [1], [2**40])))),
        ["vertex count 1,099,511,627,776 is too large"],
    ),
    (
        "tensor bytes huge",
        _prog(tensors=(Tensor("x", [0], [2**63 - 1]),)),
        ["tensor 'x'", "byte count 9,223,372,036,854,775,807 is too large"],
    ),
    (
        "exchange bytes huge",
        _prog(Superstep("s", exchange=_ex([0], [0, 1], [2], [2**41]))),
        ["byte count 2,199,023,255,552 is too large"],
    ),
    ("repeat float", _prog(Repeat(2.5, ())), ["repeat count 2.5 must be an integer"]),  # type: ignore[arg-type]
    (
        "nested",
        _prog(Superstep("a"), Repeat(2, (Superstep("b"), HostCopy("h", np.array([0]), np.array([-1]))), "loop")),
        ["program 'p': step 1 ('loop') > step 1 ('h')", "byte count -1"],
    ),
    ("step type", _prog("not a step"), ["step 0", "str is not a Superstep, HostCopy or Repeat"]),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("case", "program", "words"), _BAD, ids=[c[0] for c in _BAD])
def test_bad_program_is_rejected_with_a_clear_message(case: str, program: Program, words: list[str]) -> None:
    with pytest.raises(ProgramError) as info:
        check_program(program, MACHINE)
    msg = str(info.value)
    assert msg.startswith("program 'p': "), msg
    for w in words:
        assert w in msg, f"{w!r} not in {msg!r}"
    assert "\n" not in msg


def test_cross_ipu_transfer_is_fine_with_external_sync() -> None:
    check_program(_prog(Superstep("s", "external", _ex([2], [0, 1], [9], [4]))), MACHINE)


def test_tile_ranges_follow_the_machine() -> None:
    p = _prog(Superstep("s", compute=_cs(VertexBlock("V", [15], [1]))))
    check_program(p, MACHINE)
    small: MachineSpec = load_machine("mk2", tiles_per_ipu=8)
    with pytest.raises(ProgramError, match="tile 15 does not exist"):
        check_program(p, small)


def test_check_does_not_modify_the_program() -> None:
    p = _ok_program()
    before = [s.name for s in p.iter_static()]
    check_program(p, MACHINE)
    assert [s.name for s in p.iter_static()] == before


def test_blocks_with_unsorted_tiles_and_no_duplicate_pass() -> None:
    cs = _cs(VertexBlock("A", [7, 0, 3], [1]), VertexBlock("B", [], [1]), VertexBlock("C", [2, 1], [4]))
    check_program(_prog(Superstep("s", compute=cs)), MACHINE)
