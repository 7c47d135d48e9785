"""Timeline export as a native Perfetto trace: protobuf ``TracePacket`` s of ``TrackEvent`` s.

The file is a ``perfetto.protos.Trace`` (https://perfetto.dev/docs/reference/trace-packet-proto)
written by a small protobuf encoder of its own (varints and length-delimited fields;
no dependency): one process track per IPU, named child tracks in the order of the
Chrome export (steps, the phase tracks, then tile tracks), counter tracks for the
timeline's counters, and one ``TYPE_SLICE_BEGIN`` / ``TYPE_SLICE_END`` pair per
interval or segment, on one packet sequence whose event names are interned. That is
about a fifth of the bytes of the Chrome JSON form. https://ui.perfetto.dev opens it.

Field numbers are those of Perfetto's ``protos/perfetto/trace/`` (``trace.proto``,
``trace_packet.proto``, ``track_event/track_event.proto``, ``track_event/track_descriptor.proto``,
``track_event/counter_descriptor.proto``, ``interned_data/interned_data.proto``);
tests/trace/test_perfetto.py decodes a written file with the ``perfetto`` package's
generated classes.
"""

from __future__ import annotations

import os

import numpy as np

from mimdsim.engines.result import COUNTER_NAMES, TIMELINE_PHASES, RunResult
from mimdsim.errors import ConfigError
from mimdsim.files import check_output_path, write_bytes
from mimdsim.report.chrome_trace import PHASE_TID, STEPS_TID, TILE_TID_BASE, TRACK_NAMES, _nanos, _timeline, step_slice_rows

__all__ = ["perfetto_trace_bytes", "write_perfetto_trace"]

_SEQUENCE = 1
_SLICE_BEGIN, _SLICE_END, _COUNTER = 1, 2, 4  # TrackEvent.Type
_CLEARED, _NEEDS_STATE = 1, 2  # TracePacket.SequenceFlags
_EXPLICIT = 3  # TrackDescriptor.ChildTracksOrdering
_UNIT_COUNT, _UNIT_BYTES = 2, 3  # CounterDescriptor.Unit
_COUNTER_UNIT = {"busy_fraction": 0, "bytes_received": _UNIT_BYTES, "memory_bytes": _UNIT_BYTES}


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _int(field: int, n: int) -> bytes:
    """A varint field (``n`` >= 0; negatives as two's complement 64-bit, as protobuf does)."""
    return _varint(field << 3) + _varint(n & 0xFFFFFFFFFFFFFFFF)


def _msg(field: int, body: bytes) -> bytes:
    """A length-delimited field (message, string or bytes)."""
    return _varint((field << 3) | 2) + _varint(len(body)) + body


def _str(field: int, text: str) -> bytes:
    return _msg(field, text.encode())


def _packet(body: bytes) -> bytes:
    return _msg(1, body)  # Trace.packet


def _track(
    uuid: int, name: str, *, parent: int | None = None, pid: int | None = None, rank: int = 0, unit: int | None = None
) -> bytes:
    """A TrackDescriptor packet (process track with ``pid``, else a named child or counter track)."""
    body = _int(1, uuid)
    if pid is not None:
        body += _msg(3, _int(1, pid) + _str(6, name)) + _int(11, _EXPLICIT)  # ProcessDescriptor
    else:
        body += _str(2, name) + _int(5, parent or 0) + _int(12, rank)
    if unit is not None:
        body += _msg(8, _int(3, unit) if unit else b"")  # CounterDescriptor
    return _packet(_msg(60, body) + _int(10, _SEQUENCE))


def _ipu_uuid(ipu: int) -> int:
    return (ipu + 1) << 40


