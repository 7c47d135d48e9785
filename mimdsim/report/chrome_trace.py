"""Timeline export: a run's phase intervals as a Chrome Trace Event JSON file (docs/timeline_format.md).

Either engine records the intervals (``simulate(..., timeline=True)``,
:class:`mimdsim.engines.result.Timeline`); :func:`write_chrome_trace` writes them in the
Chrome Trace Event format that https://ui.perfetto.dev and ``chrome://tracing`` open:
``X`` (complete) events, one process per IPU, one thread per track. Only the standard
library is used (``json`` for escaping, ``gzip``); nothing touches the network.

Examples
--------
>>> import json, tempfile, os
>>> from mimdsim.arch import load_machine
>>> from mimdsim.engines import simulate
>>> from mimdsim.program.ir import ComputeSet, Program, Superstep, VertexBlock
>>> m = load_machine("mk2", tiles_per_ipu=4, max_ipu_sync_delay=10)
>>> cs = ComputeSet("mul", (VertexBlock("Dot", [0, 1], [77], [48]),))
>>> r = simulate(Program("p", (Superstep("s", compute=cs),)), m, "des", timeline=True)
>>> [(int(a), int(b)) for a, b in zip(r.timeline.start_cycles, r.timeline.end_cycles)]
[(0, 10), (10, 3794)]
>>> with tempfile.TemporaryDirectory() as d:
...     write_chrome_trace(r, os.path.join(d, "run.json"))
...     events = json.load(open(os.path.join(d, "run.json")))["traceEvents"]
3
>>> sorted({e["name"] for e in events if e["ph"] == "X"})
['s']
"""

from __future__ import annotations

import gzip
import io
import json
import os
from typing import IO

import numpy as np

from mimdsim.engines.result import COUNTER_NAMES, TIMELINE_PHASES, RunResult, Timeline
from mimdsim.errors import ConfigError
from mimdsim.files import check_output_path, is_gzip_name, write_bytes

__all__ = [
    "write_chrome_trace",
    "chrome_trace_bytes",
    "step_slice_rows",
    "TRACK_NAMES",
    "STEPS_TID",
    "PHASE_TID",
    "TILE_TID_BASE",
]

STEPS_TID = 1
"""Thread of each IPU's "steps" track: one slice per executed step, over all its phases."""
PHASE_TID = {phase: 2 + k for k, phase in enumerate(TIMELINE_PHASES)}
"""Thread of each phase track (wait 2, sync 3, global_exchange 4, exchange 5, compute 6, host_exchange 7)."""
TILE_TID_BASE = 100
"""Tile ``t``'s compute track is thread ``TILE_TID_BASE + t`` (global tile number) of its IPU."""
TRACK_NAMES = {
    STEPS_TID: "steps",
    PHASE_TID["wait"]: "sync wait",
    PHASE_TID["sync"]: "sync",
    PHASE_TID["global_exchange"]: "global exchange",
    PHASE_TID["exchange"]: "IPU exchange",
    PHASE_TID["compute"]: "compute",
    PHASE_TID["host_exchange"]: "host exchange",
}
_CHUNK_EVENTS = 1 << 16


def _timeline(result: RunResult) -> Timeline:
    tl = result.timeline
    if tl is None:
        raise ConfigError(f"run of {result.program!r} has no timeline: simulate it with timeline=True (CLI: --timeline PATH)")
    return tl


def step_slice_rows(tl: Timeline) -> tuple[np.ndarray, np.ndarray]:
    """The rows of each (step, IPU)'s first and last IPU-track interval: its "steps" slice spans
    the first's start to the last's end (rows are sorted by step, ipu, tile, phase, and a step's
    phases follow each other)."""
    rows = np.flatnonzero(tl.tile < 0)
    if not rows.size:
        return rows, rows
    key = tl.step[rows] * (int(tl.ipu.max()) + 1) + tl.ipu[rows]
    first = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    return rows[first], rows[np.append(first[1:], rows.size) - 1]


def _nanos(cycles: np.ndarray, clock_hz: float) -> list[int]:
    """Cycles as whole nanoseconds (rounded; monotone, so adjacent slices stay adjacent)."""
    return np.rint(np.asarray(cycles, np.float64) * (1e9 / clock_hz)).astype(np.int64).tolist()


