"""Spike activity: per-step counts, trace files (formats 1 and 2), count tables, recorded spikes, sources, the cache."""
