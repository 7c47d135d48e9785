"""Timeline export: exact intervals from both engines, invariants, Chrome trace files, CLI flags."""

from __future__ import annotations

import gzip
import itertools
import json
import pickle
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from mimdsim.arch.spec import MachineSpec
from mimdsim.cli import main
from mimdsim.cost.sync import sync_cycles
from mimdsim.engines import TIMELINE_PHASES, RunResult, simulate
from mimdsim.errors import ConfigError, OutputPathError, SimulationLimitError
from mimdsim.program.ir import ComputeSet, Exchange, HostCopy, Program, Repeat, Step, Superstep, VertexBlock
from mimdsim.program.serialize import save_program
from mimdsim.report.timeline_file import chrome_trace_bytes, write_chrome_trace
from tests.engines.strategies import machine_and_program
from tests.engines.test_equivalence import assert_same_result

WAIT, SYNC, GLOBAL, EXCHANGE, COMPUTE, HOST = range(6)
_SUPPRESS = [HealthCheck.too_slow, HealthCheck.data_too_large]


# ---- a hand-computed two-IPU run ----------------------------------------------------
def _machine(**kw: Any) -> MachineSpec:
    """2 IPUs x 4 tiles, one worker context (C_t = the vertex's cycles), S_int 15, S_ext 115,
    2 B/cycle links with 10 cycles latency, 8 B/cycle host link plus 20 cycles."""
    spec: dict[str, Any] = dict(
        name="tl",
        n_ipus=2,
        tiles_per_ipu=4,
        num_worker_contexts=1,
        memory_bytes_per_tile=1 << 20,
        tile_clock_hz=1e9,
        exchange_bytes_per_cycle=4,
        min_ipu_sync_delay=5,
        max_ipu_sync_delay=10,
        global_sync_cycles=100,
        global_sync_hop_cycles=0,
        link_topology="all_to_all",
        links_per_ipu_pair=1,
        link_bytes_per_s=2e9,
        link_latency_cycles=10,
        host_bytes_per_s=8e9,
        host_overhead_cycles=20,
    )
    spec.update(kw)
    return MachineSpec(**spec)


def _cs(name: str, cycles: dict[int, int]) -> ComputeSet:
    return ComputeSet(name, tuple(VertexBlock("V", [t], [c]) for t, c in cycles.items()))


def _program() -> Program:
    a = Superstep("a", "internal", None, _cs("a", {0: 100, 1: 40, 4: 300}))
    # tile 0 -> tile 2 (another supertile): 400 B at 4 B/cycle = 100 cycles on IPU 0 only
    b = Superstep("b", "internal", Exchange.from_transfers("b", [(0, [2], 400)]), _cs("b", {1: 50}))
    # 640 B over the IPU link: max(ceil(640 / 2), port 160) + 1 hop x 10 = 330 global cycles;
    # 6 -> 7 (a supertile pair, one receiver): max(80 / 4, 160 / 8) = 20 on-chip cycles on IPU 1
    c = Superstep("c", "external", Exchange.from_transfers("c", [(1, [5], 640), (6, [7], 80)]), _cs("c", {5: 20, 3: 7}))
    # 20 + max(ceil(160 / 8), ceil(160 / 4)) = 60 host cycles
    h = HostCopy("h", np.array([0, 4]), np.array([80, 160]))
    return Program("two-ipu", (a, Repeat(2, (b,)), c, h))


