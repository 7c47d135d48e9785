"""Input spikes for the SNN: Poisson inputs, the NMNIST reader and the dataset dispatcher (:func:`load_input_batch`).

Every function returns the network's sparse input format: ``ids[T, B, S_in]`` int32 plus
``counts[T, B]`` int32, ids of each step sorted and unique, padding slots 0. Nothing is ever
downloaded; the readers take files the user already has.

Event → spike conversion (GSNN NU (datasets, tonic preprocessing), the authors' ``nmnist_util.py``): events are
binned into ``n_timesteps`` windows of ``bin_us`` µs starting at the sample's first event
(events after the last window are dropped), repeated addresses in a bin are merged, and a bin
holding more than ``S_in`` distinct addresses keeps a uniformly random subset of ``S_in``
(seeded). The flattened address is the spike id.

* NMNIST (Orchard et al. 2015 binary format): 5 bytes per event, big-endian bit fields
  ``x[39:32] y[31:24] polarity[23] timestamp_us[22:0]``. An event with ``y == 240`` is a
  timestamp-overflow marker: it adds 2**13 µs to all later events and is not a spike.
  Address ``id = (p·height + y)·width + x`` (polarity-major, as a ``[2, H, W]`` frame
  flattened), ``width = height = 34`` by default, so ``n_inputs = 2312``. The authors'
  final scripts (``nmnist_util.py`` 151-213, 607-620) first denoise (an event is kept only
  if one of its 4 neighbours fired within the last 10 ms, :func:`denoise_events`, as
  tonic's ``Denoise(filter_time=10000)``) and downsample by 24/34 (``x, y ->
  floor(x 24/34), floor(y 24/34)``), giving ``24 x 24 x 2 = 1152`` addresses:
  :func:`load_input_batch` does so for a model whose ``input_addresses`` is 1152.
* SHD (Cramer et al. 2020 HDF5): read by :mod:`mimdsim.snn.reference.shd`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit

from mimdsim.errors import DatasetError
from mimdsim.snn.model.spec import SNNSpec

__all__ = [
    "SpikeBatch",
    "poisson_input",
    "bin_events",
    "read_nmnist_events",
    "load_nmnist",
    "load_input_batch",
    "denoise_events",
    "NMNIST_DENOISE_US",
    "NMNIST_OVERFLOW_Y",
    "NMNIST_OVERFLOW_US",
]

NMNIST_DENOISE_US = 10_000  # the scripts' denoise filter time (nmnist_util.py)
NMNIST_SCRIPT_SIZE = 24  # the scripts' downsampled sensor: 24 x 24 x 2 = 1152 addresses
NMNIST_OVERFLOW_Y = 240  # y value of a timestamp-overflow marker event
NMNIST_OVERFLOW_US = 2**13  # µs added to all later events per marker


@dataclass(frozen=True, eq=False)
class SpikeBatch:
    """A batch of input samples in the network's sparse input format.

    Attributes
    ----------
    ids : ndarray
        ``[T, B, S_in]`` int32 spike ids.
    counts : ndarray
        ``[T, B]`` int32 number of valid ids per step.
    labels : ndarray
        ``[B]`` int64 class labels (-1 where unknown).
    """

    ids: np.ndarray
    counts: np.ndarray
    labels: np.ndarray


def poisson_input(spec: SNNSpec, rate: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Poisson input: each of the ``input_addresses`` inputs spikes with probability ``rate`` per step.

    Draws the number of spikes per ``(t, b)`` as ``k ~ Binomial(n_inputs, rate)`` and then a
    uniform random set of ``min(k, S_in)`` distinct ids. That is exactly "Bernoulli(rate)
    per input, then keep a random ``S_in`` of them on overflow" (given its size, a Bernoulli
    set is a uniform subset, and a uniform subset of a uniform subset is uniform), at a cost
    of ``O(T·B·S_in)`` instead of ``O(T·B·n_inputs)``. The random stream is
    ``np.random.default_rng([seed, 1])``, independent of the weight stream of the same seed.

    Returns
    -------
    ids : ndarray
        ``[T, B, S_in]`` int32, each step's ids sorted, padding 0.
    counts : ndarray
        ``[T, B]`` int32.

    >>> from mimdsim.snn.model.spec import snn_from_sizes
    >>> spec = snn_from_sizes([100, 10, 2], max_activity=0.5, input_sparse_size=8, batch_size=3, n_timesteps=4)
    >>> ids, counts = poisson_input(spec, 0.05, seed=0)
    >>> ids.shape, counts.shape, bool((counts <= 8).all())
    ((4, 3, 8), (4, 3), True)
    """
    if not 0 <= rate <= 1:
        raise DatasetError(f"input_rate: {rate!r} is outside [0, 1] (the probability of an input spike per input and step)")
    T, B, S, n = spec.n_timesteps, spec.batch_size, spec.input_sparse_size, spec.input_addresses
    rng = np.random.default_rng([seed, 1])
    counts = np.minimum(rng.binomial(n, rate, size=(T, B)), S).astype(np.int32)
    uniforms = rng.random((T, B, S))
    ids = np.zeros((T, B, S), dtype=np.int32)
    _floyd_subsets(n, counts, uniforms, ids)
    return ids, counts


