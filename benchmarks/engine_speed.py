"""Measure the ``fast`` (numba) engine in tile-supersteps per second, against the ``des`` engine.

The workload is a synthetic, SNN-like BSP program on one Mk2 IPU (1472 tiles) of
``--steps`` supersteps. Each superstep has an exchange in which every tile multicasts
0-256 B to ``--fanout`` other tiles, then a compute set of ``--groups`` vertex blocks over
contiguous tile ranges plus one block on every other tile (so tiles sit in several
blocks), with random vertex cycles and counts. Variants:

* ``pooled`` (the headline): ``--steps`` static supersteps, no repeat, so the step loop
  runs every one of them; their compute sets and exchanges are drawn at random from a
  pool of ``--pool`` distinct objects each (an unrolled loop reusing its compute sets);
* ``repeat``: ``Repeat(steps / body)`` of ``--body`` distinct supersteps, timed twice:
  with the fast engine's repeat extrapolation (``fast``) and with every iteration run
  (``fast_literal``, ``extrapolate=False``);
* ``distinct``: every superstep has its own compute set and exchange, so the cost
  kernels of :mod:`mimdsim.cost` run once per step (as they do in the ``des``); capped
  at ``--distinct-steps`` supersteps (the program alone holds ~100 kB per step);
* ``snn``: a real workload, the training step of the SNN model ``--snn-model``
  (``models/snn``, on the machine and IPU count of its ``[run]`` table) lowered with
  parametric activity at ``--snn-rate``; every step is distinct.

A tile-superstep is one tile through one executed superstep: ``n_steps_executed x
n_tiles``. ``fast`` is timed end to end (:func:`simulate_fast`: program arrays, static
costs, step loop, per-tile totals), after a JIT warm-up, as the median of ``--runs`` runs;
the breakdown times the same phases separately (medians too, so they need not add up
exactly). Both engines are single-threaded; CPU
seconds (``time.process_time``) are reported next to wall seconds because they are less
disturbed by other processes on a shared machine. ``des`` (:func:`simulate_des`) runs once
per variant on the same program (``--des-steps`` caps its length; 0 skips it); its
``tile_events``/``simpy_events`` come from the result's metadata, and when it ran the
same program the script checks that both engines' results are identical. The cold numba
compile time and the warm cache-load time of the fast engine are measured in fresh
subprocesses. Example::

    python -m benchmarks.engine_speed --out benchmarks/results/engine_speed.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from mimdsim.arch import load_machine
from mimdsim.arch.spec import MachineSpec
from mimdsim.engines import _kernels as K
from mimdsim.engines import fast
from mimdsim.engines.fast import simulate_fast
from mimdsim.engines.result import RunResult
from mimdsim.program.arrays import to_arrays
from mimdsim.program.ir import ComputeSet, Exchange, Program, Repeat, Superstep, VertexBlock
from mimdsim.program.validate import check_program

VARIANTS = ("pooled", "repeat", "distinct", "snn")

_COLD_START = """
import time, numpy as np
t0 = time.perf_counter()
from mimdsim.arch import load_machine
from mimdsim.engines.fast import simulate_fast
from mimdsim.engines.result import RunResult
from mimdsim.program.ir import ComputeSet, Exchange, Program, Repeat, Superstep, VertexBlock
t1 = time.perf_counter()
m = load_machine("mk2", tiles_per_ipu=4)
cs = ComputeSet("c", (VertexBlock("V", [0, 1], [5], [7]),))
ex = Exchange.from_transfers("x", [(0, [1, 2], 64)])
p = Program("p", (Repeat(3, (Superstep("s", exchange=ex, compute=cs),)),))
simulate_fast(p, m, np.zeros(4, np.int64), max_steps=10)
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def _exchange(rng: np.random.Generator, n_tiles: int, fanout: int, name: str) -> Exchange:
    """Every tile multicasts 0-256 B to up to ``fanout`` random other tiles."""
    dst = (np.arange(n_tiles)[:, None] + rng.integers(1, n_tiles, size=(n_tiles, fanout))) % n_tiles
    dst.sort(axis=1)
    keep = np.ones(dst.shape, bool)
    keep[:, 1:] = dst[:, 1:] != dst[:, :-1]  # distinct destinations per transfer
    ptr = np.concatenate([[0], np.cumsum(keep.sum(axis=1))])
    return Exchange(name, np.arange(n_tiles), ptr, dst[keep], rng.integers(0, 257, n_tiles))


