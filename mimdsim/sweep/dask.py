"""Dask distributed as the executor of a sweep: a running cluster, or a LocalCluster of processes.

``dask_executor("tcp://HOST:8786")`` connects to a scheduler started elsewhere
(``dask scheduler`` on one machine, ``dask worker tcp://HOST:8786 --nthreads 1`` on each of the
others, all with mimdsim installed); ``dask_executor(local_workers=N)`` starts N worker
processes here. Either yields a ``concurrent.futures.Executor`` (``Client.get_executor()``)
that :func:`mimdsim.sweep.run_sweep` and :func:`mimdsim.sweep.run_spec` take. Every worker
gets one Numba thread and the relaxed garbage collector of the local pool.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from typing import Any

from mimdsim.errors import ConfigError

__all__ = ["dask_executor"]

_EXTRA = "pip install 'mimdsim[dask]' (the distributed package)"


@contextmanager
def dask_executor(
    scheduler: str | None = None, *, local_workers: int | None = None, timeout_s: float = 10.0
) -> Iterator[Executor]:
    """An executor on a Dask cluster (closed, with the LocalCluster it started, on exit).

    Raises
    ------
    ConfigError
        Neither or both of ``scheduler`` and ``local_workers``; ``local_workers`` < 1;
        ``distributed`` not installed; the scheduler cannot be reached within ``timeout_s``.
    """
    if (scheduler is None) == (local_workers is None):
        raise ConfigError("dask: give a scheduler address or a number of local workers (one of them)")
    if local_workers is not None and (isinstance(local_workers, bool) or not isinstance(local_workers, int) or local_workers < 1):
        raise ConfigError(f"dask: local workers must be a positive integer (got {local_workers!r})")
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError(f"dask: the distributed package is not installed: {_EXTRA}") from None
    cluster: Any = None
    try:
        if local_workers is not None:
            cluster = LocalCluster(n_workers=local_workers, threads_per_worker=1, processes=True, dashboard_address=None)
            client = Client(cluster)
        else:
            client = Client(scheduler, timeout=timeout_s)
    except (OSError, TimeoutError, ValueError) as err:
        if cluster is not None:
            cluster.close()
        where = f"scheduler {scheduler}" if scheduler else "LocalCluster"
        raise ConfigError(f"dask: cannot reach the {where} ({type(err).__name__}: {err})") from None
    try:
        from mimdsim.sweep.executors import _init_worker

        client.run(_init_worker)
        yield client.get_executor()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
