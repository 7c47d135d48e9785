"""Timelines at a level of detail (windows of steps, segments), counter tracks, the Perfetto protobuf writer, a 16-IPU size test."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mimdsim.arch.spec import MachineSpec
from mimdsim.engines import RunResult, iteration_steps, simulate
from mimdsim.engines.result import COUNTER_NAMES, TIMELINE_PHASES
from mimdsim.errors import ConfigError
from mimdsim.program.ir import Program, Superstep
from mimdsim.report.timeline_file import chrome_trace_bytes, is_perfetto_name, perfetto_trace_bytes, write_timeline
from tests.engines.strategies import machine_and_program, machines, shared_list_exchanges
from tests.trace.test_timeline import _SUPPRESS, _executed_records, _machine, _program, _rows

BUSY, BYTES, MEMORY = (COUNTER_NAMES.index(c) for c in ("busy_fraction", "bytes_received", "memory_bytes"))


def _windows(n: int) -> st.SearchStrategy[list[tuple[int, int]]]:
    pair = st.tuples(st.integers(0, max(n - 1, 0)), st.integers(1, max(n, 1))).map(lambda p: (min(p), max(p[1], min(p) + 1)))
    return st.lists(pair, min_size=1, max_size=3)


# ---- windows and segments ---------------------------------------------------------------
@settings(max_examples=80, deadline=None, suppress_health_check=_SUPPRESS)
@given(machine_and_program(), st.data())
def test_window_keeps_its_steps_and_sums_up_the_rest(mp: tuple[MachineSpec, Program], data: st.DataObject) -> None:
    machine, program = mp
    n = program.n_executed_steps()
    if n == 0:
        return
    ranges = data.draw(_windows(n))
    inside = np.zeros(n, bool)
    for a, b in ranges:
        inside[a:b] = True
    full = simulate(program, machine, "des", timeline="tiles")
    by_engine = {e: simulate(program, machine, e, timeline="tiles", timeline_steps=ranges) for e in ("des", "fast")}
    want = [row for row in _rows(full) if inside[row[0]]]
    for r in by_engine.values():
        assert _rows(r) == want
    des, fast = (by_engine[e].timeline.segments for e in ("des", "fast"))  # type: ignore[union-attr]
    assert des is not None and fast is not None
    for col in ("first_step", "stop_step", "ipu", "start_cycles", "end_cycles", "phase_cycles"):
        np.testing.assert_array_equal(getattr(des, col), getattr(fast, col), err_msg=col)
    assert des.name == fast.name
    # a segment is a run of outside steps in one top-level item; its phases fill its span on the IPU
    np.testing.assert_array_equal(des.phase_cycles.sum(axis=1), des.end_cycles - des.start_cycles)
    starts = program.top_level_starts()
    covered = np.zeros(n, bool)
    for a, b in zip(des.first_step.tolist(), des.stop_step.tolist(), strict=True):
        assert not inside[a:b].any() and np.searchsorted(starts, a, "right") == np.searchsorted(starts, b - 1, "right")
        covered[a:b] = True
    ipu_steps = {row[0] for row in _rows(full) if row[3] < 0}  # steps with some interval
    assert all(covered[k] for k in ipu_steps if not inside[k])
    # each (segment, IPU) sums the IPU rows of its steps
    sums: dict[tuple[int, int], np.ndarray] = defaultdict(lambda: np.zeros(len(TIMELINE_PHASES), np.int64))
    for k, _, i, t, p, s, e in _rows(full):
        if t < 0 and not inside[k]:
            seg = int(np.searchsorted(des.first_step, k, "right")) - 1
            sums[(seg, i)][p] += e - s
    got = {(int(np.searchsorted(des.first_step, a, "right")) - 1, i): row.tolist()
           for a, i, row in zip(des.first_step.tolist(), des.ipu.tolist(), des.phase_cycles, strict=True)}  # fmt: skip
    assert got == {key: v.tolist() for key, v in sums.items()}


def test_iteration_steps_and_window_errors() -> None:
    p = _program()  # a, Repeat(2, (b,)), c, h
    assert iteration_steps(p, 1, 2) == [(2, 3)]
    for first, stop in ((1, 5), (2, 3)):  # past the longest loop: refused, not an empty or clipped window
        with pytest.raises(ConfigError, match="loops run at most 2 iterations"):
            iteration_steps(p, first, stop)
    m = _machine()
    with pytest.raises(ConfigError, match=r"range 3:9 is not within the program's 5 executed steps"):
        simulate(p, m, "fast", timeline=True, timeline_steps=[(3, 9)])
    with pytest.raises(ConfigError, match="pairs of integers"):
        simulate(p, m, "fast", timeline=True, timeline_steps=[(1.5, 2)])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="only with timeline=True"):
        simulate(p, m, "des", timeline_steps=[(0, 1)])
    with pytest.raises(ConfigError, match="first < stop"):
        iteration_steps(p, 2, 2)


# ---- counters -----------------------------------------------------------------------------
def _counter_track(r: RunResult, counter: int, ipu: int, tile: int = -1) -> tuple[np.ndarray, np.ndarray]:
    c = r.timeline.counters  # type: ignore[union-attr]
    assert c is not None
    sel = (c.counter == counter) & (c.ipu == ipu) & (c.tile == tile)
    return c.ts_cycles[sel], c.value[sel]


@settings(max_examples=80, deadline=None, suppress_health_check=_SUPPRESS)
@given(machine_and_program())
def test_counters_add_up_to_the_run(mp: tuple[MachineSpec, Program]) -> None:
    machine, program = mp
    r = simulate(program, machine, "fast", timeline="tiles")
    c = r.timeline.counters  # type: ignore[union-attr]
    assert c is not None
    assert np.all(c.value >= 0) and np.all(c.value[c.counter == BUSY] <= 1 + 1e-12)
    order = np.lexsort((c.ts_cycles, c.counter, c.tile, c.ipu))
    np.testing.assert_array_equal(order, np.arange(len(c)))
    # bytes: every executed step's exchange, received by each tile
    static = program.iter_static()
    want = np.zeros(machine.n_tiles, np.int64)
    for s in _executed_records(program):
        step = static[s]
        if isinstance(step, Superstep) and step.exchange is not None:
            want += step.exchange.received_bytes(machine.n_tiles)
    tpi = machine.tiles_per_ipu
    for i in range(machine.n_ipus):
        ts, busy = _counter_track(r, BUSY, i)
        span = np.diff(np.append(ts, r.timeline.end_cycles[r.timeline.ipu == i].max(initial=0)))  # type: ignore[union-attr]
        if ts.size and span.sum() == r.total_cycles - ts[0]:  # steps laid end to end up to the IPU's last end
            tiles = slice(i * tpi, (i + 1) * tpi)
            assert (busy * tpi * span).sum() == pytest.approx(r.tile_compute_cycles[tiles].sum(), rel=1e-9, abs=1e-6)
        assert _counter_track(r, BYTES, i)[1].sum() == want[i * tpi : (i + 1) * tpi].sum()
        for t in range(i * tpi, (i + 1) * tpi):
            assert _counter_track(r, BYTES, i, t)[1].sum() == want[t]
            assert _counter_track(r, MEMORY, i, t)[1].tolist() == [r.tile_memory_bytes[t]]
        assert _counter_track(r, MEMORY, i)[1].tolist() == [r.tile_memory_bytes[i * tpi : (i + 1) * tpi].sum()]


@given(machines(), st.data())
@settings(max_examples=60, deadline=None)
def test_received_bytes_match_the_expanded_form(machine: MachineSpec, data: st.DataObject) -> None:
    ex = data.draw(shared_list_exchanges(machine, "external"))
    want = np.zeros(machine.n_tiles, np.int64)
    for i in range(ex.n_transfers):
        want[ex.destinations(i)] += ex.nbytes[i]
    np.testing.assert_array_equal(ex.received_bytes(machine.n_tiles), want)
    np.testing.assert_array_equal(ex.expanded().received_bytes(machine.n_tiles), want)


def test_hand_computed_counters() -> None:
    r = simulate(_program(), _machine(), "fast", timeline=True, timeline_tiles=[0])
    # step a on IPU 0: tiles 0 and 1 compute 100 + 40 of 4 x (115 - 0) tile-cycles; tile 0 100 of 115
    assert _counter_track(r, BUSY, 0)[1][0] == pytest.approx(140 / (4 * 115))
    assert _counter_track(r, BUSY, 0, 0)[1][0] == pytest.approx(100 / 115)
    # step b (twice): 400 B into tile 2 of IPU 0
    assert _counter_track(r, BYTES, 0)[1].tolist() == [0, 400, 400, 0, 0]
    assert _counter_track(r, BYTES, 1)[1].tolist() == [0, 0, 0, 720, 0]  # step c: 640 B into tile 5, 80 B into tile 7


# ---- Perfetto protobuf -------------------------------------------------------------------
def _decode(data: bytes) -> object:
    pb = pytest.importorskip("perfetto.protos.perfetto.trace.perfetto_trace_pb2")
    trace = pb.Trace()
    trace.ParseFromString(data)
    return trace


def _check_perfetto(data: bytes, r: RunResult) -> dict[str, int]:
    """Every event on a declared track, names interned, time in order, slices balanced per track."""
    trace = _decode(data)
    tracks: dict[int, str] = {}
    names: dict[int, str] = {}
    open_: dict[int, int] = defaultdict(int)
    kinds: dict[str, int] = defaultdict(int)
    last_ts = 0
    for pkt in trace.packet:  # type: ignore[attr-defined]
        assert pkt.trusted_packet_sequence_id == 1
        if pkt.HasField("interned_data"):
            names |= {e.iid: e.name for e in pkt.interned_data.event_names}
        if pkt.HasField("track_descriptor"):
            d = pkt.track_descriptor
            assert d.uuid not in tracks and (not d.parent_uuid or d.parent_uuid in tracks)
            tracks[d.uuid] = d.process.process_name if d.HasField("process") else d.name
        if pkt.HasField("track_event"):
            ev = pkt.track_event
            assert ev.track_uuid in tracks and pkt.timestamp >= last_ts
            last_ts = pkt.timestamp
            kind = {1: "begin", 2: "end", 4: "counter"}[ev.type]
            kinds[kind] += 1
            if kind == "begin":
                assert ev.name_iid in names and open_[ev.track_uuid] == 0
                open_[ev.track_uuid] += 1
            elif kind == "end":
                assert open_[ev.track_uuid] == 1
                open_[ev.track_uuid] -= 1
    assert not any(open_.values())
    return dict(kinds)


def test_perfetto_trace_of_a_windowed_run(tmp_path: Path) -> None:
    r = simulate(_program(), _machine(), "fast", timeline=True, timeline_tiles=[1, 5], timeline_steps=[(1, 3)])
    tl = r.timeline
    assert tl is not None and tl.segments is not None and tl.counters is not None
    kinds = _check_perfetto(perfetto_trace_bytes(r), r)
    n_step_slices = len({(k, i) for k, i in zip(tl.step.tolist(), tl.ipu.tolist(), strict=True)})
    assert kinds["begin"] == kinds["end"] == len(tl) + n_step_slices + len(tl.segments)
    assert kinds["counter"] == len(tl.counters)
    # the file: by extension; a full des timeline has no counters
    write_timeline(r, tmp_path / "t.pftrace")
    assert (tmp_path / "t.pftrace").read_bytes() == perfetto_trace_bytes(r)
    write_timeline(r, tmp_path / "t.json")
    assert (tmp_path / "t.json").read_bytes() == chrome_trace_bytes(r)[0]
    assert is_perfetto_name("x.perfetto-trace.gz") and not is_perfetto_name("x.json.gz")
    des = simulate(_program(), _machine(), "des", timeline="tiles")
    assert "counter" not in _check_perfetto(perfetto_trace_bytes(des), des)


@settings(max_examples=30, deadline=None, suppress_health_check=_SUPPRESS)
@given(machine_and_program(max_tiles_per_ipu=8))
def test_perfetto_trace_of_random_runs(mp: tuple[MachineSpec, Program]) -> None:
    machine, program = mp
    r = simulate(program, machine, "fast", timeline="tiles")
    kinds = _check_perfetto(perfetto_trace_bytes(r, clock_hz=1.85e9), r)
    assert kinds.get("begin", 0) >= len(r.timeline)  # type: ignore[arg-type]


# ---- a 16-IPU paper step ------------------------------------------------------------------
def test_16_ipu_paper_step_timeline_stays_under_200_mb() -> None:
    from mimdsim.snn.model.spec import load_snn_model
    from mimdsim.studies.estimate import estimate_training_step, run_settings

    root = Path(__file__).resolve().parents[2]
    spec, hints = load_snn_model(root / "models" / "snn" / "nmnist_c_16ipu.toml")
    machine, run = run_settings(hints)
    est = estimate_training_step(spec, machine, timeline=True, **run)
    tl = est.result.timeline
    assert machine.n_ipus == 16 and tl is not None and tl.step.max() + 1 == est.result.n_steps_executed
    json_bytes, n = chrome_trace_bytes(est.result)
    proto = perfetto_trace_bytes(est.result)
    assert n > len(tl) and len(json_bytes) < 200e6 and len(proto) < len(json_bytes) / 2
    _check_perfetto(proto, est.result)
