"""Program files: round trips (Hypothesis), sharing, gzip, atomic writes and every format error."""

from __future__ import annotations

import copy
import doctest
import gzip
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mimdsim.program.serialize as serialize_module
from mimdsim.errors import ProgramError, ProgramFormatError
from mimdsim.program.builder import ProgramBuilder
from mimdsim.program.ir import Program, Repeat, Superstep
from mimdsim.program.serialize import load_program, program_from_dict, program_to_dict, save_program
from tests.engines.strategies import machine_and_program


def _program() -> Program:
    b = ProgramBuilder("small", batch_size=4, metadata={"note": "test", "sizes": [1, 2]})
    x = b.tensor("x", {0: 16, 1: 32})
    b.tensor("code", ([0, 1, 2, 3], 100), kind="code")
    b.host_copy("in", x)
    ex = b.exchange("e")
    ex.send(0, [1, 2, 3], 8)
    ex.send_many([1, 2], [0, 3], [4, 5])
    cs = b.compute_set("c").add("V", range(4), cycles=[10, 20, 10, 20], count=7).add("S", [0], supervisor_cycles=30)
    with b.repeat(3, name="loop"):
        b.superstep("a", exchange=ex, compute=cs)
        with b.repeat(2):
            b.superstep("b", exchange=ex, sync="external")
    b.host_copy("out", {3: 12}, direction="from_device")
    return b.build()


def test_module_doctest() -> None:
    res = doctest.testmod(serialize_module)
    assert res.attempted > 0 and res.failed == 0


@pytest.mark.parametrize("name", ["p.json", "p.json.gz", "p.program"])
def test_round_trip(tmp_path: Path, name: str) -> None:
    p = _program()
    path = tmp_path / name
    save_program(p, path)
    q = load_program(path)
    assert program_to_dict(q) == program_to_dict(p)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")


def test_cycle_tables_and_messages_round_trip(tmp_path: Path) -> None:
    from mimdsim.program.ir import ComputeSet, Exchange, VertexBlock

    cs = ComputeSet(
        "t", (VertexBlock("V", [0, 1], [[1, 2], [3, 4], [5, 6]], [2, 1], [7, 8, 9]), VertexBlock("W", [1], [4], [[1], [0], [2]]))
    )
    ex = Exchange("e", [0, 1], [0, 1, 3], [1, 0, 2], [8, 12], [2, 3])
    p = Program("p", (Repeat(3, (Superstep("s", exchange=ex, compute=cs),)),))
    save_program(p, tmp_path / "p.json")
    q = load_program(tmp_path / "p.json")
    assert program_to_dict(q) == program_to_dict(p)
    got = q.body[0].body[0]  # type: ignore[union-attr]
    assert got.compute.blocks[0].worker_cycles.tolist() == [[1, 2], [3, 4], [5, 6]]
    assert got.compute.blocks[0].supervisor_cycles.tolist() == [7, 8, 9]
    assert got.exchange.messages.tolist() == [2, 3]


def test_shared_destination_lists_round_trip(tmp_path: Path) -> None:
    from mimdsim.program.ir import Exchange

    ex = Exchange("e", [0, 1, 2], [0, 3], [0, 1, 2], [8, 8, 4], dst_list=[0, 0, 0])
    save_program(Program("p", (Superstep("s", exchange=ex),)), tmp_path / "p.json")
    got = load_program(tmp_path / "p.json").body[0].exchange  # type: ignore[union-attr]
    assert got.dst_list.tolist() == [0, 0, 0] and got.fanout().tolist() == [2, 2, 2]
    data = json.loads((tmp_path / "p.json").read_text())
    data["exchanges"][0]["dst_list"] = [0, 0, 1]
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(ProgramFormatError, match="dst_list: names list 1; dst_ptr holds lists 0..0"):
        load_program(tmp_path / "bad.json")


def test_version_1_files_are_still_read(tmp_path: Path) -> None:
    data = program_to_dict(_program())
    data["version"] = 1
    (tmp_path / "v1.json").write_text(json.dumps(data))
    assert program_to_dict(load_program(tmp_path / "v1.json")) == program_to_dict(_program())
    data["compute_sets"][0]["blocks"][0]["worker_cycles"] = [[10], [20]]  # tables are a version-2 feature
    (tmp_path / "v1.json").write_text(json.dumps(data))
    with pytest.raises(ProgramFormatError, match="worker_cycles\\[0\\]: expected an integer"):
        load_program(tmp_path / "v1.json")


