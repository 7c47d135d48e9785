"""Spiking Heidelberg Digits (Cramer et al. 2020) HDF5 files as one input batch of the SNN.

The file holds ``spikes/times`` (ragged, seconds), ``spikes/units`` (ragged channel ids 0..699) and ``labels``; the
spike id is the unit. Events are binned as every dataset's are (:func:`mimdsim.snn.reference.data.bin_events`).
Needs ``h5py`` (``pip install mimdsim[data]``). A damaged file is a :class:`~mimdsim.errors.DatasetError` naming it,
whatever h5py raises on the way (found by fuzzing SHD files).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from mimdsim.errors import DatasetError
from mimdsim.snn.reference.data import SpikeBatch, bin_events

__all__ = ["SHD_UNITS", "load_shd"]

SHD_UNITS = 700  # input channels of the Spiking Heidelberg Digits (Cramer et al. 2020)


def load_shd(
    path: str | os.PathLike[str],
    *,
    n_timesteps: int,
    sparse_size: int,
    indices: list[int] | np.ndarray | None = None,
    bin_us: float = 1000.0,
    seed: int = 0,
) -> SpikeBatch:
    """Load samples of a Spiking Heidelberg Digits HDF5 file as one batch.

    Parameters
    ----------
    path : path-like
        ``shd_train.h5`` / ``shd_test.h5`` (or any file with the same layout).
    indices : sequence of int, optional
        Samples to load (default: all; ``B`` = their number).

    Raises
    ------
    DatasetError
        h5py missing, file missing or not HDF5, a missing key, ragged arrays of different
        lengths, or an index out of range.
    """
    try:
        import h5py
    except ImportError:
        raise DatasetError(f"{path}: reading SHD needs h5py (pip install 'mimdsim[data]')") from None
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: file not found")
    try:
        fh = h5py.File(path, "r")
    except OSError as err:
        raise DatasetError(f"{path}: not a readable HDF5 file ({err})") from None
    try:
        picked = None if indices is None else np.asarray(indices, dtype=np.int64).reshape(-1)
    except (TypeError, ValueError) as err:
        fh.close()
        raise DatasetError(f"indices: {indices!r} are not sample numbers ({err})") from None
    try:
        with fh:
            return _read_shd(fh, path, n_timesteps, sparse_size, picked, bin_us, seed)
    except DatasetError:
        raise
    except Exception as err:  # h5py raises many kinds (KeyError, RuntimeError, ...) on a damaged file; it is the user's
        raise DatasetError(f"{path}: not a readable SHD file ({type(err).__name__}: {err})") from None


def _read_shd(
    fh: Any, path: Path, n_timesteps: int, sparse_size: int, indices: np.ndarray | None, bin_us: float, seed: int
) -> SpikeBatch:
    """:func:`load_shd` of an open file."""
    times, units, labels = (_h5_get(fh, path, key) for key in ("spikes/times", "spikes/units", "labels"))
    n = len(labels)
    if len(times) != n or len(units) != n:
        raise DatasetError(f"{path}: spikes/times, spikes/units and labels hold {len(times)}, {len(units)}, {n} samples")
    sel = np.arange(n) if indices is None else indices
    if sel.size == 0:
        raise DatasetError(f"{path}: indices: no samples selected")
    if sel.min() < 0 or sel.max() >= n:
        raise DatasetError(f"{path}: indices: {sel.min()}..{sel.max()} outside 0..{n - 1}")
    rng = np.random.default_rng(seed)
    ids = np.zeros((n_timesteps, len(sel), sparse_size), dtype=np.int32)
    counts = np.zeros((n_timesteps, len(sel)), dtype=np.int32)
    for b, i in enumerate(sel):
        t_s, u = np.asarray(times[i], dtype=np.float64), np.asarray(units[i], dtype=np.int64)
        if t_s.shape != u.shape:
            raise DatasetError(f"{path}: sample {i}: {t_s.size} times but {u.size} units")
        if u.size == 0:
            raise DatasetError(f"{path}: sample {i}: no spikes (an empty sample would drive the network with nothing)")
        if u.min() < 0 or u.max() >= SHD_UNITS:
            bad = int(u[(u < 0) | (u >= SHD_UNITS)][0])
            raise DatasetError(f"{path}: sample {i}: unit {bad} outside 0..{SHD_UNITS - 1} (SHD has {SHD_UNITS} input channels)")
        if not np.isfinite(t_s).all() or t_s.min() < 0:
            bad_t = float(t_s[~np.isfinite(t_s) | (t_s < 0)][0])
            raise DatasetError(f"{path}: sample {i}: spike time {bad_t!r} s is not a finite time >= 0")
        ids[:, b], counts[:, b] = bin_events(
            t_s * 1e6, u, n_timesteps=n_timesteps, sparse_size=sparse_size, bin_us=bin_us, rng=rng
        )
    return SpikeBatch(ids, counts, np.asarray(labels[:], dtype=np.int64)[sel])


def _h5_get(fh: Any, path: Path, key: str) -> Any:
    if key not in fh:
        raise DatasetError(f"{path}: key {key!r} missing (an SHD file holds spikes/times, spikes/units, labels)")
    return fh[key]
