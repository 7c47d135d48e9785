"""``mimdsim machines`` and ``mimdsim run``: the presets, and one program file on a machine."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from mimdsim.arch import MachineSpec, list_presets, load_machine
from mimdsim.cli.common import (
    SubParsers,
    add_engine_options,
    add_machine_options,
    add_passes_option,
    add_simulation_limits,
    add_timeline_options,
    check_outputs,
    machine_of,
    print_json,
    progress_wanted,
    timeline_settings,
    write_run_timeline,
)
from mimdsim.engines import DEFAULT_MAX_STEPS, RunResult, simulate
from mimdsim.program.serialize import load_program
from mimdsim.report.tables import Column, text_table

__all__ = ["add_machines_parser", "add_run_parser", "format_result", "report"]


_LABELS = {
    "compute": "compute (incl. idle threads)",
    "compute_excl_idle": "compute (excl. idle threads)",
    "exchange": "IPU exchange",
    "global_exchange": "global exchange",
    "host_exchange": "host exchange",
    "sync": "sync",
}


_SHARE = Column("share", "share", align="right")


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"


def _category_table(values: dict[str, Any], total: int, header: str, fmt: str) -> str:
    rows = [{"category": _LABELS[k], "cycles": v, "share": _pct(v, total)} for k, v in values.items()]
    return text_table(rows, (Column("category", "category"), Column("cycles", header, fmt), _SHARE))


def format_result(res: RunResult, machine: MachineSpec) -> str:
    """The readable report of one run (a ``RunResult``)."""
    total = res.total_cycles
    head = [
        f"program   {res.program}  ({res.n_steps_executed:,} steps executed)",
        f"machine   {machine.name}: {machine.n_ipus} IPU{'s' if machine.n_ipus > 1 else ''} x {machine.tiles_per_ipu:,} tiles, "
        f"{machine.tile_clock_hz / 1e9:g} GHz",
        f"engine    {res.engine}",
        "",
        f"total     {total:,} cycles = {res.seconds * 1e3:.4g} ms",
    ]
    if res.samples_per_s is not None:
        head.append(f"          {res.samples_per_s:,.1f} samples/s (batch of {res.batch_size})")
    cap = machine.memory_bytes_per_tile
    mem = res.max_tile_memory_bytes
    head.append(
        f"memory    max {mem:,} B on one tile ({_pct(mem, cap)} of {cap:,} B; tile {int(np.argmax(res.tile_memory_bytes)) if res.n_tiles else 0})"
    )
    top = [{**r.__dict__, "share": _pct(r.cycles, total)} for r in res.top_supersteps(5)]
    top_columns = (
        Column("index", "#"),
        Column("name", "name"),
        Column("kind", "kind"),
        Column("n_executions", "runs", "{:,}"),
        Column("cycles", "cycles", "{:,}"),
        _SHARE,
        Column("bound", "bound"),
        Column("critical_tile", "crit. tile"),
    )
    return "\n".join(
        [
            *head,
            "",
            "Poplar-style breakdown (mean over tiles; compute excl. idle is a sub-line of compute)",
            _category_table(res.tile_mean_cycles(), total, "cycles/tile", "{:,.1f}"),
            "",
            "Critical-path breakdown (adds up to the total)",
            _category_table(res.critical_path_cycles(), total, "cycles", "{:,}"),
            "",
            "Top supersteps",
            text_table(top, top_columns),
        ]
    )


def report(args: argparse.Namespace, res: RunResult, machine: MachineSpec) -> int:
    if args.json:
        print_json({**res.to_dict(), "machine_spec": machine.model_dump()})
    else:
        print(format_result(res, machine))
    return 0


def _cmd_machines(args: argparse.Namespace) -> int:
    specs = [load_machine(name) for name in list_presets("machines")]
    if args.json:
        print_json({m.name: {**m.model_dump(), "n_tiles": m.n_tiles} for m in specs})
        return 0
    rows = [
        {
            **m.model_dump(),
            "kib_per_tile": m.memory_bytes_per_tile // 1024,
            "mib_per_ipu": m.tiles_per_ipu * m.memory_bytes_per_tile / 2**20,
            "ghz": m.tile_clock_hz / 1e9,
            "sync_cycles": m.min_ipu_sync_delay + m.max_ipu_sync_delay,
            "links": f"{m.link_topology} {m.links_per_ipu_pair}x{m.link_bytes_per_s / 1e9:g}",
            "host_gb_s": m.host_bytes_per_s / 1e9,
        }
        for m in specs
    ]
    columns = (
        Column("name", "preset"),
        Column("n_ipus", "IPUs"),
        Column("tiles_per_ipu", "tiles/IPU", "{:,}"),
        Column("kib_per_tile", "KiB/tile", "{:,}"),
        Column("mib_per_ipu", "MiB/IPU", "{:,.1f}"),
        Column("ghz", "GHz", "{:g}"),
        Column("num_worker_contexts", "workers"),
        Column("exchange_bytes_per_cycle", "exch B/cyc"),
        Column("sync_cycles", "sync cyc"),
        Column("global_sync_cycles", "global sync"),
        Column("links", "links GB/s", align="right"),
        Column("host_gb_s", "host GB/s", "{:g}"),
    )
    print(text_table(rows, columns))
    print("\nAny field can be changed with --set KEY=VALUE; see docs/machine_format.md.")
    return 0


def add_machines_parser(sub: SubParsers) -> None:
    p = sub.add_parser("machines", help="list the machine presets and their key numbers", description="List the machine presets.")
    p.add_argument("--json", action="store_true", help="print one JSON object: every preset's full description")
    p.set_defaults(func=_cmd_machines)


def _cmd_run(args: argparse.Namespace) -> int:
    check_outputs(args, "timeline")  # before the run, not after it
    machine = machine_of(args)
    program = load_program(args.program)
    if args.passes != "as-issued":
        from mimdsim.program.passes import apply_passes

        program = apply_passes(program, args.passes)
    res = simulate(
        program, machine, args.engine, progress=progress_wanted(), check_memory_fits=not args.allow_oom,
        max_steps=args.max_steps or DEFAULT_MAX_STEPS, max_events=args.max_events, **timeline_settings(args, machine),
    )  # fmt: skip
    write_run_timeline(args, res)
    return report(args, res, machine)


def add_run_parser(sub: SubParsers) -> None:
    p = sub.add_parser(
        "run",
        help="simulate a program file on a machine",
        description="Simulate a program file (docs/program_format.md) on a machine (docs/machine_format.md).",
    )
    p.add_argument("program", metavar="PROGRAM.json", help="program file (.json or .json.gz)")
    add_machine_options(p, "bow")
    add_engine_options(p)
    add_passes_option(p, "as-issued")  # a program file runs as written unless asked
    p.add_argument("--allow-oom", action="store_true", help="simulate even if some tiles exceed their memory")
    add_simulation_limits(p)
    add_timeline_options(p)
    p.set_defaults(func=_cmd_run)
