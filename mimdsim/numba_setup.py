"""Numba's start-up in mimdsim's own processes (the console script, the sweep's worker fork server).

The first kernel a process loads makes Numba initialise its CPU target, which imports
``numba.np.arraymath``; that module checks once whether Numba can call BLAS
(``numba/np/arraymath.py:_check_blas`` -> ``numba/np/linalg.py:ensure_blas``) by importing
``scipy.linalg.cython_blas``, and importing ``scipy.linalg`` takes about 0.2 s (measured:
0.205-0.220 s on the 2-vCPU VM of docs/performance.md, numpy 2.4, SciPy 1.17), whenever SciPy
is installed (mimdsim's ``partition`` and ``test`` extras install it). No mimdsim kernel uses
linear algebra (``np.dot``, ``np.linalg``: only numpy code outside the kernels does), so in a
process whose compiled code is mimdsim's alone :func:`skip_blas_probe` imports
``numba.np.arraymath`` with ``scipy.linalg`` out of reach: Numba records "no BLAS", the path it
takes when SciPy is not installed, and the process starts about 0.1 s sooner (docs/performance.md).

It is *not* called by the API (:func:`mimdsim.snn.estimate_training_step` and the rest): a
user's process may hold numba code of its own that needs BLAS.
"""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

__all__ = ["skip_blas_probe"]

_BLOCKED = "scipy.linalg"


class _NoScipyLinalg(importlib.abc.MetaPathFinder):
    """Refuses ``scipy.linalg`` and its submodules (what Numba's BLAS check imports)."""

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname == _BLOCKED or fullname.startswith(_BLOCKED + "."):
            raise ImportError(f"{fullname}: not imported by mimdsim's process start-up (mimdsim.numba_setup)")
        return None


def skip_blas_probe() -> bool:
    """Import ``numba.np.arraymath`` without ``scipy.linalg`` (see the module docstring); True if it did.

    Does nothing (False) when ``numba.np.arraymath`` is imported already (Numba's check has
    run) or ``scipy.linalg`` is (the import is paid for anyway), or when this Numba has no
    such module.
    """
    if "numba.np.arraymath" in sys.modules or _BLOCKED in sys.modules:
        return False
    finder = _NoScipyLinalg()
    sys.meta_path.insert(0, finder)
    try:
        import numba.np.arraymath  # noqa: F401
    except ImportError:
        return False
    finally:
        sys.meta_path.remove(finder)
    return True
