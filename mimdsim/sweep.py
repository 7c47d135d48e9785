"""Parameter sweeps: grids of points, a process-pool executor, and the SNN estimate sweep.

* :func:`expand_grid` turns a base configuration and a few axes into the list of points
  (the cartesian product, first axis slowest).
* :func:`run_sweep` calls a picklable ``fn(point)`` on every point, serially or on a
  :class:`~concurrent.futures.ProcessPoolExecutor` started with the **spawn** method
  (Numba's ``omp`` threading layer is not fork-safe: a forked child that runs a parallel
  kernel is killed; numba's documentation on threading layers and fork safety). Each worker sets
  ``numba.set_num_threads(1)`` so that N workers do not oversubscribe N cores. Results come
  back in input order. Any ``concurrent.futures.Executor`` (dask's ``Client.get_executor()``,
  ``mpi4py.futures.MPIPoolExecutor``) can be passed instead.
* :func:`snn_sweep` runs :func:`~mimdsim.snn.estimate.estimate_training_step` over SNN
  models x maximum activities and returns one flat, picklable dict per point
  (:func:`snn_point`); :mod:`mimdsim.report.tables` and :mod:`mimdsim.report.plots` format
  them.

Compiled Numba kernels are cached on disk (``cache=True``); set ``NUMBA_CACHE_DIR`` (the
Makefile does) so that spawned workers reuse them instead of compiling again.

Examples
--------
>>> expand_grid({"engine": "fast"}, {"model": ["a", "b"], "activity": [0.01, 0.1]})[:2]
[{'engine': 'fast', 'model': 'a', 'activity': 0.01}, {'engine': 'fast', 'model': 'a', 'activity': 0.1}]
>>> run_sweep([{"x": 1}, {"x": 2}], len)
[1, 1]
"""

from __future__ import annotations

import gc
import itertools
import multiprocessing
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, TypeVar

from mimdsim.errors import ConfigError, MimdsimError

__all__ = [
    "PAPER_FAMILY_A_MODELS",
    "PAPER_FAMILY_A_ACTIVITIES",
    "expand_grid",
    "run_sweep",
    "resolve_snn_model",
    "snn_points",
    "snn_point",
    "snn_sweep",
]

R = TypeVar("R")

PAPER_FAMILY_A_MODELS: tuple[str, ...] = ("nmnist_a_2hidden", "nmnist_a_3hidden", "nmnist_a_4hidden", "nmnist_a_5hidden")
"""The paper's family (a) ("multi_layer" mode, GSNN runfiles and BS @ 3e05811 (benchmark configurations)): 2-5 hidden layers, about 2942 hidden neurons."""

PAPER_FAMILY_A_ACTIVITIES: tuple[float, ...] = (0.005, 0.01, 0.02, 0.05, 0.1)
"""Maximum activities of the comparison with the paper's band (a subset of its sweep
{0.005, 0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5}: the 1-10 % of the 5-10x claim plus the sparsest)."""