def test_shared_phases_stay_shared(tmp_path: Path) -> None:
    save_program(_program(), tmp_path / "p.json")
    data = json.loads((tmp_path / "p.json").read_text())
    assert len(data["exchanges"]) == 1 and len(data["compute_sets"]) == 1
    loop = load_program(tmp_path / "p.json").body[1]
    assert isinstance(loop, Repeat)
    a, inner = loop.body
    assert isinstance(a, Superstep) and isinstance(inner, Repeat)
    assert a.exchange is inner.body[0].exchange  # type: ignore[union-attr]


def test_saved_file_is_versioned_and_readable(tmp_path: Path) -> None:
    save_program(_program(), tmp_path / "p.json")
    text = (tmp_path / "p.json").read_text()
    data = json.loads(text)
    assert data["format"] == "mimdsim-program" and data["version"] == 3
    assert text.count("\n") > 10  # one line per table entry, not one giant line
    assert [s["type"] for s in data["body"]] == ["host_copy", "repeat", "host_copy"]


def test_loaded_arrays_are_read_only(tmp_path: Path) -> None:
    save_program(_program(), tmp_path / "p.json")
    t = load_program(tmp_path / "p.json").tensors[0]
    with pytest.raises(ValueError, match="read-only"):
        t.nbytes[0] = 1


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mp=machine_and_program(), gz=st.booleans())
def test_round_trip_random_programs(tmp_path_factory: pytest.TempPathFactory, mp: tuple[Any, Program], gz: bool) -> None:
    _, p = mp
    path = tmp_path_factory.mktemp("rt") / ("p.json.gz" if gz else "p.json")
    save_program(p, path)
    q = load_program(path)
    assert program_to_dict(q) == program_to_dict(p)
    assert q.n_executed_steps() == p.n_executed_steps()
    for s, t in zip(p.iter_static(), q.iter_static(), strict=True):
        assert type(s) is type(t) and s.name == t.name


def test_inline_phases_are_accepted(tmp_path: Path) -> None:
    doc = {
        "format": "mimdsim-program",
        "version": 1,
        "name": "hand-written",
        "body": [
            {
                "type": "superstep",
                "name": "s",
                "exchange": {"name": "e", "src": [0], "dst_ptr": [0, 2], "dst": [1, 2], "nbytes": [8]},
                "compute": {"name": "c", "blocks": [{"codelet": "V", "tiles": [1, 2], "worker_cycles": [5]}]},
            }
        ],
    }
    path = tmp_path / "hand.json"
    path.write_text(json.dumps(doc))
    p = load_program(path)
    (s,) = p.body
    assert isinstance(s, Superstep) and s.sync == "internal"
    assert s.exchange is not None and s.exchange.destinations(0).tolist() == [1, 2]
    assert s.compute is not None and s.compute.blocks[0].worker_counts.tolist() == [1]
    assert p.batch_size is None and p.tensors == ()


def test_save_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "p.json"
    path.write_text("old contents")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        save_program(_program(), path)
    assert path.read_text() == "old contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.json"]  # no temporary file left behind


def test_save_rejects_non_json_metadata(tmp_path: Path) -> None:
    p = Program("p", (), metadata={"x": object()})
    with pytest.raises(ProgramFormatError, match="cannot be saved as JSON"):
        save_program(p, tmp_path / "p.json")
    assert not (tmp_path / "p.json").exists()


# ---- every way a file can be wrong --------------------------------------------------
def _doc() -> dict[str, Any]:
    return program_to_dict(_program())


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    """Set ``a.b[2].c`` in ``doc``; ``value is _DELETE`` removes the key."""
    parts = path.replace("[", ".[").split(".")
    node: Any = doc
    for part in parts[:-1]:
        node = node[int(part[1:-1])] if part.startswith("[") else node[part]
    last = parts[-1]
    if last.startswith("["):
        node[int(last[1:-1])] = value
    elif value is _DELETE:
        del node[last]
    else:
        node[last] = value


_DELETE = object()

