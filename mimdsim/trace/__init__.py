"""Traces: timeline export of simulated runs (Chrome Trace Event JSON for Perfetto)."""

from mimdsim.trace.timeline import chrome_trace_bytes, write_chrome_trace

__all__ = ["write_chrome_trace", "chrome_trace_bytes"]
