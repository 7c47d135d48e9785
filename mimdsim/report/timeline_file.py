"""Traces: timeline export of simulated runs, as Chrome Trace Event JSON or a native Perfetto protobuf trace."""

from __future__ import annotations

import os

from mimdsim.engines.result import RunResult
from mimdsim.report.chrome_trace import chrome_trace_bytes, write_chrome_trace
from mimdsim.report.perfetto import perfetto_trace_bytes, write_perfetto_trace

__all__ = [
    "write_timeline",
    "is_perfetto_name",
    "write_chrome_trace",
    "chrome_trace_bytes",
    "write_perfetto_trace",
    "perfetto_trace_bytes",
]

PERFETTO_SUFFIXES = (".pftrace", ".perfetto-trace")


def is_perfetto_name(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a Perfetto protobuf trace (``.pftrace`` or ``.perfetto-trace``, optionally ``.gz``)."""
    name = str(path).lower().removesuffix(".gz")
    return name.endswith(PERFETTO_SUFFIXES)


def write_timeline(result: RunResult, path: str | os.PathLike[str], *, clock_hz: float | None = None) -> None:
    """Write ``result.timeline`` to ``path``: a Perfetto protobuf trace for ``.pftrace`` / ``.perfetto-trace``, else Chrome JSON."""
    if is_perfetto_name(path):
        write_perfetto_trace(result, path, clock_hz=clock_hz)
    else:
        write_chrome_trace(result, path, clock_hz=clock_hz)
