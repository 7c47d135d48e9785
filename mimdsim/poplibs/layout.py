"""Tile layouts as Poplar and PopLibs make them: which tile holds each element of a tensor.

A layout is an int64 array ``tile_of[element]`` over a tensor's flattened elements
(row-major). The rules are re-derived from PopLibs ``sdk-release-2.6`` (commit
``d29b6c10``, files under ``lib/``); no code is copied.

* :func:`sliceable_layout` -- ``popops::createSliceableTensor`` for slicing dimension 0
  with slice size 1 (``popops/DynamicSlice.cpp``, ``createSliceableTensorGivenOrder``
  1604-1715 and ``createSliceableTensor`` 1832-1859): the tensor is viewed as
  ``[T, C]``; each tile gets ``c = ceil(C / n)`` whole columns (all ``T`` rows of them,
  one contiguous block); partition ``i`` goes to virtual tile ``(s0 + i) mod n`` of the
  ``n`` tiles, ``s0 = unplannedHash(shape, {0}, {1}) mod n`` (``unplannedHash``, 110-120).
  The hash depends on the shape only, so tensors of one shape land on the same tiles.
* :func:`linear_layout` -- ``poputil::mapTensorLinearly`` (``poputil/TileMapping.cpp``
  80-115 and ``splitRegions``): consecutive elements, at least ``min_elements`` (128 bytes
  by default) and a multiple of ``grain`` (the vector width) per tile, from tile
  ``offset`` on.
* :func:`unplanned_hash` -- ``boost::hash_range`` over shape, dims and sizes from the seed
  ``0x9e3779b9``, with Boost 1.70's 64-bit ``hash_combine`` (the version the
  ``sdk-release-2.6`` README requires).

Examples
--------
The paper's input ids ``[T, B, S_in] = [100, 48, 32]`` on the 1471 tiles ``1..1471`` of
IPU 0 (GSNN PC `createSliceableTensor` layouts: tiles 518-1285, 2 columns each):

>>> tiles = np.arange(1, 1472)
>>> lay = sliceable_layout((100, 48, 32), tiles)
>>> int(lay.min()), int(lay.max()), int(np.unique(lay).size)
(518, 1285, 768)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["unplanned_hash", "sliceable_layout", "sliceable_columns", "linear_layout", "DEFAULT_MIN_BYTES_PER_TILE"]

_M64 = (1 << 64) - 1
DEFAULT_MIN_BYTES_PER_TILE = 128
"""``mapTensorLinearly``'s default: at least 128 bytes per tile (``poputil/TileMapping.cpp``)."""


def _hash_combine(h: int, k: int) -> int:
    """Boost 1.70 ``hash_combine_impl`` for 64-bit ``size_t`` (a MurmurHash2 step)."""
    m = 0xC6A4A7935BD1E995
    k = (k * m) & _M64
    k ^= k >> 47
    k = (k * m) & _M64
    h ^= k
    h = (h * m) & _M64
    return (h + 0xE6546B64) & _M64


def unplanned_hash(shape: Sequence[int], dims: Sequence[int] = (0,), sizes: Sequence[int] = (1,)) -> int:
    """PopLibs' ``unplannedHash``: the start tile of a sliceable tensor, before ``mod n``.

    >>> unplanned_hash((100, 48, 14)) % 1471   # GSNN PC `createSliceableTensor` layouts: physical tile 194
    193
    """
    h = 0x9E3779B9
    for seq in (shape, dims, sizes):
        for v in seq:
            h = _hash_combine(h, int(v))
    return h


def sliceable_columns(shape: Sequence[int], tiles: np.ndarray) -> np.ndarray:
    """Tile of each column ``[C]`` of a sliceable ``[T, ...]`` tensor (every row is the same)."""
    tiles = np.asarray(tiles, np.int64)
    n = tiles.size
    cols = int(np.prod(shape[1:], dtype=np.int64))
    per = -(-cols // n)
    s0 = unplanned_hash(shape) % n
    part = np.arange(cols, dtype=np.int64) // per
    return tiles[(s0 + part) % n]


def sliceable_layout(shape: Sequence[int], tiles: np.ndarray) -> np.ndarray:
    """Tile of every element of ``popops::createSliceableTensor(shape, dims {0}, sizes {1})``."""
    return np.tile(sliceable_columns(shape, tiles), int(shape[0]))


def linear_layout(
    n_elements: int,
    tiles: np.ndarray,
    *,
    element_bytes: int = 4,
    grain: int | None = None,
    min_elements: int | None = None,
    offset: int = 0,
) -> np.ndarray:
    """Tile of every element of ``poputil::mapTensorLinearly`` over ``tiles`` from ``tiles[offset]``.

    ``grain`` defaults to the vector width (8 bytes of data path: 2 for 4-byte elements)
    and ``min_elements`` to :data:`DEFAULT_MIN_BYTES_PER_TILE` worth of elements; each
    tile then holds ``max(ceil(ceil(n / grain) / n_tiles) x grain, min_elements rounded up
    to grain)`` consecutive elements.

    >>> lay = linear_layout(48 * 14, np.arange(1, 1472))   # GSNN PC (per-step buffers): 21 tiles x 32
    >>> np.unique(lay, return_counts=True)[1].tolist() == [32] * 21, int(lay[0])
    (True, 1)
    """
    tiles = np.asarray(tiles, np.int64)
    if grain is None:
        grain = max(8 // element_bytes, 1)
    if min_elements is None:
        min_elements = -(-DEFAULT_MIN_BYTES_PER_TILE // element_bytes)
    groups = -(-n_elements // grain)
    per_groups = max(-(-groups // tiles.size), -(-min_elements // grain))
    per = per_groups * grain
    part = np.arange(n_elements, dtype=np.int64) // per
    return tiles[(offset + part) % tiles.size]
