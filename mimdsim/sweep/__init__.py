"""Parameter sweeps: design points, executors, the SNN estimate per point, specs, a store that resumes.

* :func:`expand_grid` turns a base configuration and axes into points (first axis slowest).
* :func:`run_sweep` / :func:`iter_sweep` call a picklable ``fn(point)`` on every point,
  serially, on a local pool of warm workers (one Numba thread each), or on any
  ``concurrent.futures.Executor`` -- :func:`dask_executor` gives one on a Dask cluster.
* :func:`snn_point` estimates one SNN training step and returns its
  :class:`~mimdsim.studies.record.SNNRecord` as a dict; :func:`snn_sweep` runs models x
  activities (the paper's family (a) by default).
* :mod:`mimdsim.sweep.spec`: sweep specs (TOML, ``models/sweeps/``) with grid, zip, list and
  random axes over any machine field, network field or run option; :func:`run_spec` runs
  one into a :class:`ResultStore` (JSON lines, appended as points finish, resumed by input
  hash) and returns a pandas DataFrame.

Compiled Numba kernels are cached on disk (``cache=True``); set ``NUMBA_CACHE_DIR`` (the
Makefile does) so that workers reuse them.

Examples
--------
>>> expand_grid({"engine": "fast"}, {"model": ["a", "b"], "max_activity": [0.01, 0.1]})[:2]
[{'engine': 'fast', 'model': 'a', 'max_activity': 0.01}, {'engine': 'fast', 'model': 'a', 'max_activity': 0.1}]
>>> run_sweep([{"x": 1}, {"x": 2}], len)
[1, 1]
"""

from __future__ import annotations

from mimdsim.sweep.dask import dask_executor
from mimdsim.sweep.executors import iter_sweep, local_executor, relaxed_gc, run_sweep
from mimdsim.sweep.frame import export_results, records_frame, store_frame
from mimdsim.sweep.grid import expand_grid
from mimdsim.sweep.run import SweepRun, run_spec, spec_records
from mimdsim.sweep.snn import (
    PAPER_FAMILY_A_ACTIVITIES,
    PAPER_FAMILY_A_MODELS,
    POINT_KEYS,
    prepare_point,
    resolve_snn_model,
    snn_point,
    snn_points,
    snn_sweep,
)
from mimdsim.sweep.spec import SweepSpec, SweepSpecFile, load_sweep_spec
from mimdsim.sweep.store import ResultStore, read_store

__all__ = [
    "PAPER_FAMILY_A_MODELS", "PAPER_FAMILY_A_ACTIVITIES", "POINT_KEYS", "expand_grid", "run_sweep", "iter_sweep",
    "local_executor", "relaxed_gc", "dask_executor", "resolve_snn_model", "prepare_point", "snn_points", "snn_point",
    "snn_sweep", "SweepSpec", "SweepSpecFile", "load_sweep_spec", "run_spec", "spec_records", "SweepRun", "ResultStore", "read_store",
    "records_frame", "store_frame", "export_results",
]  # fmt: skip
