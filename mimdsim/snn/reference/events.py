"""Event-camera and audio-spike data as network input: tonic-style event arrays.

Datasets of the SNN ecosystem (tonic's NMNIST, DVSGesture, SHD, ...) give each sample as a
structured array of events with fields ``x``, ``y``, ``p`` (polarity) and ``t`` (µs), plus a
label. :func:`events_batch` turns any iterable of such samples -- arrays, ``(events, label)``
pairs (a tonic dataset object is one: duck-typed, no dependency), or ``.npy`` / ``.npz`` files --
into a :class:`~mimdsim.snn.reference.data.SpikeBatch` the functional model runs on, with the same
binning, denoising, downsampling and checks as the NMNIST reader (:mod:`mimdsim.snn.reference.data`):

* an event's address is ``(p * height + y) * width + x`` on a ``sensor_size = (width, height,
  polarities)`` sensor (tonic's order); a field that is missing counts as 0 (SHD has ``x`` and
  ``t`` only);
* ``denoise_us`` keeps an event only if a 4-neighbour fired within that time before
  (:func:`~mimdsim.snn.reference.data.denoise_events`); ``downsample_to`` maps the sensor onto an
  ``n x n`` grid (``floor(x n / width)``);
* the events are binned into ``T`` windows of ``bin_us`` from the sample's first event, with at
  most ``S_in`` distinct addresses per window (:func:`~mimdsim.snn.reference.data.bin_events`).

A ``.npz`` file holds ``events`` (a structured array) or the arrays ``x``, ``y``, ``p``, ``t``,
and optionally ``label`` and ``sensor_size``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from mimdsim import files
from mimdsim.errors import DatasetError
from mimdsim.snn.reference.data import SpikeBatch, sensor_events_to_ids

__all__ = ["events_batch", "read_event_file", "event_fields"]

_FIELDS = ("x", "y", "p", "t")


def read_event_file(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], int, tuple[int, int, int] | None]:
    """The events (by field), the label (-1 if none) and the sensor size (if stored) of an ``.npy`` / ``.npz`` file."""
    p = Path(path)
    if not p.is_file():
        raise DatasetError(f"{p}: file not found")
    if p.suffix.lower() not in (".npy", ".npz"):
        raise DatasetError(f"{p}: unknown event file format (allowed: .npy with a structured array, .npz)")
    if p.suffix.lower() == ".npy":
        _check_npy_size(p)
        try:
            array = np.load(p, allow_pickle=False)
        except files.NUMPY_FILE_ERRORS as err:
            raise DatasetError(f"{p}: not a readable numpy file ({files.why(err)})") from None
        return event_fields(array, str(p)), -1, None
    data = files.read_npz(p, "event file", DatasetError)
    keys = set(data)
    if "events" in keys:
        fields = event_fields(data["events"], str(p))
    elif "t" in keys:
        fields = event_fields({k: data[k] for k in _FIELDS if k in keys}, str(p))
    else:
        raise DatasetError(
            f"{p}: an .npz of events needs 'events' or the arrays 'x', 'y', 'p', 't' (has {', '.join(sorted(keys))})"
        )
    for key in ("label", "sensor_size"):
        if key in keys and not np.issubdtype(data[key].dtype, np.integer):
            raise DatasetError(f"{p}: {key}: expected integers (got {data[key].dtype})")
    if "label" in keys and data["label"].shape != ():
        raise DatasetError(f"{p}: label: expected one integer (got shape {data['label'].shape})")
    label = int(data["label"]) if "label" in keys else -1
    sensor = tuple(int(v) for v in data["sensor_size"].reshape(-1)) if "sensor_size" in keys else None
    if sensor is not None and len(sensor) != 3:
        raise DatasetError(f"{p}: sensor_size must hold (width, height, polarities)")
    return fields, label, sensor


def _check_npy_size(p: Path) -> None:
    """Refuse an ``.npy`` whose array (from its header) would take more than :data:`mimdsim.files.NPZ_MAX_BYTES`."""
    try:
        with open(p, "rb") as f:
            shape, dtype = files.npy_header(f)
    except files.NUMPY_FILE_ERRORS as err:
        raise DatasetError(f"{p}: not a readable numpy file ({files.why(err)})") from None
    nbytes = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    if nbytes > files.NPZ_MAX_BYTES:
        raise DatasetError(f"{p}: its array would take {nbytes:,} B; an event file is read only up to {files.NPZ_MAX_BYTES:,} B")


def event_fields(events: Any, where: str = "events") -> dict[str, np.ndarray]:
    """``x``, ``y``, ``p``, ``t`` as 1-D arrays from a structured array or a mapping of arrays (missing spatial fields are 0)."""
    if isinstance(events, np.ndarray) and events.dtype.names:
        names = set(events.dtype.names)
        cols = {k: np.asarray(events[k]) for k in _FIELDS if k in names}
    elif isinstance(events, dict):
        cols = {k: np.asarray(v) for k, v in events.items() if k in _FIELDS}
    else:
        raise DatasetError(
            f"{where}: expected a structured array with fields x, y, p, t (tonic's events), got {type(events).__name__}"
        )
    if "t" not in cols:
        raise DatasetError(f"{where}: the events have no 't' (time, µs) field")
    n = cols["t"].reshape(-1).size
    out: dict[str, np.ndarray] = {}
    for k in _FIELDS:
        v = cols.get(k)
        v = np.zeros(n, np.int64) if v is None else v.reshape(-1)
        if v.size != n:
            raise DatasetError(f"{where}: field {k!r} has {v.size} values for {n} events")
        if v.dtype.kind not in "biuf" or (v.dtype.kind == "f" and not np.all(np.isfinite(v))):
            raise DatasetError(f"{where}: field {k!r} must hold finite numbers")
        if k != "t" and v.size and v.min() < 0:
            raise DatasetError(f"{where}: field {k!r} holds a negative value ({v.min()})")
        out[k] = v.astype(np.float64 if k == "t" else np.int64)
    return out


def _sample(item: Any, i: int) -> tuple[dict[str, np.ndarray], int, tuple[int, int, int] | None]:
    if isinstance(item, str | os.PathLike):
        return read_event_file(item)
    if isinstance(item, tuple) and len(item) == 2:
        events, label = item
        try:
            lab = int(label)
        except (TypeError, ValueError):
            lab = -1
        return event_fields(events, f"sample {i}"), lab, None
    return event_fields(item, f"sample {i}"), -1, None


def events_batch(
    samples: Iterable[Any],
    *,
    batch_size: int,
    n_timesteps: int,
    sparse_size: int,
    sensor_size: tuple[int, int, int] | None = None,
    bin_us: float = 1000.0,
    seed: int = 0,
    denoise_us: float | None = None,
    downsample_to: int | None = None,
) -> SpikeBatch:
    """The first ``batch_size`` samples of ``samples`` as a batch (see the module docstring).

    ``sensor_size`` is ``(width, height, polarities)``; without it the size a ``.npz`` stores is
    used, else the largest coordinate seen plus one (the same for every sample of the batch).

    Raises
    ------
    DatasetError
        Fewer samples than the batch, malformed events (naming the sample and field), events
        outside the sensor.
    """
    loaded: list[tuple[dict[str, np.ndarray], int, tuple[int, int, int] | None]] = []
    for i, item in enumerate(samples):
        if i >= batch_size:
            break
        loaded.append(_sample(item, i))
    if len(loaded) < batch_size:
        raise DatasetError(f"events: {len(loaded)} samples, the batch needs {batch_size}")
    stored = {s for _, _, s in loaded if s is not None}
    if sensor_size is None and len(stored) == 1:
        sensor_size = stored.pop()
    if sensor_size is None:
        sensor_size = tuple(1 + max(int(f[k].max(initial=0)) for f, _, _ in loaded) for k in ("x", "y", "p"))  # type: ignore[assignment]
    assert sensor_size is not None
    width, height, pols = (int(v) for v in sensor_size)
    if min(width, height, pols) <= 0:
        raise DatasetError(f"sensor_size: {sensor_size} must hold three positive numbers (width, height, polarities)")
    rng = np.random.default_rng(seed)
    ids = np.zeros((n_timesteps, batch_size, sparse_size), dtype=np.int32)
    counts = np.zeros((n_timesteps, batch_size), dtype=np.int32)
    labels = np.array([lab for _, lab, _ in loaded], dtype=np.int64)
    for b, (f, _, _) in enumerate(loaded):
        x, y, p, t = f["x"], f["y"], f["p"], f["t"]
        outside = (x >= width) | (y >= height) | (p >= pols)
        if outside.any():
            j = int(np.flatnonzero(outside)[0])
            raise DatasetError(
                f"sample {b}: event {j} at (x={x[j]}, y={y[j]}, p={p[j]}) is outside the sensor {width} x {height} x {pols}"
            )
        ids[:, b], counts[:, b] = sensor_events_to_ids(
            x, y, p, t, width=width, height=height, n_timesteps=n_timesteps, sparse_size=sparse_size, bin_us=bin_us, rng=rng,
            denoise_us=denoise_us, downsample_to=downsample_to,
        )  # fmt: skip
    return SpikeBatch(ids, counts, labels)