def _compute(rng: np.random.Generator, n_tiles: int, groups: int, name: str) -> ComputeSet:
    """``groups`` blocks over contiguous tile ranges, then one block on every other tile."""
    edges = np.linspace(0, n_tiles, groups + 1).astype(int)
    blocks = [
        VertexBlock("Lif", np.arange(a, b), rng.integers(20, 200, 3), rng.integers(1, 60, 3), int(rng.integers(0, 100)))
        for a, b in itertools.pairwise(edges)
    ]
    blocks.append(VertexBlock("Reduce", np.arange(0, n_tiles, 2), rng.integers(10, 50, 2), rng.integers(1, 13, 2)))
    return ComputeSet(name, tuple(blocks))


def build_program(
    variant: str, machine: MachineSpec, *, steps: int, pool: int, body: int, groups: int, fanout: int, seed: int
) -> Program:
    """The benchmark program of one variant (see the module docstring)."""
    rng = np.random.default_rng(seed)
    n = machine.n_tiles
    n_objects = {"pooled": pool, "repeat": body, "distinct": steps}[variant]
    css = [_compute(rng, n, groups, f"c{k}") for k in range(n_objects)]
    exs = [_exchange(rng, n, fanout, f"x{k}") for k in range(n_objects)]
    name = f"engine-speed-{variant}"
    if variant == "repeat":
        loop = tuple(Superstep(f"t{k}", "internal", exs[k], css[k]) for k in range(body))
        return Program(name, (Repeat(steps // body, loop),))
    pick = rng.integers(0, n_objects, size=(steps, 2)) if variant == "pooled" else np.arange(steps)[:, None].repeat(2, 1)
    steps_ = tuple(Superstep(f"t{k}", "internal", exs[i], css[j]) for k, (i, j) in enumerate(pick.tolist()))
    return Program(name, steps_)


def same_result(a: RunResult, b: RunResult) -> bool:
    """Whether two results agree on the total, every per-tile array and every record."""
    arrays = ("compute", "compute_excl_idle", "exchange", "global_exchange", "host_exchange", "sync")
    return (
        a.total_cycles == b.total_cycles
        and all(np.array_equal(getattr(a, f"tile_{k}_cycles"), getattr(b, f"tile_{k}_cycles")) for k in arrays)
        and a.supersteps == b.supersteps
    )


def _times_s(fn: Callable[[], object], runs: int, clock: Callable[[], float] = time.perf_counter) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return times


def _median_s(fn: Callable[[], object], runs: int, clock: Callable[[], float] = time.perf_counter) -> float:
    return statistics.median(_times_s(fn, runs, clock))


def _fast_breakdown(program: Program, machine: MachineSpec, runs: int, extrapolate: bool) -> dict[str, float]:
    """Median seconds of each phase of :func:`simulate_fast` (the same calls, timed one by one)."""
    arr = to_arrays(program)
    costs = fast._static_costs(arr, machine)
    rec, total = fast._run(arr, costs, machine, extrapolate=extrapolate, progress=False)
    n_exec = np.ascontiguousarray(rec[K.REC_N])

    def totals() -> None:
        K.tile_totals(
            arr.step_table, n_exec, costs["cs_ptr"], costs["cs_tiles"], costs["cs_incl"], costs["cs_excl"],
            costs["ex_phase"], costs["ex_global"], costs["host"], total, machine.n_tiles, machine.tiles_per_ipu,
        )  # fmt: skip

    return {
        "to_arrays_s": _median_s(lambda: to_arrays(program), runs),
        "static_costs_s": _median_s(lambda: fast._static_costs(arr, machine), runs),
        "step_loop_s": _median_s(lambda: fast._run(arr, costs, machine, extrapolate=extrapolate, progress=False), runs),
        "tile_totals_s": _median_s(totals, runs),
        "records_s": _median_s(lambda: fast._records(arr, rec), runs),
    }


def measure_fast(program: Program, machine: MachineSpec, runs: int, *, extrapolate: bool = True) -> dict[str, object]:
    """End-to-end median time of :func:`simulate_fast`, its rate and its phase breakdown."""
    mem = np.zeros(machine.n_tiles, np.int64)

    def run() -> object:
        return simulate_fast(program, machine, mem, max_steps=10**12, extrapolate=extrapolate)

    result = run()  # JIT warm-up (compiles, or loads the numba cache)
    walls = _times_s(run, runs)
    wall = statistics.median(walls)
    cpu = _median_s(run, runs, time.process_time)
    tile_steps = result.n_steps_executed * machine.n_tiles  # type: ignore[attr-defined]
    return {
        "extrapolate": extrapolate,
        "steps_executed": result.n_steps_executed,  # type: ignore[attr-defined]
        "total_cycles": result.total_cycles,  # type: ignore[attr-defined]
        "wall_s": wall,
        "best_wall_s": min(walls),
        "cpu_s": cpu,
        "tile_supersteps_per_s": tile_steps / wall,
        "best_tile_supersteps_per_s": tile_steps / min(walls),
        "tile_supersteps_per_cpu_s": tile_steps / cpu,
        "breakdown_s": _fast_breakdown(program, machine, runs, extrapolate),
        "result": result,
    }


def measure_des(program: Program, machine: MachineSpec) -> dict[str, object]:
    """One timed :func:`simulate_des` run."""
    from mimdsim.engines.des import simulate_des

    t0, c0 = time.perf_counter(), time.process_time()
    result = simulate_des(program, machine, np.zeros(machine.n_tiles, np.int64), max_steps=10**12)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    tile_events = int(result.metadata["tile_events"])  # type: ignore[call-overload]
    simpy_events = int(result.metadata["simpy_events"])  # type: ignore[call-overload]
    return {
        "steps_executed": result.n_steps_executed,
        "total_cycles": result.total_cycles,
        "wall_s": wall,
        "cpu_s": cpu,
        "tile_supersteps_per_s": result.n_steps_executed * machine.n_tiles / wall,
        "tile_supersteps_per_cpu_s": result.n_steps_executed * machine.n_tiles / cpu,
        "tile_events_per_s": tile_events / wall,
        "simpy_events_per_s": simpy_events / wall,
        "tile_events": tile_events,
        "simpy_events": simpy_events,
        "result": result,
    }


def measure_jit() -> dict[str, float]:
    """Import and first-call seconds of the fast engine in fresh processes: cold numba cache, then warm."""
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for label in ("cold", "warm"):
            proc = subprocess.run([sys.executable, "-c", _COLD_START], env=env, capture_output=True, text=True, check=True)
            import_s, first_call_s = (float(x) for x in proc.stdout.split())
            out[f"{label}_import_s"] = import_s
            out[f"{label}_first_call_s"] = first_call_s
    return out


def _machine_info() -> dict[str, object]:
    info: dict[str, object] = {
        "node": platform.node(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpus": os.cpu_count(),
    }
    try:
        import numba

        info["numba"] = numba.__version__
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in lscpu.splitlines():
            if line.startswith("Model name:"):
                info["cpu"] = line.split(":", 1)[1].strip()
    except (ImportError, OSError):
        pass
    return info


def build_snn(model: str, rate: float, seed: int) -> tuple[Program, MachineSpec]:
    """The lowered training step of an SNN model preset, and its machine."""
    from mimdsim.partition import partition_layers
    from mimdsim.snn.lowering.lower import lower_snn
    from mimdsim.snn.model.spec import load_snn_model
    from mimdsim.studies.estimate import make_activity

    spec, hints = load_snn_model(Path(__file__).resolve().parents[1] / "models" / "snn" / f"{model}.toml")
    machine = load_machine(hints.machine, **({"n_ipus": hints.n_ipus} if hints.n_ipus else {}))
    act, _ = make_activity(spec, "parametric", seed=seed, rate=rate, input_rate=rate)
    mapping = partition_layers(
        spec.layer_sizes[1:], machine.tiles_per_ipu, machine.n_ipus, method="contiguous", neurons_per_tile=hints.neurons_per_tile
    )
    return lower_snn(spec, machine, mapping, act, None), machine


def run_variant(variant: str, machine: MachineSpec, args: argparse.Namespace) -> dict[str, object]:
    """Build one variant's program, time fast (and des) on it."""
    steps = min(args.steps, args.distinct_steps) if variant == "distinct" else args.steps
    kw = dict(steps=steps, pool=args.pool, body=args.body, groups=args.groups, fanout=args.fanout, seed=args.seed)
    t0 = time.perf_counter()
    if variant == "snn":
        program, machine = build_snn(args.snn_model, args.snn_rate, args.seed)
        steps = program.n_executed_steps()
    else:
        program = build_program(variant, machine, **kw)  # type: ignore[arg-type]
    check_program(program, machine)
    row: dict[str, object] = {
        "variant": variant,
        "program": program.name,
        "tiles": machine.n_tiles,
        "static_steps": len(program.iter_static()),
        "build_s": time.perf_counter() - t0,
    }
    row["fast"] = measure_fast(program, machine, args.runs)
    if variant == "repeat":
        row["fast_literal"] = measure_fast(program, machine, args.runs, extrapolate=False)
    if args.des_steps > 0:
        des_program = program
        if args.des_steps < steps:
            des_program = build_program(variant, machine, **(kw | {"steps": args.des_steps}))  # type: ignore[arg-type]
        des = measure_des(des_program, machine)
        if des_program is program:
            des["identical_to_fast"] = same_result(des.pop("result"), row["fast"]["result"])  # type: ignore[arg-type, index]
        else:
            des.pop("result")
        row["des"] = des
        for key in ("fast", "fast_literal"):
            if key in row:
                row[f"{key}_over_des"] = row[key]["tile_supersteps_per_s"] / des["tile_supersteps_per_s"]  # type: ignore[index]
                row[f"{key}_over_des_cpu"] = row[key]["tile_supersteps_per_cpu_s"] / des["tile_supersteps_per_cpu_s"]  # type: ignore[index]
    for key in ("fast", "fast_literal"):
        if key in row:
            row[key].pop("result")  # type: ignore[union-attr]
    return row


def _print_row(row: dict[str, object]) -> None:
    v = row["variant"]
    for key in ("fast", "fast_literal", "des"):
        if key not in row:
            continue
        r: dict = row[key]  # type: ignore[type-arg, assignment]
        extra = ""
        if key == "des":
            extra = f"  {r['tile_events_per_s']:>13,.0f} tile-events/s  {r['simpy_events_per_s']:>11,.0f} SimPy events/s"
        else:
            b = r["breakdown_s"]
            extra = "  (" + ", ".join(f"{k[:-2]} {1e3 * s:.1f} ms" for k, s in b.items()) + ")"
        print(
            f"{v:9s} {key:12s} {r['steps_executed']:>8,} steps x {row['tiles']} tiles: {r['wall_s']:8.4f} s "
            f"{r['tile_supersteps_per_s']:>15,.0f} tile-supersteps/s ({r['tile_supersteps_per_cpu_s']:,.0f} per CPU s){extra}"
        )
    for key in ("fast_over_des", "fast_literal_over_des"):
        if key in row:
            print(f"{v:9s} {key}: {row[key]:,.1f}x wall, {row[key + '_cpu']:,.1f}x CPU")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--variant", choices=(*VARIANTS, "all"), default="all")
    ap.add_argument("--steps", type=int, default=10_000, help="supersteps executed")
    ap.add_argument("--distinct-steps", type=int, default=2_000, help="cap on --steps for variant distinct")
    ap.add_argument("--snn-model", default="nmnist_c_2ipu", help="SNN model preset (variant snn)")
    ap.add_argument("--snn-rate", type=float, default=0.03, help="firing rate of the parametric activity (variant snn)")
    ap.add_argument("--pool", type=int, default=64, help="distinct compute sets / exchanges (variant pooled)")
    ap.add_argument("--body", type=int, default=10, help="supersteps in the repeated body (variant repeat)")
    ap.add_argument("--groups", type=int, default=8, help="contiguous-range vertex blocks per compute set")
    ap.add_argument("--fanout", type=int, default=4, help="destinations per multicast")
    ap.add_argument("--runs", type=int, default=5, help="timed fast runs (median)")
    ap.add_argument("--des-steps", type=int, default=10_000, help="supersteps of the des run (0: no des)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-jit", action="store_true", help="skip the compile/cache-load measurement")
    ap.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = ap.parse_args(argv)
    machine = load_machine("mk2")
    info = _machine_info()
    print(f"# {info.get('cpu', platform.machine())}, {info['cpus']} CPUs, python {info['python']}, numba {info.get('numba')}")
    report: dict[str, object] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_before": os.getloadavg(),
        "machine": info,
        "simulated_machine": {"name": machine.name, "n_tiles": machine.n_tiles},
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "variants": [],
    }
    if not args.no_jit:
        report["jit"] = jit = measure_jit()
        print("# jit: " + ", ".join(f"{k} {v:.2f} s" for k, v in jit.items()))
    for v in VARIANTS if args.variant == "all" else (args.variant,):
        row = run_variant(v, machine, args)
        _print_row(row)
        report["variants"].append(row)  # type: ignore[union-attr]
    report["load_average_after"] = os.getloadavg()
    print(f"# load average before {report['load_average_before'][0]:.2f}, after {report['load_average_after'][0]:.2f}")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"# wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