def _metadata(pid: int, tid: int | None, name: str, sort_index: int) -> list[str]:
    kind = "process" if tid is None else "thread"
    where = f'"pid":{pid}' + ("" if tid is None else f',"tid":{tid}')
    return [
        f'{{"name":"{kind}_name","ph":"M",{where},"args":{{"name":{json.dumps(name)}}}}}',
        f'{{"name":"{kind}_sort_index","ph":"M",{where},"args":{{"sort_index":{sort_index}}}}}',
    ]


def _events(result: RunResult, clock_hz: float) -> tuple[list[str], list[list[str]]]:
    """Metadata events, then the ``X`` events in chunks (strings of compact JSON objects)."""
    tl = _timeline(result)
    names = [json.dumps(n) for n in tl.names]
    if len(result.supersteps) == len(tl.names):
        bounds = [json.dumps(r.bound) for r in result.supersteps]
    else:  # a timeline attached to another run's records: no bound to give
        bounds = ['"?"'] * len(tl.names)
    ipu_track = tl.tile < 0
    rows = np.flatnonzero(ipu_track)  # IPU phase tracks
    trows = np.flatnonzero(~ipu_track)  # tile tracks
    srows, lrows = step_slice_rows(tl)

    seg = tl.segments
    seg_ipus = set() if seg is None else set(seg.ipu.tolist())
    meta: list[str] = []
    for ipu in sorted(set(tl.ipu.tolist()) | seg_ipus):
        pid = ipu + 1
        meta += _metadata(pid, None, f"IPU {ipu}", ipu)
        mine = tl.ipu == ipu
        tids = {PHASE_TID[TIMELINE_PHASES[p]] for p in set(tl.phase[mine & ipu_track].tolist())}
        if tids or ipu in seg_ipus:
            tids.add(STEPS_TID)
        for tid in sorted(tids):
            meta += _metadata(pid, tid, TRACK_NAMES[tid], tid)
        for tile in sorted(set(tl.tile[mine & ~ipu_track].tolist())):
            meta += _metadata(pid, TILE_TID_BASE + tile, f"tile {tile}", TILE_TID_BASE + tile)

    phase_cat = [json.dumps(p) for p in TIMELINE_PHASES]
    phase_tid = np.array([PHASE_TID[p] for p in TIMELINE_PHASES], np.int64)
    tracks = (  # (rows giving step/record/ipu, tids, categories, starts, ends, with a "tile" arg)
        (srows, np.full(srows.size, STEPS_TID), ['"step"'] * srows.size, tl.start_cycles[srows], tl.end_cycles[lrows], False),
        (
            rows,
            phase_tid[tl.phase[rows]],
            [phase_cat[p] for p in tl.phase[rows].tolist()],
            tl.start_cycles[rows],
            tl.end_cycles[rows],
            False,
        ),
        (
            trows,
            TILE_TID_BASE + tl.tile[trows].astype(np.int64),
            [phase_cat[p] for p in tl.phase[trows].tolist()],
            tl.start_cycles[trows],
            tl.end_cycles[trows],
            True,
        ),
    )
    chunks: list[list[str]] = []
    for sel, tids_, cats, starts, ends, with_tile in tracks:
        for a in range(0, sel.size, _CHUNK_EVENTS):
            part = sel[a : a + _CHUNK_EVENTS]
            cut = slice(a, a + _CHUNK_EVENTS)
            tiles = [f',"tile":{t}' for t in tl.tile[part].tolist()] if with_tile else [""] * part.size
            chunks.append(
                [
                    f'{{"name":{names[r]},"cat":{c},"ph":"X","ts":{n0 // 1000}.{n0 % 1000:03d},'
                    f'"dur":{(n1 - n0) // 1000}.{(n1 - n0) % 1000:03d},"pid":{i + 1},"tid":{t},'
                    f'"args":{{"step":{k},"cycles":{e - s},"start_cycles":{s},"bound":{bounds[r]}{x}}}}}'
                    for k, r, i, t, c, s, e, n0, n1, x in zip(
                        tl.step[part].tolist(),
                        tl.record[part].tolist(),
                        tl.ipu[part].tolist(),
                        tids_[cut].tolist(),
                        cats[cut],
                        starts[cut].tolist(),
                        ends[cut].tolist(),
                        _nanos(starts[cut], clock_hz),
                        _nanos(ends[cut], clock_hz),
                        tiles,
                        strict=True,
                    )
                ]
            )
    if seg is not None and len(seg):
        chunks.append(
            [
                f'{{"name":{json.dumps(name)},"cat":"segment","ph":"X","ts":{n0 // 1000}.{n0 % 1000:03d},'
                f'"dur":{(n1 - n0) // 1000}.{(n1 - n0) % 1000:03d},"pid":{i + 1},"tid":{STEPS_TID},'
                f'"args":{{"steps":"{a}:{b}","cycles":{e - st},"start_cycles":{st},{cyc}}}}}'
                for name, a, b, i, st, e, n0, n1, cyc in zip(
                    seg.name,
                    seg.first_step.tolist(),
                    seg.stop_step.tolist(),
                    seg.ipu.tolist(),
                    seg.start_cycles.tolist(),
                    seg.end_cycles.tolist(),
                    _nanos(seg.start_cycles, clock_hz),
                    _nanos(seg.end_cycles, clock_hz),
                    [
                        ",".join(f'"{p}_cycles":{v}' for p, v in zip(TIMELINE_PHASES, row, strict=True))
                        for row in seg.phase_cycles.tolist()
                    ],
                    strict=True,
                )
            ]
        )
    cnt = tl.counters
    if cnt is not None and len(cnt):
        chunks.append([
            f'{{"name":"{"" if t < 0 else f"tile {t} "}{COUNTER_NAMES[c]}","ph":"C","ts":{n0 // 1000}.{n0 % 1000:03d},'
            f'"pid":{i + 1},"args":{{"value":{v!r}}}}}'
            for c, i, t, n0, v in zip(cnt.counter.tolist(), cnt.ipu.tolist(), cnt.tile.tolist(), _nanos(cnt.ts_cycles, clock_hz),
                                      cnt.value.tolist(), strict=True)
        ])  # fmt: skip
    return meta, chunks


