"""mimdsim.numba_setup: Numba started without its BLAS probe, in a fresh interpreter each (sys.modules matters)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap

import pytest


def _fresh(code: str) -> str:
    """Run ``code`` in a new interpreter (the test process has Numba started already); its stdout."""
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_kernels_run_without_scipy_linalg_and_it_stays_importable() -> None:
    out = _fresh(
        """
        import importlib.util, sys
        import numpy as np
        from mimdsim.numba_setup import skip_blas_probe
        from mimdsim.program.unique import unique_ints
        first, again = skip_blas_probe(), skip_blas_probe()
        values, counts = unique_ints(np.array([5, 1, 5, 3]), return_counts=True)
        loaded = "scipy.linalg" in sys.modules
        importable = importlib.util.find_spec("scipy") is None or __import__("scipy.linalg") is not None
        print(first, again, values.tolist(), counts.tolist(), loaded, importable)
        """
    )
    assert out == "True False [1, 3, 5] [1, 1, 2] False True"


def test_nothing_to_do_once_numba_has_checked() -> None:
    out = _fresh(
        """
        import numba.np.arraymath
        from mimdsim.numba_setup import skip_blas_probe
        print(skip_blas_probe())
        """
    )
    assert out == "False"


@pytest.mark.skipif(importlib.util.find_spec("scipy") is None, reason="SciPy not installed")
def test_nothing_to_do_once_scipy_linalg_is_imported() -> None:
    out = _fresh(
        """
        import sys
        import scipy.linalg
        from mimdsim.numba_setup import skip_blas_probe
        print(skip_blas_probe(), "numba.np.arraymath" in sys.modules)
        """
    )
    assert out == "False False"


def test_the_same_estimate_as_a_process_that_probes() -> None:
    """A kernel-heavy estimate is the same with and without the probe (no mimdsim kernel uses BLAS)."""
    code = """
        {setup}
        from mimdsim.arch import load_machine
        from mimdsim.snn.model.spec import snn_from_sizes
        from mimdsim.studies.estimate import estimate_training_step
        spec = snn_from_sizes([40, 12, 4], max_activity=0.3, input_sparse_size=8, batch_size=6, n_timesteps=3)
        est = estimate_training_step(spec, load_machine("bow", tiles_per_ipu=32), cache=False)
        print(est.cycles_per_step)
        """
    probed = _fresh(code.format(setup="import numba.np.arraymath"))
    skipped = _fresh(code.format(setup="from mimdsim.numba_setup import skip_blas_probe; assert skip_blas_probe()"))
    assert probed == skipped and int(skipped) > 0