def _events(result: RunResult, clock_hz: float) -> bytes:
    tl = _timeline(result)
    names = list(dict.fromkeys(tl.names + (tl.segments.name if tl.segments is not None else ())))
    iid = {n: k + 1 for k, n in enumerate(names)}
    head = _int(10, _SEQUENCE) + _int(13, _CLEARED)
    head += _msg(12, b"".join(_msg(2, _int(1, iid[n]) + _str(2, n)) for n in names))  # InternedData.event_names
    out = [_packet(head)]

    # slices: (track, name iid, start, end), IPU tracks then tile tracks then segments
    ipu_rows = tl.tile < 0
    tid = np.where(
        ipu_rows, np.array([PHASE_TID[p] for p in TIMELINE_PHASES])[tl.phase], TILE_TID_BASE + tl.tile.astype(np.int64)
    )
    record_iid = np.array([iid[n] for n in tl.names], np.int64)[tl.record] if len(tl) else np.zeros(0, np.int64)
    ipus, tids, iids, starts, ends = [tl.ipu.astype(np.int64)], [tid], [record_iid], [tl.start_cycles], [tl.end_cycles]
    first, last = step_slice_rows(tl)  # one "steps" slice per (step, IPU) over its phases
    ipus.append(tl.ipu[first].astype(np.int64))
    tids.append(np.full(first.size, STEPS_TID))
    iids.append(record_iid[first])
    starts.append(tl.start_cycles[first])
    ends.append(tl.end_cycles[last])
    seg = tl.segments
    if seg is not None and len(seg):
        ipus.append(seg.ipu.astype(np.int64))
        tids.append(np.full(len(seg), STEPS_TID))
        iids.append(np.array([iid[n] for n in seg.name], np.int64))
        starts.append(seg.start_cycles)
        ends.append(seg.end_cycles)
    ipu, tid, name, t0, t1 = (np.concatenate(x) for x in (ipus, tids, iids, starts, ends))
    track = (ipu + 1) * (1 << 40) + tid

    # track descriptors: each IPU, then its child tracks in Chrome's tid order
    cnt = tl.counters
    all_ipus = sorted(set(ipu.tolist()) | (set(cnt.ipu.tolist()) if cnt is not None else set()))
    for i in all_ipus:
        out.append(_track(_ipu_uuid(i), f"IPU {i}", pid=i + 1))
        for t in sorted(set(tid[ipu == i].tolist())):
            label = TRACK_NAMES.get(t, f"tile {t - TILE_TID_BASE}")
            out.append(_track(_ipu_uuid(i) + t, label, parent=_ipu_uuid(i), rank=t))
    counter_uuid = np.zeros(0, np.int64)
    if cnt is not None and len(cnt):
        base = (1 << 39) + (cnt.tile.astype(np.int64) + 1) * len(COUNTER_NAMES) + cnt.counter
        counter_uuid = (cnt.ipu.astype(np.int64) + 1) * (1 << 40) + base
        seen = np.unique(counter_uuid, return_index=True)[1]
        for j in seen.tolist():
            c, i, t = int(cnt.counter[j]), int(cnt.ipu[j]), int(cnt.tile[j])
            label = ("" if t < 0 else f"tile {t} ") + COUNTER_NAMES[c]
            rank = 1 << 20 if t < 0 else (1 << 21) + t
            out.append(_track(int(counter_uuid[j]), label, parent=_ipu_uuid(i), rank=rank, unit=_COUNTER_UNIT[COUNTER_NAMES[c]]))

    # events in time order: each track's slices in order as begin, end, begin, end, ... (so a
    # slice shorter than a nanosecond still begins before it ends), merged by a stable sort
    per_track = np.lexsort((t1, t0, track))
    ts = np.stack([_ns(t0[per_track], clock_hz), _ns(t1[per_track], clock_hz)], axis=1).reshape(-1)
    # each event's TrackEvent field is a template (begin: name and track; end: track; counter:
    # track, then the value's 8 bytes), written once; the packets are assembled with numpy
    uuid_field = {u: _int(11, u) for u in set(track.tolist()) | set(counter_uuid.tolist())}
    pair, begin_of = np.unique(np.stack([name[per_track], track[per_track]], 1), axis=0, return_inverse=True)
    tracks, end_of = np.unique(track[per_track], return_inverse=True)
    counter_tracks, counter_of = np.unique(counter_uuid, return_inverse=True)
    begin, end, counter = _int(9, _SLICE_BEGIN), _int(9, _SLICE_END), _int(9, _COUNTER)
    value_key = _varint((44 << 3) | 1)  # TrackEvent.double_counter_value, fixed64
    templates = [_msg(11, begin + _int(10, n) + uuid_field[u]) for n, u in pair.tolist()]
    templates += [_msg(11, end + uuid_field[u]) for u in tracks.tolist()]
    templates += [_varint((11 << 3) | 2) + _varint(len(counter + uuid_field[u] + value_key) + 8) + counter + uuid_field[u] + value_key
                  for u in counter_tracks.tolist()]  # fmt: skip
    template = np.stack([begin_of.reshape(-1), len(pair) + end_of.reshape(-1)], 1).reshape(-1)
    value = np.zeros(ts.size)
    if cnt is not None and counter_uuid.size:
        ts = np.concatenate([ts, _ns(cnt.ts_cycles, clock_hz)])
        template = np.concatenate([template, len(pair) + len(tracks) + counter_of.reshape(-1)])
        value = np.concatenate([value, cnt.value])
    order = np.argsort(ts, kind="stable")
    out.append(_assemble(ts[order], template[order], value[order], order >= 2 * per_track.size, templates))
    return b"".join(out)