# (step, record, ipu, tile, phase, start, end), in the timeline's order
EXPECTED_IPU_ROWS = [
    (0, 0, 0, -1, SYNC, 0, 15),
    (0, 0, 0, -1, COMPUTE, 15, 115),
    (0, 0, 1, -1, SYNC, 0, 15),
    (0, 0, 1, -1, COMPUTE, 15, 315),
    (1, 1, 0, -1, SYNC, 115, 130),
    (1, 1, 0, -1, EXCHANGE, 130, 230),
    (1, 1, 0, -1, COMPUTE, 230, 280),
    (1, 1, 1, -1, SYNC, 315, 330),  # IPU 1 has neither traffic nor vertices in b
    (2, 1, 0, -1, SYNC, 280, 295),
    (2, 1, 0, -1, EXCHANGE, 295, 395),
    (2, 1, 0, -1, COMPUTE, 395, 445),
    (2, 1, 1, -1, SYNC, 330, 345),
    # external: IPU 0 arrives last (445), IPU 1 waits from its own 345
    (3, 2, 0, -1, SYNC, 445, 560),
    (3, 2, 0, -1, GLOBAL, 560, 890),
    (3, 2, 0, -1, COMPUTE, 890, 897),
    (3, 2, 1, -1, WAIT, 345, 445),
    (3, 2, 1, -1, SYNC, 445, 560),
    (3, 2, 1, -1, GLOBAL, 560, 890),
    (3, 2, 1, -1, EXCHANGE, 890, 910),
    (3, 2, 1, -1, COMPUTE, 910, 930),
    # host copy: IPU 1 arrives last (930)
    (4, 3, 0, -1, WAIT, 897, 930),
    (4, 3, 0, -1, SYNC, 930, 1045),
    (4, 3, 0, -1, HOST, 1045, 1105),
    (4, 3, 1, -1, SYNC, 930, 1045),
    (4, 3, 1, -1, HOST, 1045, 1105),
]
EXPECTED_TILE_ROWS = [
    (0, 0, 0, 1, COMPUTE, 15, 55),
    (1, 1, 0, 1, COMPUTE, 230, 280),
    (2, 1, 0, 1, COMPUTE, 395, 445),
    (3, 2, 1, 5, COMPUTE, 910, 930),
]


def _rows(r: RunResult) -> list[tuple[int, ...]]:
    tl = r.timeline
    assert tl is not None
    cols = (tl.step, tl.record, tl.ipu, tl.tile, tl.phase, tl.start_cycles, tl.end_cycles)
    return [tuple(int(x) for x in row) for row in zip(*cols, strict=True)]


def _sort_key(row: tuple[int, ...]) -> tuple[int, ...]:
    return (row[0], row[2], row[3], row[4])


ENGINES = pytest.mark.parametrize("engine", ["des", "fast"])


@ENGINES
def test_hand_computed_two_ipu_intervals(engine: str) -> None:
    r = simulate(_program(), _machine(), engine, timeline=True)
    assert r.total_cycles == 1105
    assert _rows(r) == EXPECTED_IPU_ROWS
    tl = r.timeline
    assert tl is not None and tl.names == ("a", "b", "c", "h") and tl.tiles == ()
    assert [tl.names[k] for k in tl.record[tl.phase == WAIT]] == ["c", "h"]
    assert tl.step.dtype == tl.start_cycles.dtype == tl.end_cycles.dtype == np.int64 and tl.phase.dtype == np.int8


@ENGINES
def test_hand_computed_tile_tracks(engine: str) -> None:
    r = simulate(_program(), _machine(), engine, timeline=True, timeline_tiles=[5, 1, 1])
    assert _rows(r) == sorted(EXPECTED_IPU_ROWS + EXPECTED_TILE_ROWS, key=_sort_key)
    assert r.timeline is not None and r.timeline.tiles == (1, 5)
    every = simulate(_program(), _machine(), engine, timeline="tiles")
    assert every.timeline is not None and every.timeline.tiles == tuple(range(8))
    assert {row for row in _rows(every) if row[3] in (1, 5)} == set(EXPECTED_TILE_ROWS)


# ---- invariants on random programs ------------------------------------------------
def _executed_records(program: Program) -> list[int]:
    """Static step index of every executed step, in order (repeats expanded)."""
    index = {id(s): k for k, s in enumerate(program.iter_static())}

    def walk(steps: tuple[Step, ...]) -> list[int]:
        out: list[int] = []
        for s in steps:
            out += walk(s.body) * s.count if isinstance(s, Repeat) else [index[id(s)]]
        return out

    return walk(program.body)


