"""Spike-activity trace files of format 1 (``traces/README.md``): :func:`save_activity` and :func:`load_activity`.

Also the pieces the format-2 trace files (:mod:`mimdsim.snn.activity.trace_file`) share with them: the
strict ``.npz`` reader and the optional per-tensor arrays (per-neuron counts, spike ids).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from mimdsim import files
from mimdsim.errors import TraceFormatError
from mimdsim.files import write_bytes
from mimdsim.snn.activity.counts import SpikeActivity

__all__ = [
    "save_activity",
    "load_activity",
    "read_npz",
    "activity_of_v1",
    "optional_arrays",
    "optional_arrays_of",
    "FORMAT_VERSION",
    "TRACE_KIND",
]

FORMAT_VERSION = 1
TRACE_KIND = "mimdsim.spike_activity"


def save_activity(path: str | os.PathLike[str], act: SpikeActivity, *, compress: bool = True) -> None:
    """Write ``act`` as an ``.npz`` trace (keys in ``traces/README.md``), atomically, to exactly ``path``
    (:func:`mimdsim.files.write_bytes`: no extension added); its arrays deflated unless ``compress`` is False (the
    activity cache's own files, read back at every design point: twice the bytes, read in half the time)."""
    buf = io.BytesIO()
    (np.savez_compressed if compress else np.savez)(
        buf,
        format_version=np.int64(FORMAT_VERSION),
        kind=np.str_(TRACE_KIND),
        sparse_sizes=np.asarray(act.sparse_sizes, dtype=np.int64),
        n_timesteps=np.int64(act.n_timesteps),
        batch_size=np.int64(act.batch_size),
        true_counts=np.stack(act.true_counts),
        valid_counts=np.stack(act.valid_counts),
        source=np.str_(act.source),
        **optional_arrays(act),
    )
    write_bytes(path, buf.getvalue(), what="activity trace", compress=False)


_OPTIONAL = ("neuron_counts", "spike_ids")
"""The optional per-tensor arrays of an activity, stored as ``<name>_<k>`` keys of a trace file."""


def optional_arrays(act: SpikeActivity) -> dict[str, Any]:
    """The optional ``neuron_counts_<k>`` and ``spike_ids_<k>`` keys of a trace file (ids as uint16 where they fit)."""
    out: dict[str, Any] = {}
    for name in _OPTIONAL:
        for k, a in enumerate(getattr(act, name) or ()):
            out[f"{name}_{k}"] = a.astype(np.uint16) if name == "spike_ids" and (not a.size or a.max() < 1 << 16) else a
    return out


def optional_arrays_of(data: dict[str, np.ndarray], n_tensors: int) -> dict[str, tuple[np.ndarray, ...] | None]:
    """The optional per-tensor arrays of a trace's arrays (``SpikeActivity`` keyword arguments): each for all tensors or none."""
    out: dict[str, tuple[np.ndarray, ...] | None] = {}
    for name in _OPTIONAL:
        keys = [f"{name}_{k}" for k in range(n_tensors)]
        present = [k in data for k in keys]
        if any(present) and not all(present):
            raise TraceFormatError(f"{keys[present.index(False)]}: missing ({name} come for every tensor or none)")
        out[name] = tuple(data[k] for k in keys) if all(present) else None
    return out


_KEYS = ("format_version", "kind", "sparse_sizes", "n_timesteps", "batch_size", "true_counts", "valid_counts")


def load_activity(path: str | os.PathLike[str]) -> SpikeActivity:
    """Read a trace written by :func:`save_activity`.

    Raises
    ------
    TraceFormatError
        Missing or unreadable file, a missing key, a wrong ``kind`` or ``format_version``,
        or arrays of the wrong shape/range; the message names the file and the key.
    """
    path = Path(path)
    return activity_of_v1(path, read_npz(path, "activity trace"))


def read_npz(path: Path, what: str) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` trace (no pickles); a missing or unreadable file is a :class:`TraceFormatError`, and
    so is one whose arrays are larger than its own T, B and tensor sizes allow (from the ``.npy`` headers and the
    small arrays, before the large ones are read)."""

    def within_its_sizes(headers: files.NpzHeaders) -> None:
        nbytes = files.npz_nbytes(headers)
        if sum(nbytes.values()) <= _CHECKED_FROM_BYTES:  # small enough to read as it is; the reader checks the shapes
            return
        small = files.read_npz(path, what, TraceFormatError, keys=[k for k, n in nbytes.items() if n <= _SMALL_BYTES])
        bound = _largest_trace_bytes(small)
        if bound is not None and sum(nbytes.values()) > bound:
            big = max(nbytes, key=lambda k: nbytes[k])
            raise TraceFormatError(
                f"{path}: its arrays would take {sum(nbytes.values()):,} B ({big}: {headers[big][1]}{list(headers[big][0])}); "
                f"a {what} of its T, B and tensor sizes holds at most {bound:,} B"
            )

    return files.read_npz(path, what, TraceFormatError, check=within_its_sizes)


_SMALL_BYTES = 1 << 16
"""Arrays up to this size (scalars, sizes, the JSON strings) are read before the others."""

_CHECKED_FROM_BYTES = 64 << 20
"""A trace whose arrays take more than this has them sized against its own T, B and tensor sizes before they are
read (the family (a) step with per-neuron counts and spike ids is 2 MB)."""


def _largest_trace_bytes(small: dict[str, np.ndarray]) -> int | None:
    """The most bytes a trace of these ``n_timesteps``, ``batch_size`` and sizes holds (two count arrays per tensor,
    and per (step, sample) its optional per-neuron counts and spike ids, 8 B each), or None if they are not readable
    (the reader then names what is wrong)."""
    arrays = [small.get(k) for k in ("n_timesteps", "batch_size", "sparse_sizes")] + [
        small.get("layer_sizes", small.get("sparse_sizes"))
    ]
    if any(a is None or not np.issubdtype(a.dtype, np.integer) for a in arrays):
        return None
    try:
        T, B = (int(small[k]) for k in ("n_timesteps", "batch_size") if small[k].shape == ())
        sizes = [int(s) for s in small["sparse_sizes"].reshape(-1)]
        layers = [int(n) for n in small.get("layer_sizes", small["sparse_sizes"]).reshape(-1)]
    except (KeyError, ValueError, TypeError):
        return None
    if T <= 0 or B <= 0 or min(sizes + layers, default=0) <= 0:
        return None
    return T * B * sum(8 + 8 * n + 8 * s for n, s in zip(layers, sizes, strict=False)) + _SMALL_BYTES * len(small) + (1 << 20)


def activity_of_v1(path: Path, data: dict[str, np.ndarray]) -> SpikeActivity:
    """The activity of a format-1 trace's arrays (``path`` names the file in errors)."""
    for key in _KEYS:
        if key not in data:
            raise TraceFormatError(f"{path}: key {key!r} missing (a trace holds {', '.join(_KEYS)})")
    kind = data["kind"]
    if kind.shape != () or str(kind) != TRACE_KIND:
        raise TraceFormatError(f"{path}: kind: {kind!r} is not an activity trace (allowed: {TRACE_KIND!r})")
    version = data["format_version"]
    if version.shape != () or not np.issubdtype(version.dtype, np.integer) or int(version) != FORMAT_VERSION:
        raise TraceFormatError(f"{path}: format_version: {version!r} is not supported (allowed: {FORMAT_VERSION})")
    sizes = data["sparse_sizes"]
    if sizes.ndim != 1 or not np.issubdtype(sizes.dtype, np.integer) or (sizes <= 0).any():
        raise TraceFormatError(f"{path}: sparse_sizes: {sizes!r} is not a 1-D array of positive integers")
    T, B = _scalar(path, data, "n_timesteps"), _scalar(path, data, "batch_size")
    want = (len(sizes), T, B)
    for key in ("true_counts", "valid_counts"):
        if data[key].shape != want:
            raise TraceFormatError(f"{path}: {key}: shape {data[key].shape} is not [n_tensors, T, B] = {want}")
    source = str(data["source"]) if "source" in data else ""
    try:
        return SpikeActivity(
            tuple(data["true_counts"]),
            tuple(data["valid_counts"]),
            tuple(int(s) for s in sizes),
            T,
            B,
            source=source,
            **optional_arrays_of(data, len(sizes)),
        )
    except TraceFormatError as err:
        raise TraceFormatError(f"{path}: {err}") from None


def _scalar(path: Path, data: dict[str, np.ndarray], key: str) -> int:
    v = data[key]
    if v.shape != () or not np.issubdtype(v.dtype, np.integer) or int(v) <= 0:
        raise TraceFormatError(f"{path}: {key}: {v!r} is not a positive integer scalar")
    return int(v)