def _assemble(ts: np.ndarray, template: np.ndarray, value: np.ndarray, has_value: np.ndarray, templates: list[bytes]) -> bytes:
    """The packets ``{timestamp ts, templates[template] (+ value's 8 bytes), sequence id, flags}``, one per event, as bytes."""
    n_ts = np.ones(ts.size, np.int64)
    rest = ts.astype(np.uint64) >> np.uint64(7)
    while rest.any():
        n_ts += rest > 0
        rest >>= np.uint64(7)
    blob = np.frombuffer(b"".join(templates), np.uint8)
    t_len = np.array([len(t) for t in templates], np.int64)
    t_off = np.cumsum(t_len) - t_len
    tail = _int(10, _SEQUENCE) + _int(13, _NEEDS_STATE)
    body = 1 + n_ts + t_len[template] + 8 * has_value + len(tail)  # timestamp key + varint, TrackEvent, flags
    assert body.max(initial=0) < 128, "one-byte packet lengths"
    start = np.cumsum(body + 2) - (body + 2)
    out = np.empty(int((body + 2).sum()), np.uint8)
    out[start] = 0x0A  # Trace.packet, length-delimited
    out[start + 1] = body
    out[start + 2] = 8 << 3  # TracePacket.timestamp, varint
    u = ts.astype(np.uint64)
    for i in range(int(n_ts.max(initial=0))):
        sel = n_ts > i
        byte = (u[sel] >> np.uint64(7 * i)) & np.uint64(0x7F)
        out[start[sel] + 3 + i] = (byte | np.where(n_ts[sel] - 1 > i, np.uint64(0x80), np.uint64(0))).astype(np.uint8)
    at = start + 3 + n_ts
    lens = t_len[template]
    within = np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens)
    out[np.repeat(at, lens) + within] = blob[np.repeat(t_off[template], lens) + within]
    at = at + lens
    if has_value.any():
        out[at[has_value, None] + np.arange(8)] = value[has_value].astype("<f8").view(np.uint8).reshape(-1, 8)
    at = at + 8 * has_value
    out[at[:, None] + np.arange(len(tail))] = np.frombuffer(tail, np.uint8)
    return out.tobytes()


def _ns(cycles: np.ndarray, clock_hz: float) -> np.ndarray:
    return np.asarray(_nanos(cycles, clock_hz), np.int64)


def perfetto_trace_bytes(result: RunResult, *, clock_hz: float | None = None) -> bytes:
    """The Perfetto protobuf trace of ``result.timeline`` (see the module docstring)."""
    hz = result.tile_clock_hz if clock_hz is None else float(clock_hz)
    if not hz > 0:
        raise ConfigError(f"clock_hz: expected a positive frequency (got {clock_hz!r})")
    return _events(result, hz)


def write_perfetto_trace(result: RunResult, path: str | os.PathLike[str], *, clock_hz: float | None = None) -> int:
    """Write ``result.timeline`` to ``path`` as a Perfetto protobuf trace, atomically; return its size in bytes.

    Use the ``.pftrace`` (or ``.perfetto-trace``) extension; ``.gz`` compresses it (Perfetto opens both).
    """
    check_output_path(path, "timeline")
    data = perfetto_trace_bytes(result, clock_hz=clock_hz)
    write_bytes(path, data, what="timeline")
    return len(data)