# ---------------------------------------------------------------------------
# generic sweeps
# ---------------------------------------------------------------------------
def expand_grid(base: Mapping[str, Any], axes: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the ``axes`` values on top of ``base`` (first axis slowest).

    Axis values replace ``base`` values of the same key. No axes gives ``[dict(base)]``.

    Raises
    ------
    ConfigError
        An axis is not a list/tuple of values, or is empty.

    >>> expand_grid({"a": 0}, {"a": [1, 2], "b": ["x"]})
    [{'a': 1, 'b': 'x'}, {'a': 2, 'b': 'x'}]
    """
    names = list(axes)
    values: list[list[Any]] = []
    for name in names:
        vals = axes[name]
        if isinstance(vals, (str, bytes)) or not isinstance(vals, Iterable):
            raise ConfigError(f"sweep axis {name!r}: expected a list of values (got {vals!r})")
        vals = list(vals)
        if not vals:
            raise ConfigError(f"sweep axis {name!r}: no values")
        values.append(vals)
    return [{**base, **dict(zip(names, combo, strict=True))} for combo in itertools.product(*values)]


def relaxed_gc() -> None:
    """Collect cyclic garbage after 100,000 net allocations instead of 700 (and the older
    generations less often): a simulation allocates many short-lived, acyclic objects
    (arrays, small records) that reference counting frees, and the default thresholds
    spent a fifth of a short ``mimdsim snn`` call walking them. Peak memory stays the
    same (measured on the 64-IPU case of docs/performance.md)."""
    gc.set_threshold(100_000, 50, 100)


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
        The sweep points (for :func:`snn_sweep`: dicts); each must be picklable when run in
        other processes.
    fn
        A module-level (picklable) function of one point. Its results must be picklable
        (plain dicts of numbers, strings and lists are best).
    processes
        ``1``: run here, serially, with no pool. ``N > 1``: a spawn-started
        ``ProcessPoolExecutor`` of ``min(N, len(points))`` workers, each with one Numba
        thread. ``None``: ``os.cpu_count()``.
    executor
        Use this executor instead (``processes`` is then ignored; it is not shut down).
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
    n = len(pts)
    if processes is None:
        processes = os.cpu_count() or 1
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
        raise ConfigError(f"sweep: processes must be a positive integer or None (got {processes!r})")
    if executor is None and (processes == 1 or n <= 1):
        out: list[R] = []
        for i, p in enumerate(pts):
            try:
                out.append(fn(p))
            except Exception as err:
                err.add_note(f"in sweep point {i}: {_describe(p)}")
                raise
            if progress is not None:
                progress(i + 1, n)
        return out
    if executor is not None:
        return _collect(executor, pts, fn, progress)
    ctx = _pool_context()
    with ProcessPoolExecutor(max_workers=min(processes, n), mp_context=ctx, initializer=_init_worker) as pool:
        return _collect(pool, pts, fn, progress)


def _collect(ex: Executor, pts: list[Any], fn: Callable[[Any], R], progress: Callable[[int, int], None] | None) -> list[R]:
    futures: dict[Future[R], int] = {ex.submit(fn, p): i for i, p in enumerate(pts)}
    results: list[Any] = [None] * len(pts)
    for done, fut in enumerate(as_completed(futures), start=1):
        i = futures[fut]
        try:
            results[i] = fut.result()
        except Exception as err:
            for other in futures:
                other.cancel()
            err.add_note(f"in sweep point {i}: {_describe(pts[i])}")
            raise
        if progress is not None:
            progress(done, len(pts))
    return results


# ---------------------------------------------------------------------------
# SNN estimate sweeps
# ---------------------------------------------------------------------------
def resolve_snn_model(name_or_path: str | os.PathLike[str]) -> Path:
    """The TOML file of an SNN model: a path, or a preset name of ``models/snn/``.

    Raises
    ------
    ConfigError
        Neither an existing file nor a known preset.

    >>> resolve_snn_model("nmnist_a_2hidden").name
    'nmnist_a_2hidden.toml'
    """
    from mimdsim.arch.load import resolve_preset

    return resolve_preset(name_or_path, "snn", "SNN model")


def snn_points(
    models: Sequence[str | os.PathLike[str]],
    activities: Sequence[float | None],
    machine: Any = "bow",
    gpu: str | None = "a100",
    engine: str = "fast",
    *,
    activity_source: str = "functional",
    seed: int = 0,
    on_error: str = "raise",
    gpu_framework: str | None = None,
    gpu_precision: str | None = None,
) -> list[dict[str, Any]]:
    """The points of :func:`snn_sweep` (models outer, activities inner), paths resolved.

    An activity of ``None`` keeps the model file's ``max_activity``. A bad ``gpu``,
    ``gpu_framework`` or ``gpu_precision`` is refused here, before any point runs.
    """
    if on_error not in ("raise", "record"):
        raise ConfigError(f"sweep: on_error must be 'raise' or 'record' (got {on_error!r})")
    if not models:
        raise ConfigError("sweep: no models")
    if not activities:
        raise ConfigError("sweep: no activities")
    for a in activities:
        if a is not None and (isinstance(a, bool) or not isinstance(a, (int, float)) or not 0 < a <= 1):
            raise ConfigError(f"sweep: activity {a!r} is outside (0, 1]")
    if gpu is not None:
        from mimdsim.snn.gpu import load_gpu
        from mimdsim.snn.gpu_frameworks import profile

        load_gpu(gpu, **({"matmul_precision": gpu_precision} if gpu_precision is not None else {}))
        if gpu_framework is not None:
            profile(gpu_framework)
    base = {
        "machine": machine,
        "gpu": gpu,
        "gpu_framework": gpu_framework,
        "gpu_precision": gpu_precision,
        "engine": engine,
        "activity_source": activity_source,
        "seed": seed,
        "on_error": on_error,
    }
    paths = [str(resolve_snn_model(m)) for m in models]
    return expand_grid(base, {"model": paths, "activity": list(activities)})


def _phase(name: str) -> str:
    head = name.split(".", 1)[0]
    return head if head in ("fwd", "bwd", "update", "host") else "other"


def snn_point(point: Mapping[str, Any]) -> dict[str, Any]:
    """One training-step estimate as a flat, picklable row (the worker of :func:`snn_sweep`).

    ``point`` keys: ``model`` (name or path), ``activity`` (max activity or ``None``),
    ``machine`` (preset name, path or :class:`~mimdsim.arch.spec.MachineSpec`), ``gpu``
    (preset name or ``None``), ``engine``, and optionally ``gpu_framework`` (``None``:
    ``tf-keras-xla``, the paper's), ``gpu_precision`` (``tf32``/``fp32``), ``activity_source``
    (``functional``, ``saturated``, ...; ``parametric`` also needs ``rate``), ``seed``,
    ``on_error`` (``raise``, or ``record``: a :class:`~mimdsim.errors.MimdsimError`
    becomes a row with an ``error`` field).

    Row fields (times per training step of ``batch_size`` samples):

    * configuration: ``model``, ``model_path``, ``depth`` (hidden layers), ``layers``,
      ``sparse_sizes``, ``activity``, ``machine``, ``gpu``, ``engine``, ``activity_source``,
      ``seed``, ``batch_size``, ``n_timesteps``, ``neurons_per_tile``;
    * IPU: ``ipu_cycles_per_step``, ``ipu_ms_per_step``, ``ipu_samples_per_s``,
      ``breakdown_cycles`` (critical-path split: compute, exchange, global_exchange,
      host_exchange, sync), ``phase_cycles`` (fwd, bwd, update, host, other),
      ``cycles_by_critical_layer`` (each superstep's cycles given to the hidden/output
      layer ``"L1"``.. of its critical tile, ``"support"`` for spike-generation, reduction
      and sequence tiles), ``top_supersteps`` (the 6 costliest superstep kinds: ``name``,
      ``cycles``, ``cycles_per_timestep``, ``share``, ``bound``, ``critical_layer``),
      ``max_tile_memory_bytes``, ``n_oom_tiles``;
    * spikes: ``mean_true_spikes`` / ``mean_valid_spikes`` per spike tensor (input first),
      averaged over time steps and samples;
    * GPU (when ``gpu``): ``gpu_framework``, ``gpu_matmul_precision``, ``gpu_ms_per_step``,
      ``gpu_samples_per_s``, ``speedup_vs_gpu`` (GPU time / IPU time, the GPU run by
      ``gpu_framework``), ``gpu_ideal_ms_per_step`` and ``speedup_vs_gpu_ideal`` (the ideal
      ``fused`` program), ``gpu_breakdown`` (``dominant``, ``compute_bound_ms``,
      ``memory_bound_ms``, ``launch_ms``, ``launches``, ``gflops``, ``gbytes``, and the
      framework's terms as ``host_enqueue_ms``, ``loop_sync_ms``, ``graph_launch_ms``,
      ``input_copy_ms``);
    * ``elapsed_s``: wall time of the point (the only non-deterministic field).
    """
    t0 = time.perf_counter()
    from mimdsim.arch import load_machine
    from mimdsim.engines.result import step_family
    from mimdsim.snn.estimate import estimate_training_step, make_activity
    from mimdsim.snn.gpu_frameworks import PAPER_FRAMEWORK
    from mimdsim.snn.spec import load_snn_model

    on_error = point.get("on_error", "raise")
    path = resolve_snn_model(point["model"])
    activity = point.get("activity")
    row: dict[str, Any] = {
        "model": path.stem,
        "model_path": str(path),
        "activity": activity,
        "gpu": point.get("gpu"),
        "engine": point.get("engine", "fast"),
        "seed": int(point.get("seed", 0)),
    }
    try:
        spec, _hints = load_snn_model(path, max_activity=activity)
        if activity is None:  # the file's own max_activity (None for explicit [[layers]])
            from mimdsim.arch.load import read_toml

            activity = read_toml(path).get("max_activity")
        machine = load_machine(point.get("machine", "bow"))
        act, _label = make_activity(spec, point.get("activity_source", "functional"), seed=row["seed"], rate=point.get("rate"))
        est = estimate_training_step(
            spec, machine, activity_source=act, engine=row["engine"], seed=row["seed"], gpu=point.get("gpu"),
            gpu_framework=point.get("gpu_framework") or PAPER_FRAMEWORK, gpu_precision=point.get("gpu_precision"),
        )  # fmt: skip
    except MimdsimError as err:
        if on_error != "record":
            raise
        row.update(error=f"{type(err).__name__}: {err}".splitlines()[0], elapsed_s=time.perf_counter() - t0)
        return row
    res = est.result
    T = spec.n_timesteps
    total = res.total_cycles
    tile_layer: dict[int, int] = {}
    for lp in est.mapping.layers:
        for t in lp.tiles.tolist():
            tile_layer[int(t)] = lp.layer
    by_layer: Counter[str] = Counter()
    phase: dict[str, int] = dict.fromkeys(("fwd", "bwd", "update", "host", "other"), 0)
    kind_layer: dict[str, Counter[str]] = defaultdict(Counter)
    for rec in res.supersteps:
        lay = tile_layer.get(rec.critical_tile)
        label = "support" if lay is None else f"L{lay + 1}"
        by_layer[label] += rec.cycles
        phase[_phase(rec.name)] += rec.cycles
        kind_layer[step_family(rec.name)][label] += rec.cycles
    top = [
        {
            "name": k.name,
            "cycles": int(k.cycles),
            "cycles_per_timestep": float(k.cycles_per_timestep),
            "share": k.cycles / total if total else 0.0,
            "bound": k.bound,
            "critical_layer": kind_layer[k.name].most_common(1)[0][0] if kind_layer[k.name] else "support",
        }
        for k in est.step_kinds()[:6]
    ]
    row.update(
        model=spec.name,
        depth=len(spec.layer_sizes) - 2,
        layers=[int(n) for n in spec.layer_sizes],
        sparse_sizes=[int(s) for s in spec.sparse_sizes],
        activity=activity,
        machine=machine.name,
        activity_source=est.activity_source,
        batch_size=int(spec.batch_size),
        n_timesteps=int(T),
        neurons_per_tile=int(est.neurons_per_tile),
        ipu_cycles_per_step=int(total),
        ipu_ms_per_step=float(est.ms_per_step),
        ipu_samples_per_s=float(est.samples_per_s),
        breakdown_cycles={k: int(v) for k, v in est.breakdown_cycles.items()},
        phase_cycles=phase,
        cycles_by_critical_layer=dict(sorted(by_layer.items())),
        top_supersteps=top,
        max_tile_memory_bytes=int(est.ledger.max_tile_bytes),
        n_oom_tiles=len(est.oom_tiles),
        mean_true_spikes=[float(c.mean()) for c in act.true_counts],
        mean_valid_spikes=[float(c.mean()) for c in act.valid_counts],
    )
    if est.gpu is not None and est.gpu_ideal is not None:
        g = est.gpu
        row.update(
            gpu=g.gpu,
            gpu_framework=g.framework,
            gpu_matmul_precision=g.matmul_precision,
            gpu_ms_per_step=g.ms_per_step,
            gpu_samples_per_s=g.samples_per_s,
            speedup_vs_gpu=est.speedup_vs_gpu,
            gpu_ideal_ms_per_step=est.gpu_ideal.ms_per_step,
            speedup_vs_gpu_ideal=est.speedup_vs_gpu_ideal,
            gpu_breakdown={
                "dominant": g.dominant,
                "compute_bound_ms": 1e3 * g.compute_bound_s,
                "memory_bound_ms": 1e3 * g.memory_bound_s,
                "launch_ms": 1e3 * g.launch_s,
                "launches": int(g.total_launches),
                "gflops": g.total_flops / 1e9,
                "gbytes": g.total_bytes / 1e9,
                **{f"{k}_ms": 1e3 * v for k, v in g.overhead},
            },
        )
    row["elapsed_s"] = time.perf_counter() - t0
    return row


def snn_sweep(
    models: Sequence[str | os.PathLike[str]],
    activities: Sequence[float | None],
    machine: Any = "bow",
    gpu: str | None = "a100",
    engine: str = "fast",
    *,
    processes: int | None = 1,
    activity_source: str = "functional",
    seed: int = 0,
    on_error: str = "raise",
    executor: Executor | None = None,
    progress: Callable[[int, int], None] | None = None,
    gpu_framework: str | None = None,
    gpu_precision: str | None = None,
) -> list[dict[str, Any]]:
    """Estimate every model at every maximum activity on ``machine`` (and the dense GPU baseline).

    ``models`` are preset names of ``models/snn/`` or TOML paths; ``activities`` replace
    each file's ``max_activity`` (``None`` keeps it). The GPU runs the step as
    ``gpu_framework`` does (``None``: the paper's ``tf-keras-xla``); every row also has the
    speed-up over the ideal ``fused`` program. Rows (see :func:`snn_point`) come in
    the order models x activities. ``processes=2`` halves the wall time of the family (a)
    sweep on a 2-core machine.

    Example (about 2-4 s per point)::

        rows = snn_sweep(PAPER_FAMILY_A_MODELS, PAPER_FAMILY_A_ACTIVITIES, "bow", "a100", processes=2)
        print(mimdsim.report.tables.pivot_table(rows))
    """
    points = snn_points(
        models, activities, machine, gpu, engine, activity_source=activity_source, seed=seed, on_error=on_error,
        gpu_framework=gpu_framework, gpu_precision=gpu_precision,
    )  # fmt: skip
    return run_sweep(points, snn_point, processes=processes, executor=executor, progress=progress)
