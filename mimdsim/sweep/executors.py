"""Executors of a sweep: serial, a process pool (fork server / spawn, one Numba thread per
worker), any ``concurrent.futures.Executor``, and Dask (:func:`dask_executor`).

Numba's ``omp`` threading layer is not fork-safe (a forked child that runs a parallel
kernel is killed; numba's documentation on threading layers), so pool workers come from a
fork server that imported the pipeline (:mod:`mimdsim._worker_warmup`) or are spawned, and
each sets ``numba.set_num_threads(1)`` so that N workers do not oversubscribe N cores.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from typing import Any, TypeVar

from mimdsim.errors import ConfigError
from mimdsim.gc_policy import relaxed_gc

__all__ = ["relaxed_gc", "run_sweep", "iter_sweep", "local_executor"]

R = TypeVar("R")


def _init_worker() -> None:
    """Initializer of every pool worker: one Numba thread per process, :func:`relaxed_gc`."""
    relaxed_gc()
    try:
        import numba

        numba.set_num_threads(1)
    except ImportError:  # pragma: no cover - numba is a dependency
        pass


def _pool_context() -> multiprocessing.context.BaseContext:
    """Workers forked from a fork server that imported the pipeline and loaded its kernels
    (:mod:`mimdsim._worker_warmup`), so none of them pays for imports or kernel loading;
    spawn where there is no fork server (Windows, macOS defaults aside)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["mimdsim._worker_warmup"])
    return ctx


def _describe(point: object, limit: int = 200) -> str:
    text = repr(point)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def local_executor(processes: int, n_points: int) -> ProcessPoolExecutor:
    """A pool of ``min(processes, n_points)`` warm workers with one Numba thread each (the caller shuts it down)."""
    return ProcessPoolExecutor(max_workers=max(1, min(processes, n_points)), mp_context=_pool_context(), initializer=_init_worker)


def _check_processes(processes: int | None) -> int:
    if processes is None:
        return os.cpu_count() or 1
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
        raise ConfigError(f"sweep: processes must be a positive integer or None (got {processes!r})")
    return processes


def iter_sweep(
    points: Iterable[Any], fn: Callable[[Any], R], *, processes: int | None = 1, executor: Executor | None = None
) -> Iterator[tuple[int, R]]:
    """``(index, fn(point))`` for every point, in completion order (a store appends each as it comes).

    ``processes`` and ``executor`` as in :func:`run_sweep`. An exception of ``fn`` propagates
    with a note naming the point; the points not yet started are cancelled.
    """
    pts = list(points)
    n = len(pts)
    procs = _check_processes(processes)
    if executor is None and (procs == 1 or n <= 1):
        for i, p in enumerate(pts):
            try:
                r = fn(p)
            except Exception as err:
                err.add_note(f"in sweep point {i}: {_describe(p)}")
                raise
            yield i, r
        return
    if executor is not None:
        yield from _completed(executor, pts, fn)
        return
    with local_executor(procs, n) as pool:
        yield from _completed(pool, pts, fn)


def _completed(ex: Executor, pts: list[Any], fn: Callable[[Any], R]) -> Iterator[tuple[int, R]]:
    futures: dict[Future[R], int] = {ex.submit(fn, p): i for i, p in enumerate(pts)}
    try:
        for fut in as_completed(futures):
            i = futures[fut]
            try:
                r = fut.result()
            except Exception as err:
                err.add_note(f"in sweep point {i}: {_describe(pts[i])}")
                raise
            yield i, r
    finally:  # an error, or the caller stopped early: nothing more is started
        for other in futures:
            other.cancel()


def run_sweep(
    points: Iterable[Any],
    fn: Callable[[Any], R],
    *,
    processes: int | None = 1,
    executor: Executor | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[R]:
    """``[fn(p) for p in points]``, possibly in parallel; results in input order.

    Parameters
    ----------
    points
        The sweep points (for :func:`~mimdsim.sweep.snn_sweep`: dicts); each must be
        picklable when run in other processes.
    fn
        A module-level (picklable) function of one point, with picklable results.
    processes
        ``1``: run here, serially, with no pool. ``N > 1``: a pool of ``min(N, len(points))``
        warm workers, each with one Numba thread. ``None``: ``os.cpu_count()``.
    executor
        Use this executor instead (``processes`` is then ignored; it is not shut down): any
        ``concurrent.futures.Executor``, e.g. :func:`dask_executor`'s.
    progress
        Called as ``progress(done, total)`` after every finished point.

    Raises
    ------
    ConfigError
        ``processes`` is not a positive integer or ``None``.
    Exception
        The first exception a point raised (in completion order), with a note naming the
        point; the points not yet started are cancelled.
    """
    pts = list(points)
    results: list[Any] = [None] * len(pts)
    for done, (i, r) in enumerate(iter_sweep(pts, fn, processes=processes, executor=executor), start=1):
        results[i] = r
        if progress is not None:
            progress(done, len(pts))
    return results
