"""Measure the speed of the ``des`` (SimPy) engine in tile-events per second.

The workload is a synthetic, SNN-like BSP program on one Mk2 IPU (1472 tiles):
``--steps`` supersteps, each with an exchange in which every tile multicasts its spikes to
``--fanout`` other tiles, then a compute set of ``--groups`` vertex blocks (tiles in
contiguous ranges, like layers) whose vertex counts and cycles are drawn at random for
every step (data-dependent costs). Variants:

* ``distinct``: every superstep is its own static step (an unrolled BPTT, costs computed
  once per step);
* ``repeat``: a body of ``--body`` supersteps repeated (costs computed once, reused);
* ``per-tile``: like ``distinct`` but every tile has its own one-tile block, so tiles
  finish at ~150 distinct times per step: the hard case for the DES's tile grouping. It
  runs ``--per-tile-steps`` steps (building 1472 blocks per step is slow); its cost is
  dominated by flattening 1472 blocks per compute set, not by the event loop;
* ``snn``: the real thing, :func:`mimdsim.snn.lowering.lower.lower_snn` of the paper's N-MNIST
  network (2312-1466-1466-10, 1% activity, batch 48) with ``--steps / 18`` time steps.

A tile-event is what a process-per-tile DES would process (see ``mimdsim/engines/des.py``);
the script also prints tile-steps/s (one tile through one superstep) and SimPy events/s.
Only :func:`simulate_des` is timed (the program is built and validated first). Example::

    python -m benchmarks.des_speed --variant distinct --steps 10000
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import time
from collections.abc import Sequence

import numpy as np

from mimdsim.arch import load_machine
from mimdsim.arch.spec import MachineSpec
from mimdsim.engines.des import simulate_des
from mimdsim.program.ir import ComputeSet, Exchange, Program, Repeat, Superstep, VertexBlock
from mimdsim.program.validate import check_program

VARIANTS = ("distinct", "repeat", "per-tile", "snn")


def _exchange(rng: np.random.Generator, n_tiles: int, fanout: int, name: str) -> Exchange:
    """Every tile multicasts 0-256 B to ``fanout`` random other tiles."""
    offsets = rng.integers(1, n_tiles, size=(n_tiles, fanout))
    dst = (np.arange(n_tiles)[:, None] + offsets) % n_tiles
    dst = np.sort(dst, axis=1)
    keep = np.ones_like(dst, bool)
    keep[:, 1:] = dst[:, 1:] != dst[:, :-1]  # unique destinations per transfer
    counts = keep.sum(axis=1)
    ptr = np.concatenate([[0], np.cumsum(counts)])
    return Exchange(name, np.arange(n_tiles), ptr, dst[keep], rng.integers(0, 257, n_tiles))


def _compute(rng: np.random.Generator, n_tiles: int, n_groups: int, name: str) -> ComputeSet:
    """Blocks of contiguous tiles with random (data-dependent) vertex counts."""
    edges = np.linspace(0, n_tiles, n_groups + 1).astype(int)
    blocks = tuple(
        VertexBlock(
            "Lif",
            np.arange(a, b),
            rng.integers(20, 200, size=3),
            rng.integers(1, 60, size=3),
            int(rng.integers(0, 100)),
        )
        for a, b in itertools.pairwise(edges)
    )
    return ComputeSet(name, blocks)


def _per_tile_compute(rng: np.random.Generator, n_tiles: int, name: str) -> ComputeSet:
    """One block per tile, each with its own vertex count (data-dependent per-tile costs)."""
    cycles = rng.integers(20, 40, size=n_tiles).tolist()
    counts = rng.integers(1, 60, size=n_tiles).tolist()
    return ComputeSet(name, tuple(VertexBlock("Lif", [t], [cycles[t]], [counts[t]], 30) for t in range(n_tiles)))


def _snn_program(machine: MachineSpec, n_steps: int, seed: int) -> Program:
    """The lowered SNN BPTT training step of the paper's N-MNIST network, about ``n_steps`` supersteps."""
    from mimdsim.partition import partition_layers
    from mimdsim.snn.activity.counts import parametric_activity
    from mimdsim.snn.lowering.lower import lower_snn
    from mimdsim.snn.model.spec import snn_from_sizes

    steps_per_timestep = 18  # measured: 1,803 supersteps for 100 time steps
    spec = snn_from_sizes(
        [2312, 1466, 1466, 10],
        max_activity=0.01,
        input_sparse_size=32,
        batch_size=48,
        n_timesteps=max(1, n_steps // steps_per_timestep),
        dataset="nmnist",
    )
    mapping = partition_layers(spec.layer_sizes[1:], machine.tiles_per_ipu, machine.n_ipus)
    return lower_snn(spec, machine, mapping, parametric_activity(spec, 0.01, seed))


def build_program(variant: str, n_steps: int, machine: MachineSpec, *, groups: int, fanout: int, body: int, seed: int) -> Program:
    """The benchmark program (see the module docstring)."""
    if variant == "snn":
        return _snn_program(machine, n_steps, seed)
    rng = np.random.default_rng(seed)
    n = machine.n_tiles
    n_static = body if variant == "repeat" else n_steps
    steps = tuple(
        Superstep(
            f"t{k}",
            "internal",
            _exchange(rng, n, fanout, f"x{k}"),
            _per_tile_compute(rng, n, f"c{k}") if variant == "per-tile" else _compute(rng, n, groups, f"c{k}"),
        )
        for k in range(n_static)
    )
    if variant == "repeat":
        return Program(f"des-speed-{variant}", (Repeat(n_steps // body, steps),))
    return Program(f"des-speed-{variant}", steps)


def warm_up() -> None:
    """Load the numba kernels (compiled or from cache) outside the timed runs."""
    machine = load_machine("mk2", tiles_per_ipu=4)
    program = build_program("distinct", 2, machine, groups=2, fanout=2, body=1, seed=0)
    simulate_des(program, machine, np.zeros(machine.n_tiles, np.int64), max_steps=10)


def measure(variant: str, n_steps: int, *, groups: int, fanout: int, body: int, seed: int) -> dict[str, object]:
    """Build and validate the program, time one run; return the figures."""
    machine = load_machine("mk2")
    t0 = time.perf_counter()
    program = build_program(variant, n_steps, machine, groups=groups, fanout=fanout, body=body, seed=seed)
    check_program(program, machine)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = simulate_des(program, machine, np.zeros(machine.n_tiles, np.int64), max_steps=10**9)
    wall_s = time.perf_counter() - t0
    tile_events = int(result.metadata["tile_events"])  # type: ignore[call-overload]
    simpy_events = int(result.metadata["simpy_events"])  # type: ignore[call-overload]
    tile_steps = result.n_steps_executed * machine.n_tiles
    return {
        "variant": variant,
        "tiles": machine.n_tiles,
        "steps_executed": result.n_steps_executed,
        "total_cycles": result.total_cycles,
        "build_s": round(build_s, 2),
        "wall_s": round(wall_s, 2),
        "tile_events": tile_events,
        "tile_events_per_s": round(tile_events / wall_s),
        "tile_steps_per_s": round(tile_steps / wall_s),
        "simpy_events": simpy_events,
        "simpy_events_per_s": round(simpy_events / wall_s),
    }


def bare_simpy_events_per_s(n_events: int = 500_000) -> float:
    """Events/s of a bare SimPy loop (one process, one timeout per event): the reference rate."""
    import simpy

    env = simpy.Environment()

    def loop() -> simpy.events.ProcessGenerator:
        for _ in range(n_events):
            yield env.timeout(1)

    env.process(loop())
    t0 = time.perf_counter()
    env.run()
    return n_events / (time.perf_counter() - t0)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variant", choices=(*VARIANTS, "all"), default="all")
    ap.add_argument("--steps", type=int, default=10_000, help="supersteps executed")
    ap.add_argument("--per-tile-steps", type=int, default=500, help="supersteps executed by variant per-tile")
    ap.add_argument("--groups", type=int, default=8, help="vertex blocks per compute set")
    ap.add_argument("--fanout", type=int, default=4, help="destinations per multicast")
    ap.add_argument("--body", type=int, default=10, help="supersteps in the repeated body (variant repeat)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print one JSON object per variant")
    args = ap.parse_args(argv)
    variants = VARIANTS if args.variant == "all" else (args.variant,)
    print(f"# {platform.node()} {platform.processor() or platform.machine()} python {platform.python_version()}")
    warm_up()
    print(f"# bare SimPy timeout loop: {bare_simpy_events_per_s():,.0f} events/s")
    for v in variants:
        n_steps = args.per_tile_steps if v == "per-tile" else args.steps
        row = measure(v, n_steps, groups=args.groups, fanout=args.fanout, body=args.body, seed=args.seed)
        row["load_average_1min"] = os.getloadavg()[0]
        if args.json:
            print(json.dumps(row))
        else:
            print(
                f"{v:9s} {row['steps_executed']:>7,} steps x {row['tiles']} tiles: {row['wall_s']:6.2f} s  "
                f"{row['tile_events_per_s']:>12,} tile-events/s  {row['tile_steps_per_s']:>12,} tile-steps/s  "
                f"{row['simpy_events_per_s']:>10,} SimPy events/s  (build {row['build_s']} s, load {row['load_average_1min']:.1f})"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