# (field path, bad value, JSON path named in the message, words of the message)
_BAD_FIELDS = [
    ("format", "something-else", "format", "expected 'mimdsim-program'"),
    ("format", _DELETE, "format", "missing required field"),
    ("version", 4, "version", "expected 1 or 2 or 3"),
    ("version", "1", "version", "expected 1 or 2"),
    ("version", True, "version", "expected 1 or 2"),
    ("name", 5, "name", "expected a string"),
    ("name", _DELETE, "name", "missing required field"),
    ("batch_size", 0, "batch_size", "expected an integer >= 1"),
    ("batch_size", 2.5, "batch_size", "expected an integer >= 1"),
    ("metadata", [1], "metadata", "expected a JSON object"),
    ("tensors", {}, "tensors", "expected a list"),
    ("tensors[0]", "x", "tensors[0]", "expected a JSON object"),
    ("tensors[0].tiles", "0,1", "tensors[0].tiles", "expected a list of integers >= 0"),
    ("tensors[0].tiles", [0, 1.5], "tensors[0].tiles[1]", "expected an integer >= 0"),
    ("tensors[0].tiles", [0, True], "tensors[0].tiles[1]", "expected an integer >= 0"),
    ("tensors[0].tiles", [0, 2**70], "tensors[0].tiles[1]", "expected an integer >= 0"),
    ("tensors[0].nbytes", [16, -1], "tensors[0].nbytes[1]", "expected an integer >= 0"),
    ("tensors[0].nbytes", [16], "tensors[0].nbytes", "has 1 entries, expected one per tile (2)"),
    ("tensors[0].kind", "weights", "tensors[0].kind", "expected one of 'tensor'"),
    ("tensors[0].name", _DELETE, "tensors[0].name", "missing required field"),
    ("exchanges[0].nbytes", [8, 4, "5"], "exchanges[0].nbytes[2]", "expected an integer >= 0"),
    ("exchanges[0].nbytes", [8, 4], "exchanges[0].nbytes", "has 2 entries, expected one per transfer (3)"),
    ("exchanges[0].dst_ptr", [0, 3, 4, 4], "exchanges[0].dst_ptr", "increasing offsets"),
    ("exchanges[0].dst_ptr", [1, 3, 4, 5], "exchanges[0].dst_ptr", "increasing offsets"),
    ("exchanges[0].src", _DELETE, "exchanges[0].src", "missing required field"),
    ("exchanges[0].messages", [1, 0, 2], "exchanges[0].messages[1]", "expected an integer >= 1"),
    ("exchanges[0].messages", [1, 2], "exchanges[0].messages", "has 2 entries, expected one per transfer (3)"),
    ("compute_sets[0].blocks", None, "compute_sets[0].blocks", "expected a list of vertex blocks"),
    (
        "compute_sets[0].blocks[0].worker_counts",
        [1, 2],
        "compute_sets[0].blocks[0].worker_counts",
        "has 2 entries, expected one per worker_cycles",
    ),
    (
        "compute_sets[0].blocks[0].supervisor_cycles",
        -3,
        "compute_sets[0].blocks[0].supervisor_cycles",
        "expected an integer >= 0",
    ),
    (
        "compute_sets[0].blocks[0].worker_cycles",
        [[1], [2, 3]],
        "compute_sets[0].blocks[0].worker_cycles",
        "rows of a cycle table must have equal lengths",
    ),
    (
        "compute_sets[0].blocks[0].worker_cycles",
        [[1], [-2]],
        "compute_sets[0].blocks[0].worker_cycles[1][0]",
        "expected an integer >= 0",
    ),
    (
        "compute_sets[0].blocks[0].supervisor_cycles",
        [1, -2],
        "compute_sets[0].blocks[0].supervisor_cycles[1]",
        "expected an integer >= 0",
    ),
    ("compute_sets[0].blocks[0].supervisor_cycles", [], "compute_sets[0].blocks[0].supervisor_cycles", "at least one row"),
    ("compute_sets[0].blocks[0].codelet", None, "compute_sets[0].blocks[0].codelet", "expected a string"),
    (
        "compute_sets[0].blocks[0].worker_count",
        [7],
        "compute_sets[0].blocks[0].worker_count",
        "unknown field (allowed: codelet, tiles,",
    ),
    ("tensors[0].bytes", [1, 2], "tensors[0].bytes", "unknown field (allowed: name, kind, tiles, nbytes)"),
    ("body[0].count", 3, "body[0].count", "unknown field (allowed: type, name, direction, tiles, nbytes)"),
    ("programs", [], "programs", "unknown field (allowed: format, version,"),
    ("body", None, "body", "expected a list of steps"),
    ("body", _DELETE, "body", "missing required field"),
    ("body[0].type", "barrier", "body[0].type", "expected one of 'superstep', 'host_copy', 'repeat'"),
    ("body[0].direction", "up", "body[0].direction", "expected one of 'to_device', 'from_device'"),
    ("body[0].nbytes", [16], "body[0].nbytes", "has 1 entries, expected one per tile (2)"),
    ("body[1].count", -1, "body[1].count", "expected an integer >= 0"),
    ("body[1].count", "3", "body[1].count", "expected an integer >= 0"),
    ("body[1].body", _DELETE, "body[1].body", "missing required field"),
    ("body[1].body[0].sync", "global", "body[1].body[0].sync", "expected one of 'internal', 'external'"),
    ("body[1].body[0].exchange", 7, "body[1].body[0].exchange", "an index into exchanges (0..0)"),
    ("body[1].body[0].exchange", True, "body[1].body[0].exchange", "an index into exchanges"),
    ("body[1].body[0].compute", "c", "body[1].body[0].compute", "an index into compute_sets (0..0)"),
    (
        "body[1].body[1].body[0].exchange",
        {"name": "e", "src": [0], "dst_ptr": [0, 1], "dst": [1], "nbytes": [-8]},
        "body[1].body[1].body[0].exchange.nbytes[0]",
        "expected an integer >= 0",
    ),
]