@njit(cache=True)
def _floyd_subsets(n: int, counts: np.ndarray, uniforms: np.ndarray, ids: np.ndarray) -> None:  # pragma: no cover - numba
    """Floyd's algorithm: a uniform ``k``-subset of ``0..n-1`` per row, sorted."""
    T, B = counts.shape
    for t in range(T):
        for b in range(B):
            k = counts[t, b]
            m = 0
            for j in range(n - k, n):
                r = min(int(uniforms[t, b, m] * (j + 1)), j)
                seen = False
                for q in range(m):
                    if ids[t, b, q] == r:
                        seen = True
                        break
                ids[t, b, m] = j if seen else r
                m += 1  # noqa: SIM113 - numba kernel, explicit counter
            ids[t, b, :k] = np.sort(ids[t, b, :k])


def bin_events(
    times_us: np.ndarray,
    addresses: np.ndarray,
    *,
    n_timesteps: int,
    sparse_size: int,
    bin_us: float = 1000.0,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Bin one sample's events into ``T`` windows of sparse ids (see the module docstring).

    Parameters
    ----------
    times_us : ndarray
        Event times in µs (any order).
    addresses : ndarray
        Flattened non-negative event addresses, same length.
    n_timesteps, sparse_size : int
        ``T`` windows and ``S_in`` slots per window.
    bin_us : float
        Window length in µs (1000 = the paper's 1 ms).
    rng : numpy.random.Generator, optional
        Picks the kept subset of an overflowing window; default ``default_rng(0)``.

    Returns
    -------
    ids : ndarray
        ``[T, S_in]`` int32, sorted per window, padding 0.
    counts : ndarray
        ``[T]`` int32.

    >>> ids, counts = bin_events(np.array([0, 10, 1500, 1600, 2999]), np.array([4, 4, 2, 7, 1]),
    ...                          n_timesteps=2, sparse_size=3)
    >>> ids.tolist(), counts.tolist()
    ([[4, 0, 0], [2, 7, 0]], [1, 2])
    """
    if bin_us <= 0:
        raise DatasetError(f"bin_us: {bin_us!r} must be positive")
    rng = np.random.default_rng(0) if rng is None else rng
    times_us = np.asarray(times_us, dtype=np.float64)
    addresses = np.asarray(addresses, dtype=np.int64)
    ids = np.zeros((n_timesteps, sparse_size), dtype=np.int32)
    counts = np.zeros(n_timesteps, dtype=np.int32)
    if times_us.size == 0:
        return ids, counts
    if times_us.shape != addresses.shape:
        raise DatasetError(f"events: {times_us.size} times but {addresses.size} addresses")
    if addresses.min() < 0:
        raise DatasetError(f"events: negative address {addresses.min()}")
    bins = np.floor((times_us - times_us.min()) / bin_us).astype(np.int64)
    keep = bins < n_timesteps
    span = int(addresses.max()) + 1
    key = np.unique(bins[keep] * span + addresses[keep])
    ubins, uaddr = key // span, key % span
    starts = np.searchsorted(ubins, np.arange(n_timesteps + 1))
    for t in range(n_timesteps):
        chunk = uaddr[starts[t] : starts[t + 1]]
        if len(chunk) > sparse_size:
            chunk = np.sort(rng.choice(chunk, size=sparse_size, replace=False))
        ids[t, : len(chunk)] = chunk
        counts[t] = len(chunk)
    return ids, counts


def read_nmnist_events(path: str | os.PathLike[str], *, width: int = 34, height: int = 34) -> dict[str, np.ndarray]:
    """Read one NMNIST binary file into event arrays.

    Returns
    -------
    dict
        ``x``, ``y``, ``p`` (0/1) as int64 and ``t_us`` as int64, overflow markers removed and
        applied (see the module docstring), in file order.

    Raises
    ------
    DatasetError
        Missing file, a length not a multiple of 5 bytes, or an address outside the sensor.
    """
    path = Path(path)
    try:
        raw = np.fromfile(path, dtype=np.uint8).astype(np.int64)
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found") from None
    except OSError as err:
        raise DatasetError(f"{path}: cannot read: {err}") from None
    if raw.size == 0:
        raise DatasetError(f"{path}: empty file (an NMNIST sample holds at least one 5-byte event)")
    if raw.size % 5:
        raise DatasetError(f"{path}: {raw.size} bytes is not a whole number of 5-byte NMNIST events (truncated or not NMNIST)")
    x, y, b2 = raw[0::5], raw[1::5], raw[2::5]
    t = ((b2 & 0x7F) << 16) | (raw[3::5] << 8) | raw[4::5]
    p = b2 >> 7
    marker = y == NMNIST_OVERFLOW_Y
    t = t + NMNIST_OVERFLOW_US * np.cumsum(marker)
    x, y, p, t = x[~marker], y[~marker], p[~marker], t[~marker]
    bad = np.nonzero((x >= width) | (y >= height))[0]
    if bad.size:
        i = int(bad[0])
        raise DatasetError(f"{path}: event {i}: address x={x[i]}, y={y[i]} is outside the {width}x{height} sensor (not NMNIST?)")
    return {"x": x, "y": y, "p": p, "t_us": t}


@njit(cache=True)
def _denoise_keep(
    x: np.ndarray, y: np.ndarray, t: np.ndarray, width: int, height: int, filter_us: float
) -> np.ndarray:  # pragma: no cover - numba
    keep = np.zeros(x.shape[0], np.bool_)
    memory = np.full((width, height), filter_us)  # tonic initialises the memory to filter_time
    for i in range(x.shape[0]):
        xi, yi, ti = x[i], y[i], t[i]
        memory[xi, yi] = ti + filter_us
        keep[i] = (
            (xi > 0 and memory[xi - 1, yi] > ti)
            or (xi < width - 1 and memory[xi + 1, yi] > ti)
            or (yi > 0 and memory[xi, yi - 1] > ti)
            or (yi < height - 1 and memory[xi, yi + 1] > ti)
        )
    return keep


def denoise_events(
    x: np.ndarray, y: np.ndarray, t_us: np.ndarray, *, width: int, height: int, filter_us: float = NMNIST_DENOISE_US
) -> np.ndarray:
    """Which events (in time order) survive the denoise filter: a 4-neighbour fired within ``filter_us`` before.

    The memory starts at ``filter_us`` (as tonic's), so events of the first ``filter_us`` pass.

    >>> denoise_events(np.array([3, 4, 9]), np.array([3, 3, 9]), np.array([20000, 25000, 40000]), width=10, height=10).tolist()
    [False, True, False]
    """
    order = np.argsort(t_us, kind="stable")
    keep = np.zeros(t_us.size, bool)
    keep[order] = _denoise_keep(
        np.asarray(x, np.int64)[order],
        np.asarray(y, np.int64)[order],
        np.asarray(t_us, np.float64)[order],
        width,
        height,
        float(filter_us),
    )
    return keep


def sensor_events_to_ids(
    x: np.ndarray,
    y: np.ndarray,
    p: np.ndarray,
    t_us: np.ndarray,
    *,
    width: int,
    height: int,
    n_timesteps: int,
    sparse_size: int,
    bin_us: float,
    rng: np.random.Generator,
    denoise_us: float | None = None,
    downsample_to: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One sample's sensor events as ``[T, S_in]`` ids and ``[T]`` counts: denoised (``denoise_us``), mapped onto an
    ``n x n`` grid (``downsample_to``), addressed ``(p * height + y) * width + x`` and binned (:func:`bin_events`)."""
    if denoise_us is not None:
        keep = denoise_events(x, y, t_us, width=width, height=height, filter_us=denoise_us)
        x, y, p, t_us = x[keep], y[keep], p[keep], t_us[keep]
    w, h = width, height
    if downsample_to is not None:
        x, y, w, h = (x * downsample_to) // width, (y * downsample_to) // height, downsample_to, downsample_to
    return bin_events(t_us, (p * h + y) * w + x, n_timesteps=n_timesteps, sparse_size=sparse_size, bin_us=bin_us, rng=rng)


def load_nmnist(
    paths: Sequence[str | os.PathLike[str]],
    *,
    n_timesteps: int,
    sparse_size: int,
    bin_us: float = 1000.0,
    width: int = 34,
    height: int = 34,
    seed: int = 0,
    denoise_us: float | None = None,
    downsample_to: int | None = None,
) -> SpikeBatch:
    """Load NMNIST sample files as one batch (``B = len(paths)``).

    ``denoise_us`` applies :func:`denoise_events`; ``downsample_to`` maps the sensor to a
    ``downsample_to x downsample_to`` grid (``floor(x n / width)``), both as the authors'
    scripts do (24: ``24 x 24 x 2 = 1152`` addresses). The label of a sample is its parent
    folder's name when that is a number (the dataset's ``Train/<digit>/<n>.bin`` layout),
    else -1.

    Raises
    ------
    DatasetError
        As :func:`read_nmnist_events`; also for an empty ``paths``.
    """
    if len(paths) == 0:
        raise DatasetError("paths: no NMNIST files given")
    rng = np.random.default_rng(seed)
    ids = np.zeros((n_timesteps, len(paths), sparse_size), dtype=np.int32)
    counts = np.zeros((n_timesteps, len(paths)), dtype=np.int32)
    labels = np.full(len(paths), -1, dtype=np.int64)
    for b, path in enumerate(paths):
        ev = read_nmnist_events(path, width=width, height=height)
        ids[:, b], counts[:, b] = sensor_events_to_ids(
            ev["x"], ev["y"], ev["p"], ev["t_us"], width=width, height=height, n_timesteps=n_timesteps, sparse_size=sparse_size,
            bin_us=bin_us, rng=rng, denoise_us=denoise_us, downsample_to=downsample_to,
        )  # fmt: skip
        parent = Path(path).parent.name
        if parent.isdigit():
            labels[b] = int(parent)
    return SpikeBatch(ids, counts, labels)


def load_input_batch(spec: SNNSpec, path: str | os.PathLike[str], *, seed: int = 0, bin_us: float = 1000.0) -> SpikeBatch:
    """The first ``B`` samples of a dataset a user holds, in ``spec``'s input format.

    ``path`` is an SHD HDF5 file (``.h5``/``.hdf5``), a folder of NMNIST ``.bin`` files
    (searched recursively, sorted by path; labels from the digit folders), or a folder (or a
    single file, for B = 1) of tonic-style event arrays, ``.npy`` / ``.npz``
    (:func:`mimdsim.snn.reference.events.events_batch`; the sensor size from the files). Events are
    binned into ``spec.n_timesteps`` bins of ``bin_us`` and capped at
    ``spec.input_sparse_size`` ids per bin (:func:`bin_events`). NMNIST is denoised and
    downsampled to 24 x 24 x 2 as the authors' scripts do when the model's
    ``input_addresses`` is 1152.

    Raises
    ------
    DatasetError
        Missing path, unknown format, fewer than ``B`` samples, or ids that do not fit
        ``spec.n_inputs`` (e.g. 34x34x2 NMNIST for a 24x24x2 model).
    """
    from mimdsim.snn.reference.shd import SHD_UNITS, load_shd  # the SHD reader builds on this module's batches

    p = Path(path)
    common: dict[str, Any] = {
        "n_timesteps": spec.n_timesteps,
        "sparse_size": spec.input_sparse_size,
        "bin_us": bin_us,
        "seed": seed,
    }
    B = spec.batch_size
    if not p.exists():
        raise DatasetError(f"{p}: not found (give an SHD .h5 file, a folder of NMNIST .bin files or of .npy/.npz event arrays)")
    event_files = sorted(f for f in p.rglob("*") if f.suffix.lower() in (".npy", ".npz")) if p.is_dir() else [p]
    if (p.is_dir() and not any(p.rglob("*.bin")) and event_files) or p.suffix.lower() in (".npy", ".npz"):
        from mimdsim.snn.reference.events import events_batch

        batch = events_batch(
            event_files, batch_size=B, n_timesteps=spec.n_timesteps, sparse_size=spec.input_sparse_size, bin_us=bin_us, seed=seed
        )
        n_in = int(batch.ids.max(initial=0)) + 1
    elif p.is_dir():
        files = sorted(p.rglob("*.bin"))
        if len(files) < B:
            raise DatasetError(f"{p}: {len(files)} NMNIST .bin files found, the batch needs {B}")
        scripts = spec.input_addresses == 2 * NMNIST_SCRIPT_SIZE**2
        prep: dict[str, Any] = {"denoise_us": NMNIST_DENOISE_US, "downsample_to": NMNIST_SCRIPT_SIZE} if scripts else {}
        batch = load_nmnist(files[:B], **common, **prep)
        n_in = 2 * NMNIST_SCRIPT_SIZE**2 if scripts else 34 * 34 * 2
    elif p.suffix.lower() in (".h5", ".hdf5"):
        batch = load_shd(p, indices=list(range(B)), **common)
        n_in = SHD_UNITS
    else:
        raise DatasetError(
            f"{p}: unknown dataset format (allowed: an SHD .h5/.hdf5 file, a folder of NMNIST .bin files, .npy/.npz event arrays)"
        )
    top = int(batch.ids.max(initial=-1, where=np.arange(spec.input_sparse_size)[None, None, :] < batch.counts[:, :, None]))
    if top >= spec.input_addresses:
        raise DatasetError(
            f"{p}: input ids reach {top} ({n_in} inputs in this dataset's format), but the model's input has "
            f"{spec.input_addresses} addresses (n_inputs / n_input_addresses)"
        )
    return batch


def __getattr__(name: str) -> Any:
    """``load_shd`` and ``SHD_UNITS`` as before they moved to :mod:`mimdsim.snn.reference.shd` (imported on use: that
    module builds on this one)."""
    if name in ("load_shd", "SHD_UNITS"):
        from mimdsim.snn.reference import shd

        return getattr(shd, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
