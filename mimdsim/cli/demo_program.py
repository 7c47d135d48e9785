"""The built-in demo of ``mimdsim demo``: a 2D Jacobi heat-diffusion solve on every tile.

A square grid of ``grid_rows*block x grid_cols*block`` fp32 points is cut into one
``block x block`` sub-grid per tile (tiles laid out row-major on a ``grid_rows x
grid_cols`` mesh as close to square as the tile count allows: 32 x 46 on a 1472-tile
Bow). The program, built with :class:`~mimdsim.program.builder.ProgramBuilder`:

1. superstep ``init``: each tile fills its sub-grid (initial and boundary values);
2. ``with b.repeat(sweeps // check_every)``:

   * ``with b.repeat(check_every)``: superstep ``sweep`` -- halo exchange (each tile
     sends its edge row/column, ``block * 4`` bytes, to each of its up to 4 neighbours)
     then the 5-point stencil on 6 worker vertices per tile;
   * superstep ``gather residual`` -- every tile sends its local max-change (4 bytes)
     to tile 0, which reduces them;
   * superstep ``broadcast flag`` -- tile 0 multicasts the convergence flag to every
     other tile (one transfer), which each tile reads (a supervisor vertex);

3. host copy: the solution streams out (``block**2 * 4`` bytes per tile).

The vertex costs are illustrative (a hand-written estimate in the style of Poplar's
``getCycleEstimate``: 10 thread cycles of overhead plus 3 per 2 points for a 2-wide fp32
stencil), not calibrated against hardware; ``mimdsim/validation/tut6.py`` is the
calibrated case. ``run_demo`` is what ``mimdsim demo`` (and ``make demo``) runs.

Examples
--------
>>> from mimdsim.arch import load_machine
>>> p = build_demo_program(load_machine("bow"), block=8, sweeps=4, check_every=2)
>>> p.n_executed_steps()   # init + 2 x (2 sweeps + gather + broadcast) + host copy
10
>>> p.batch_size
1
"""

from __future__ import annotations

import math

import numpy as np

from mimdsim.arch import MachineSpec, load_machine
from mimdsim.engines import DEFAULT_ENGINE, RunResult, simulate
from mimdsim.program.builder import ProgramBuilder
from mimdsim.program.ir import Program

__all__ = ["WORD_BYTES", "mesh_shape", "stencil_thread_cycles", "build_demo_program", "run_demo"]

WORD_BYTES = 4
"""fp32."""


def mesh_shape(n_tiles: int) -> tuple[int, int]:
    """Rows and columns of the tile mesh: the divisor pair of ``n_tiles`` closest to square.

    >>> mesh_shape(1472)
    (32, 46)
    """
    rows = math.isqrt(n_tiles)
    while n_tiles % rows:
        rows -= 1
    return rows, n_tiles // rows


def stencil_thread_cycles(n_points: int) -> int:
    """Thread cycles of one worker vertex updating ``n_points`` points (illustrative estimate)."""
    return 10 + (3 * n_points + 1) // 2


def _split(n: int, parts: int) -> list[int]:
    """``n`` items over ``parts`` workers as evenly as possible (larger shares first)."""
    return [n // parts + (1 if k < n % parts else 0) for k in range(parts)]


def build_demo_program(machine: MachineSpec, *, block: int = 64, sweeps: int = 500, check_every: int = 50) -> Program:
    """The Jacobi program for every tile of ``machine`` (see the module docstring).

    ``sweeps`` must be a multiple of ``check_every``. Transfers between IPUs use an
    external sync, so the program also runs on multi-IPU machines.
    """
    if block < 1 or sweeps < 1 or check_every < 1 or sweeps % check_every:
        raise ValueError("block, sweeps and check_every must be >= 1, and sweeps a multiple of check_every")
    n = machine.n_tiles
    rows, cols = mesh_shape(n)
    tiles = np.arange(n, dtype=np.int64)
    r, c = tiles // cols, tiles % cols
    sync = "external" if machine.n_ipus > 1 else "internal"
    workers = machine.num_worker_contexts

    b = ProgramBuilder(
        "jacobi-2d",
        batch_size=1,
        metadata={"grid_points": [rows * block, cols * block], "mesh": [rows, cols], "block": block, "sweeps": sweeps},
    )
    grid_bytes = block * block * WORD_BYTES
    grid = b.tensor("grid", (tiles, 2 * grid_bytes))  # current and next iterate
    b.tensor("halo", (tiles, 4 * block * WORD_BYTES), kind="exchange_buffer")
    b.tensor("residual", (tiles, WORD_BYTES))
    b.tensor("residual gather", {0: n * WORD_BYTES}, kind="exchange_buffer")
    b.tensor("stencil code", (tiles, 1536), kind="code")
    b.tensor("vertex state", (tiles, 32 * (workers + 1)), kind="vertex_state")

    halo = b.exchange("halo")
    for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        ok = (r + dr >= 0) & (r + dr < rows) & (c + dc >= 0) & (c + dc < cols)
        halo.send_many(tiles[ok], (r[ok] + dr) * cols + c[ok] + dc, block * WORD_BYTES)
    rows_per_worker = [k for k in _split(block, workers) if k]
    init = b.compute_set("init").add("InitGrid", tiles, worker_cycles=[10 + k * block // 2 for k in rows_per_worker])
    stencil = b.compute_set("stencil")
    stencil.add("Jacobi5Point", tiles, worker_cycles=[stencil_thread_cycles(k * block) for k in rows_per_worker])

    gather = b.exchange("residual to tile 0")
    gather.send_many(tiles[1:], np.zeros(n - 1, np.int64), WORD_BYTES)
    reduce = b.compute_set("reduce residual").add("ReduceMax", [0], cycles=5 + (n + 1) // 2)
    flag = b.exchange("flag from tile 0")
    if n > 1:
        flag.send(0, tiles[1:], WORD_BYTES)
    check = b.compute_set("check flag").add("CheckFlag", tiles, supervisor_cycles=20)

    b.superstep("init", compute=init, sync=sync)
    with b.repeat(sweeps // check_every, name="until converged"):
        with b.repeat(check_every, name="sweeps"):
            b.superstep("sweep", exchange=halo, compute=stencil, sync=sync)
        b.superstep("gather residual", exchange=gather, compute=reduce, sync=sync)
        b.superstep("broadcast flag", exchange=flag, compute=check, sync=sync)
    b.host_copy("solution out", (grid.tiles, grid_bytes), direction="from_device")
    return b.build(machine)


def run_demo(machine: MachineSpec | None = None, *, engine: str = DEFAULT_ENGINE, progress: bool = False) -> RunResult:
    """Simulate the demo program on ``machine`` (default: the ``bow`` preset).

    >>> res = run_demo(load_machine("mk1", tiles_per_ipu=16))
    >>> res.total_cycles > 0, res.n_tiles
    (True, 16)
    """
    machine = machine if machine is not None else load_machine("bow")
    return simulate(build_demo_program(machine), machine, engine, progress=progress)
