"""Read-only arrays for the immutable program IR."""

from __future__ import annotations

import numpy as np

__all__ = ["frozen_array"]


def frozen_array(values: object, dtype: type) -> np.ndarray:
    """A contiguous, read-only array of ``values`` with ``dtype``.

    An array that is already read-only, contiguous and of that dtype is reused, so blocks
    can share one tiles array; anything else is copied, so callers' arrays stay theirs.
    """
    if isinstance(values, np.ndarray) and values.dtype == dtype and not values.flags.writeable and values.flags.c_contiguous:
        return values
    arr: np.ndarray = np.array(values, dtype=dtype)
    arr.flags.writeable = False
    return arr