def _write(fh: IO[bytes], result: RunResult, clock_hz: float) -> int:
    meta, chunks = _events(result, clock_hz)
    other = {
        "program": result.program,
        "machine": result.machine,
        "engine": result.engine,
        "total_cycles": result.total_cycles,
        "tile_clock_hz": result.tile_clock_hz,
        "clock_hz": clock_hz,
        "n_steps_executed": result.n_steps_executed,
        "time_unit": "ts/dur in microseconds of whole nanoseconds; args in cycles",
    }
    fh.write(b'{"traceEvents":[\n')
    fh.write(",\n".join(meta).encode())
    n = 0
    for chunk in chunks:
        if not chunk:
            continue
        fh.write(b",\n" if meta or n else b"")
        fh.write(",\n".join(chunk).encode())
        n += len(chunk)
    fh.write(b'\n],"otherData":' + json.dumps(other).encode() + b"}\n")
    return n


def chrome_trace_bytes(result: RunResult, *, clock_hz: float | None = None, compress: bool = False) -> tuple[bytes, int]:
    """The Chrome Trace Event JSON of ``result.timeline`` (gzip-compressed if ``compress``) and its number of slices."""
    hz = result.tile_clock_hz if clock_hz is None else float(clock_hz)
    if not hz > 0:
        raise ConfigError(f"clock_hz: expected a positive frequency (got {clock_hz!r})")
    buf = io.BytesIO()
    if compress:
        with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=6, mtime=0) as gz:
            n = _write(gz, result, hz)  # type: ignore[arg-type]
    else:
        n = _write(buf, result, hz)
    return buf.getvalue(), n


def write_chrome_trace(result: RunResult, path: str | os.PathLike[str], *, clock_hz: float | None = None) -> int:
    """Write ``result.timeline`` to ``path`` as Chrome Trace Event JSON; return the number of slices.

    Open the file in https://ui.perfetto.dev (or ``chrome://tracing``). The file is
    gzip-compressed when ``path`` ends with ``.gz``, and written atomically: a reader
    (or a failed write) never sees half a file.

    Parameters
    ----------
    result
        A run with a timeline: ``simulate(..., timeline=True)``.
    path
        Where to write (``.json`` or ``.json.gz``); its folder must exist.
    clock_hz
        Clock turning cycles into time (default: the run's ``tile_clock_hz``).

    Raises
    ------
    ConfigError
        The run has no timeline, or ``clock_hz`` is not positive.
    OutputPathError
        The path cannot be written (:func:`mimdsim.files.check_output_path`).
    """
    check_output_path(path, "timeline")
    data, n = chrome_trace_bytes(result, clock_hz=clock_hz, compress=is_gzip_name(path))
    write_bytes(path, data, what="timeline", compress=False)
    return n
