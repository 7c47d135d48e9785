"""Imported by the fork server of :func:`mimdsim.sweep.run_sweep`: the simulation pipeline
imported and its compiled kernels loaded once, so that every worker forked from the server
starts warm (no imports, no kernel loading per worker)."""

from __future__ import annotations


def warm_up() -> None:
    """Run a tiny SNN estimate (a few tiles): every kernel of the default path is then loaded (Numba started
    without its BLAS probe, :func:`mimdsim.numba_setup.skip_blas_probe`: the server runs mimdsim's kernels only)."""
    from mimdsim.numba_setup import skip_blas_probe

    skip_blas_probe()
    from mimdsim.arch import load_machine
    from mimdsim.snn.model.spec import snn_from_sizes
    from mimdsim.studies.estimate import estimate_training_step

    spec = snn_from_sizes([16, 6, 2], max_activity=0.5, input_sparse_size=4, batch_size=6, n_timesteps=2, name="warm-up")
    estimate_training_step(spec, load_machine("bow", tiles_per_ipu=16), cache=False)


warm_up()