@pytest.mark.parametrize(("field", "value", "where", "words"), _BAD_FIELDS, ids=[f"{b[0]}={b[1]!r}"[:50] for b in _BAD_FIELDS])
def test_bad_field_names_file_path_value_and_rule(tmp_path: Path, field: str, value: Any, where: str, words: str) -> None:
    doc = _doc()
    _set(doc, field, value)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ProgramFormatError) as info:
        load_program(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: {where}: "), msg
    assert words in msg, msg
    if value is not _DELETE and "has " not in words and "unknown field" not in words:
        assert "(got " in msg, msg  # the value found (a wrong length is given as "has N entries")
    assert isinstance(info.value, ProgramError)  # callers may catch the broader class


def test_not_a_json_object(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text("[1, 2]")
    with pytest.raises(ProgramFormatError, match=r"list.json: <root>: expected a JSON object \(got \[1, 2\]\)"):
        load_program(path)


def test_truncated_json(tmp_path: Path) -> None:
    save_program(_program(), tmp_path / "p.json")
    text = (tmp_path / "p.json").read_text()
    (tmp_path / "cut.json").write_text(text[: len(text) // 2])
    with pytest.raises(ProgramFormatError, match=r"cut.json: truncated JSON: .* \(line \d+, column \d+\)"):
        load_program(tmp_path / "cut.json")


def test_not_json(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("format = 'toml'\n")
    with pytest.raises(ProgramFormatError, match="x.json: not valid JSON"):
        load_program(tmp_path / "x.json")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ProgramFormatError, match="bin.json: not"):
        load_program(tmp_path / "bin.json")


def test_truncated_gzip(tmp_path: Path) -> None:
    save_program(_program(), tmp_path / "p.json.gz")
    data = (tmp_path / "p.json.gz").read_bytes()
    (tmp_path / "cut.json.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ProgramFormatError, match="cut.json.gz: truncated or corrupt gzip data"):
        load_program(tmp_path / "cut.json.gz")


def test_gzip_detected_by_content(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_bytes(gzip.compress(json.dumps(_doc()).encode()))
    assert load_program(tmp_path / "p.json").name == "small"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProgramFormatError, match="nope.json: file not found"):
        load_program(tmp_path / "nope.json")
    with pytest.raises(ProgramFormatError, match="cannot read"):
        load_program(tmp_path)  # a folder


def test_from_dict_does_not_mutate_input() -> None:
    doc = _doc()
    before = copy.deepcopy(doc)
    p = program_from_dict(doc, "mem")
    assert doc == before and p.name == "small"
    assert np.array_equal(p.tensors[0].tiles, [0, 1])


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    doc: dict[str, Any] = {"format": "mimdsim-program", "version": 1, "name": "deep", "body": []}
    body = doc["body"]
    for _ in range(70):
        inner: list[Any] = []
        body.append({"type": "repeat", "count": 1, "body": inner})
        body = inner
    with pytest.raises(ProgramFormatError, match="nested deeper than 64"):
        program_from_dict(doc, "deep.json")