def check_timeline(r: RunResult, program: Program, machine: MachineSpec) -> None:
    """Replay the BSP semantics from the timeline alone; every per-tile figure must come out exact.

    Needs every tile's track (``timeline="tiles"``). Checks on the way: per-IPU phases
    of a step in order and contiguous, each step starting at the IPU's ready max, the
    wait of an external barrier from the IPU's ready max to the machine-wide max, the
    IPU's compute interval ending at its slowest tile's end, and every track's
    intervals disjoint and within [0, total].
    """
    tl = r.timeline
    assert tl is not None and tl.tiles == tuple(range(machine.n_tiles))
    tpi, n = machine.tiles_per_ipu, machine.n_tiles
    static = program.iter_static()
    records = _executed_records(program)
    assert r.n_steps_executed == len(records)
    assert tl.names == tuple(s.name for s in static)
    assert (tl.end_cycles > tl.start_cycles).all() and (tl.start_cycles >= 0).all()
    assert (tl.end_cycles <= r.total_cycles).all()
    # every track: disjoint intervals
    by_track: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    for k, rec, i, t, p, s, e in _rows(r):
        assert rec == records[k] and i == (i if t < 0 else t // tpi) and 0 <= p < len(TIMELINE_PHASES)
        by_track[(i, t)].append((s, e))
    for track, spans in by_track.items():
        spans.sort()
        for (_, e0), (s1, _) in itertools.pairwise(spans):
            assert e0 <= s1, f"track {track}: overlapping intervals"

    rows: dict[tuple[int, int], list[tuple[int, ...]]] = defaultdict(list)
    for row in _rows(r):
        rows[(row[0], row[2])].append(row)
    ready = np.zeros(n, np.int64)
    acc = {c: np.zeros(n, np.int64) for c in ("compute", "exchange", "global_exchange", "host_exchange", "sync")}
    for k, rec in enumerate(records):
        step = static[rec]
        external = isinstance(step, HostCopy) or step.sync == "external"
        s_cycles = sync_cycles(machine, "external" if external else "internal")
        machine_max = int(ready.max())
        for i in range(machine.n_ipus):
            lo, hi = i * tpi, (i + 1) * tpi
            mine = rows.get((k, i), [])
            ipu_rows = [x for x in mine if x[3] < 0]
            tile_rows = [x for x in mine if x[3] >= 0]
            phases = [x[4] for x in ipu_rows]
            assert phases == sorted(set(phases)), f"step {k} IPU {i}: phases {phases} out of order"
            for a, b in itertools.pairwise(ipu_rows):
                assert a[6] == b[5], f"step {k} IPU {i}: gap or overlap between phases"
            own_max = int(ready[lo:hi].max())
            if ipu_rows:
                assert ipu_rows[0][5] == own_max, f"step {k} IPU {i} starts at {ipu_rows[0][5]}, not at its ready max {own_max}"
            dur = {x[4]: x[6] - x[5] for x in ipu_rows}
            barrier = machine_max if external else own_max
            assert dur.get(WAIT, 0) == barrier - own_max
            assert dur.get(SYNC, 0) == s_cycles
            g, e, h = dur.get(GLOBAL, 0), dur.get(EXCHANGE, 0), dur.get(HOST, 0)
            assert not (h and (g or e or COMPUTE in dur))
            acc["sync"][lo:hi] += barrier + s_cycles - ready[lo:hi]
            acc["global_exchange"][lo:hi] += g
            acc["exchange"][lo:hi] += e
            acc["host_exchange"][lo:hi] += h
            compute_start = barrier + s_cycles + g + e + h
            ready[lo:hi] = compute_start
            for _, _, _, t, p, s, end in tile_rows:
                assert p == COMPUTE and s == compute_start
                ready[t] = end
                acc["compute"][t] += end - s
            if tile_rows:
                assert ipu_rows[-1][4] == COMPUTE and ipu_rows[-1][6] == int(ready[lo:hi].max())
            else:
                assert COMPUTE not in dur
            if ipu_rows:  # the IPU's last interval ends at its new ready max
                assert ipu_rows[-1][6] == int(ready[lo:hi].max())
    total = int(ready.max()) if n else 0
    assert total == r.total_cycles
    acc["sync"] += total - ready
    for c, values in acc.items():
        np.testing.assert_array_equal(values, getattr(r, f"tile_{c}_cycles"), err_msg=c)


@settings(max_examples=120, deadline=None, suppress_health_check=_SUPPRESS)
@given(machine_and_program())
def test_timeline_replays_the_run_exactly(mp: tuple[MachineSpec, Program]) -> None:
    machine, program = mp
    plain = simulate(program, machine, "des")
    r = simulate(program, machine, "des", timeline="tiles")
    assert plain.timeline is None
    assert_same_result(r, plain)
    assert r.metadata == plain.metadata
    check_timeline(r, program, machine)
    ipus_only = simulate(program, machine, "des", timeline=True)
    assert ipus_only.timeline is not None and (ipus_only.timeline.tile == -1).all()
    assert _rows(ipus_only) == [row for row in _rows(r) if row[3] < 0]
    # the fast engine lays out the same intervals from its step log, and its figures do not change
    fast = simulate(program, machine, "fast", timeline="tiles")
    assert_same_result(fast, simulate(program, machine, "fast"))
    assert _rows(fast) == _rows(r)
    assert fast.timeline is not None and fast.timeline.names == r.timeline.names and fast.timeline.tiles == r.timeline.tiles


@settings(max_examples=40, deadline=None, suppress_health_check=_SUPPRESS)
@given(machine_and_program(max_tiles_per_ipu=8))
def test_chrome_trace_slices_do_not_overlap_after_rounding(mp: tuple[MachineSpec, Program]) -> None:
    machine, program = mp
    r = simulate(program, machine, "des", timeline="tiles")
    data, n = chrome_trace_bytes(r, clock_hz=1.85e9)  # 1 cycle = 0.54 ns: rounding to whole ns
    events = _check_chrome_trace(json.loads(data))
    assert len(events) == n
    spans: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    for ev in events:
        ns0, dur = round(ev["ts"] * 1000), round(ev["dur"] * 1000)
        assert abs(ns0 - ev["args"]["start_cycles"] / 1.85) <= 0.5 + 1e-6
        spans[(ev["pid"], ev["tid"])].append((ns0, ns0 + dur))
    for spans_ in spans.values():
        spans_.sort()
        assert all(e0 <= s1 for (_, e0), (s1, _) in itertools.pairwise(spans_))


# ---- options and limits -------------------------------------------------------------
def test_options_are_checked() -> None:
    p, m = _program(), _machine()
    with pytest.raises(ConfigError, match="timeline_tiles"):
        simulate(p, m, "des", timeline_tiles=[1])
    with pytest.raises(ConfigError, match="tile 8"):
        simulate(p, m, "des", timeline=True, timeline_tiles=[8])
    with pytest.raises(ConfigError, match="timeline"):
        simulate(p, m, "des", timeline="ipus")
    assert simulate(p, m, "fast").timeline is None


def test_max_timeline_events() -> None:
    p, m = _program(), _machine()
    assert len(simulate(p, m, "des", timeline=True, max_timeline_events=25).timeline or ()) == 25
    with pytest.raises(SimulationLimitError, match="max_timeline_events=24"):
        simulate(p, m, "des", timeline=True, max_timeline_events=24)
    with pytest.raises(SimulationLimitError, match="max_timeline_events"):
        simulate(p, m, "des", timeline="tiles", max_timeline_events=25)
    # the fast engine counts its counter samples too: 25 intervals and 2 x 5 steps x 2 IPUs samples
    assert len(simulate(p, m, "fast", timeline=True, max_timeline_events=45).timeline or ()) == 25
    with pytest.raises(SimulationLimitError, match="max_timeline_events=44"):
        simulate(p, m, "fast", timeline=True, max_timeline_events=44)


def test_result_with_timeline_pickles() -> None:
    r = simulate(_program(), _machine(), "des", timeline=True, timeline_tiles=[1])
    back = pickle.loads(pickle.dumps(r))
    assert _rows(back) == _rows(r) and back.timeline is not None and back.timeline.tiles == (1,)
    assert back.to_dict() == r.to_dict()


# ---- Chrome trace files ---------------------------------------------------------------
def _check_chrome_trace(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """A valid Chrome Trace Event document; returns its X events."""
    assert isinstance(doc["traceEvents"], list)
    xs = []
    for ev in doc["traceEvents"]:
        assert {"ph", "pid", "name"} <= ev.keys()
        if ev["ph"] == "M":
            assert ev["name"] in {"process_name", "process_sort_index", "thread_name", "thread_sort_index"}
            continue
        if ev["ph"] == "C":  # a counter sample
            assert isinstance(ev["args"]["value"], int | float) and ev["ts"] >= 0 and isinstance(ev["pid"], int)
            continue
        assert ev["ph"] == "X"
        assert {"ts", "dur", "tid", "cat", "args"} <= ev.keys()
        assert isinstance(ev["pid"], int) and isinstance(ev["tid"], int) and isinstance(ev["name"], str)
        assert ev["ts"] >= 0 and ev["dur"] >= 0
        xs.append(ev)
    return xs


def test_chrome_trace_file(tmp_path: Path) -> None:
    r = simulate(_program(), _machine(), "des", timeline=True, timeline_tiles=[1, 5])
    n = write_chrome_trace(r, tmp_path / "t.json")
    doc = json.loads((tmp_path / "t.json").read_text())
    xs = _check_chrome_trace(doc)
    steps = [e for e in xs if e["cat"] == "step"]
    assert n == len(xs) == len(EXPECTED_IPU_ROWS) + len(EXPECTED_TILE_ROWS) + len(steps)
    assert len(steps) == 10  # (step, IPU) pairs
    # 1 GHz: 1 cycle = 1 ns = 0.001 us; names, tracks and args from the hand-computed rows
    phase_tid = {p: 2 + k for k, p in enumerate(TIMELINE_PHASES)}
    got = {
        (e["args"]["step"], e["pid"], e["tid"], e["name"], e["args"]["start_cycles"], e["args"]["cycles"])
        for e in xs
        if e["cat"] != "step"
    }
    want = {(k, i + 1, phase_tid[TIMELINE_PHASES[p]], "abch"[rec], s, e - s) for k, rec, i, _, p, s, e in EXPECTED_IPU_ROWS}
    want |= {(k, i + 1, 100 + t, "abch"[rec], s, e - s) for k, rec, i, t, _, s, e in EXPECTED_TILE_ROWS}
    assert got == want
    for e in xs:
        assert e["ts"] == pytest.approx(e["args"]["start_cycles"] / 1000, abs=1e-9)
        assert e["dur"] == pytest.approx(e["args"]["cycles"] / 1000, abs=1e-9)
        assert e["args"]["bound"] == r.supersteps["abch".index(e["name"])].bound
    wait = next(e for e in xs if e["cat"] == "wait" and e["name"] == "c")
    assert (wait["pid"], wait["ts"], wait["dur"]) == (2, 0.345, 0.1)
    assert {e["args"]["tile"] for e in xs if e["tid"] >= 100} == {1, 5}
    assert (steps[-1]["name"], steps[-1]["ts"], steps[-1]["dur"]) == ("h", 0.93, 0.175)
    meta = {(e["pid"], e.get("tid"), e["args"].get("name")) for e in doc["traceEvents"] if e["name"].endswith("_name")}
    assert {(1, None, "IPU 0"), (2, None, "IPU 1"), (1, 1, "steps"), (2, 4, "global exchange"), (2, 105, "tile 5")} <= meta
    assert doc["otherData"]["total_cycles"] == 1105 and doc["otherData"]["program"] == "two-ipu"
    # clock_hz rescales time only
    slow = json.loads(chrome_trace_bytes(r, clock_hz=1e6)[0])
    assert max(e["ts"] + e["dur"] for e in _check_chrome_trace(slow)) == pytest.approx(1105.0)


def test_chrome_trace_gzip_and_errors(tmp_path: Path) -> None:
    r = simulate(_program(), _machine(), "des", timeline=True)
    write_chrome_trace(r, tmp_path / "t.json")
    n = write_chrome_trace(r, tmp_path / "t.json.gz")
    with gzip.open(tmp_path / "t.json.gz", "rt") as fh:
        assert json.load(fh) == json.loads((tmp_path / "t.json").read_text())
    assert n == 35
    with pytest.raises(ConfigError, match="timeline=True"):
        write_chrome_trace(simulate(_program(), _machine(), "des"), tmp_path / "x.json")
    with pytest.raises(OutputPathError, match="does not exist"):
        write_chrome_trace(r, tmp_path / "missing" / "x.json")
    with pytest.raises(ConfigError, match="clock_hz"):
        write_chrome_trace(r, tmp_path / "x.json", clock_hz=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json", "t.json.gz"]


def test_empty_program_gives_an_empty_valid_trace(tmp_path: Path) -> None:
    r = simulate(Program("empty", ()), _machine(), "des", timeline=True)
    assert r.timeline is not None and len(r.timeline) == 0
    assert write_chrome_trace(r, tmp_path / "e.json") == 0
    assert _check_chrome_trace(json.loads((tmp_path / "e.json").read_text())) == []


# ---- command line -------------------------------------------------------------------------
TINY_SNN = ["--layers", "64,24,24,4", "--batch", "6", "--timesteps", "3", "--set", "tiles_per_ipu=32", "--input-sparse-size", "8"]


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def _one_line_error(rc: int, out: str, err: str) -> None:
    assert rc == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mimdsim: error: "), err


def test_cli_run_timeline(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    save_program(_program(), tmp_path / "p.json")
    machine = ["--machine", "mk2", "--set", "n_ipus=2", "--set", "tiles_per_ipu=4"]
    rc, out, err = _cli(capsys, "run", str(tmp_path / "p.json"), *machine, "--timeline", str(tmp_path / "t.json.gz"), "--json")
    assert rc == 0 and err.startswith(f"wrote {tmp_path / 't.json.gz'} (") and err.endswith(" slices)\n")  # path, size, slices
    assert json.loads(out)["engine"] == "fast"
    with gzip.open(tmp_path / "t.json.gz", "rt") as fh:
        assert _check_chrome_trace(json.load(fh))
    for bad in (tmp_path / "missing" / "t.json", tmp_path):
        _one_line_error(*_cli(capsys, "run", str(tmp_path / "p.json"), *machine, "--timeline", str(bad)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.json", "t.json.gz"]  # no temporary left over


def test_cli_snn_timeline(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rc, out, err = _cli(capsys, "snn", *TINY_SNN, "--engine", "des", "--timeline", str(tmp_path / "s.json"), "--json")
    assert rc == 0 and err.startswith(f"wrote {tmp_path / 's.json'}") and json.loads(out)["engine"] == "des"
    xs = _check_chrome_trace(json.loads((tmp_path / "s.json").read_text()))
    assert any(e["name"].startswith("fwd.") for e in xs)
    rc, out, err = _cli(capsys, "snn", *TINY_SNN, "--timeline", str(tmp_path / "f.json"), "--json")
    assert rc == 0 and err.startswith(f"wrote {tmp_path / 'f.json'}") and json.loads(out)["engine"] == "fast"
    assert _check_chrome_trace(json.loads((tmp_path / "f.json").read_text())) == xs  # the same slices, counters besides
    _one_line_error(*_cli(capsys, "snn", *TINY_SNN, "--timeline", str(tmp_path / "no" / "s.json")))
    _one_line_error(*_cli(capsys, "snn", *TINY_SNN, "--timeline-tiles", "3"))
    rc, out, err = _cli(capsys, "snn", *TINY_SNN, "--timeline", str(tmp_path / "m.json"), "--max-timeline-events", "10")
    _one_line_error(rc, out, err)
    assert "max_timeline_events=10" in err
    rc, out, err = _cli(capsys, "snn", *TINY_SNN, "--timeline", str(tmp_path / "w.json"), "--timeline-steps", "5:2")
    assert (
        rc == 2 and out == "" and err.strip().splitlines()[-1].endswith("expected FIRST:STOP with 0 <= FIRST < STOP (got '5:2')")
    )
    _one_line_error(*_cli(capsys, "snn", *TINY_SNN, "--timeline", str(tmp_path / "w.json"), "--timeline-steps", "0:999999"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json", "s.json"]


def test_module_doctest() -> None:
    import doctest

    import mimdsim.report.chrome_trace as module

    res = doctest.testmod(module)
    assert res.attempted > 0 and res.failed == 0


def test_estimate_training_step_timeline() -> None:
    from mimdsim.arch import load_machine
    from mimdsim.engines.timeline_detail import TimelineRequest
    from mimdsim.snn.model.spec import snn_from_sizes
    from mimdsim.studies.estimate import estimate_training_step

    spec = snn_from_sizes([64, 24, 24, 4], max_activity=0.25, input_sparse_size=8, batch_size=6, n_timesteps=3)
    machine = load_machine("bow", tiles_per_ipu=64)
    est = estimate_training_step(spec, machine, activity_source="saturated", engine="des", timeline=True)
    assert est.result.timeline is not None and len(est.result.timeline) > 0
    assert est.result.timeline.end_cycles.max() == est.cycles_per_step
    fast = estimate_training_step(spec, machine, activity_source="saturated", timeline=TimelineRequest(iterations=(1, 2)))
    tl = fast.result.timeline
    assert tl is not None and tl.segments is not None and tl.counters is not None
    # time step 1 of the forward loop and iteration 1 (time step T - 2 = 1) of the backward loop
    names = {tl.names[r] for r in tl.record.tolist()}
    assert any(n.startswith("fwd.") for n in names) and any(n.startswith("bwd.") for n in names)
    assert not any(n.startswith("update.") for n in names)  # outside the loops: in a segment
    assert any(n.startswith("update.") for n in tl.segments.name) or "update" in " ".join(tl.segments.name)
    assert estimate_training_step(spec, machine, activity_source="saturated").result.timeline is None
