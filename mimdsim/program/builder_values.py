"""The argument checks the program builders share: integer arrays, non-negative values, one value or one per tile,
placements of bytes on tiles; each raises :class:`~mimdsim.errors.ProgramError` naming the call. And
:func:`one_or_each`, the unchecked "one value or one per item" of the vectorised forms."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mimdsim.errors import ProgramError
from mimdsim.program.ir import Tensor

__all__ = ["Placement", "int_array", "non_negative", "one_or_each", "per_tile", "placement_arrays", "short"]


def one_or_each(values: Any, shape: tuple[int, ...]) -> np.ndarray:
    """``values`` (one integer, or an array that broadcasts to ``shape``) as int64 of ``shape``, unchecked: the array
    itself when it has that shape, a new array for one value (``np.broadcast_to`` takes about 3 µs a call, ``np.full``
    1), else a read-only broadcast view.

    >>> one_or_each(3, (2,)).tolist(), one_or_each([4, 5], (2,)).tolist()
    ([3, 3], [4, 5])
    """
    arr = np.asarray(values, np.int64)
    if arr.shape == shape:
        return arr
    return np.full(shape, arr) if arr.ndim == 0 else np.broadcast_to(arr, shape)


Placement = Mapping[int, int] | tuple[Any, Any] | Tensor
"""Bytes per tile: ``{tile: nbytes}``, ``(tiles, nbytes)`` with ``nbytes`` one int or one
per tile, or a :class:`Tensor` (its tiles and bytes)."""


def int_array(where: str, what: str, values: object) -> np.ndarray:
    """``values`` (an int, a range or a sequence/array of ints) as a 1-D int64 array."""
    if isinstance(values, range):
        return np.arange(values.start, values.stop, values.step, dtype=np.int64)
    arr = np.asarray(values)
    if arr.dtype == bool or (arr.size and arr.dtype.kind not in "iu"):
        raise ProgramError(f"{where}: {what} must be integers (got {short(values)})")
    return arr.astype(np.int64, copy=False).reshape(-1)


def short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def non_negative(where: str, what: str, arr: np.ndarray) -> None:
    if arr.size and arr.min() < 0:
        raise ProgramError(f"{where}: {what} {int(arr.min())} is negative (must be >= 0)")


def placement_arrays(where: str, placement: Placement) -> tuple[np.ndarray, np.ndarray]:
    """Tiles and bytes per tile of a placement (see :data:`Placement`)."""
    if isinstance(placement, Tensor):
        return placement.tiles, placement.nbytes
    if isinstance(placement, Mapping):
        tiles = int_array(where, "tiles", list(placement.keys()))
        nbytes = int_array(where, "nbytes", list(placement.values()))
    elif isinstance(placement, tuple) and len(placement) == 2:
        tiles = int_array(where, "tiles", placement[0])
        nbytes = int_array(where, "nbytes", placement[1])
        if nbytes.size == 1 and tiles.size != 1:
            nbytes = np.full(tiles.shape, nbytes[0], np.int64)
    else:
        raise ProgramError(f"{where}: placement must be {{tile: nbytes}}, (tiles, nbytes) or a Tensor (got {short(placement)})")
    if tiles.size != nbytes.size:
        raise ProgramError(f"{where}: {tiles.size} tiles but {nbytes.size} byte counts")
    non_negative(where, "tile", tiles)
    non_negative(where, "byte count", nbytes)
    return tiles, nbytes


def per_tile(where: str, what: str, value: object, n_tiles: int) -> np.ndarray:
    arr = int_array(where, what, value)
    if arr.size == 1:
        arr = np.full(n_tiles, arr[0], np.int64)
    elif arr.size != n_tiles:
        raise ProgramError(f"{where}: {what} has {arr.size} values for {n_tiles} tiles (give one, or one per tile)")
    non_negative(where, what, arr)
    return arr
