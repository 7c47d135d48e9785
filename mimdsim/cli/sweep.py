"""``mimdsim sweep``: SNN models over maximum activities."""

from __future__ import annotations

import argparse

from mimdsim.arch import load_machine
from mimdsim.cli.common import SubParsers, add_gpu_options, check_outputs, float_values, parse_set, positive_int, print_json
from mimdsim.engines import DEFAULT_ENGINE, ENGINES
from mimdsim.errors import MimdsimError

__all__ = ["add_sweep_parser"]


def _cmd_sweep(args: argparse.Namespace) -> int:
    from mimdsim.files import write_text
    from mimdsim.report.tables import SNN_COLUMNS, format_table, pivot_table
    from mimdsim.sweep import PAPER_FAMILY_A_ACTIVITIES, PAPER_FAMILY_A_MODELS, snn_sweep

    check_outputs(args, "csv")
    if args.plot is not None:
        from mimdsim.report.plots import check_figure_path

        if args.compare_gpu is None:
            raise MimdsimError("--plot draws the speed-up over a GPU: give --compare-gpu too")
        check_figure_path(args.plot, "--plot")

    models = args.models or list(PAPER_FAMILY_A_MODELS)
    activities = args.activities or list(PAPER_FAMILY_A_ACTIVITIES)
    machine = load_machine(args.machine, **dict(args.overrides))
    rows = snn_sweep(
        models, activities, machine, args.compare_gpu, args.engine, processes=args.processes,
        activity_source=args.activity_source, seed=args.seed, gpu_framework=args.gpu_framework,
        gpu_precision=args.gpu_precision,
    )
    if args.csv:
        write_text(args.csv, format_table(rows, SNN_COLUMNS, "csv"), what="--csv")
    if args.plot:
        from mimdsim.report.plots import plot_speedup_vs_activity

        plot_speedup_vs_activity(rows, args.plot)
    if args.json:
        print_json(rows)
        return 0
    print(format_table(rows, SNN_COLUMNS, "text"))
    if args.compare_gpu:
        print(f"\nSpeed-up over the dense step on {args.compare_gpu} (hidden layers x max activity)")
        print(pivot_table(rows))
    return 0


def add_sweep_parser(sub: SubParsers) -> None:
    p = sub.add_parser(
        "sweep", help="estimate SNN models over max activities (default: the paper's family (a) sweep)",
        description="Estimate every MODEL at every max activity; by default the paper's family (a): "
        "models/snn/nmnist_a_{2,3,4,5}hidden x activities 0.005..0.1, on bow vs a100.",
    )
    p.add_argument("models", nargs="*", metavar="MODEL", help="model preset names (models/snn/) or TOML paths")
    p.add_argument("--activities", type=float_values, metavar="A,B,...", help="max activities (default 0.005,0.01,0.02,0.05,0.1)")
    p.add_argument("--machine", "-m", default="bow", metavar="NAME|PATH.toml", help="machine preset or TOML file (default bow)")
    p.add_argument("--set", dest="overrides", action="append", type=parse_set, default=[], metavar="KEY=VALUE", help="override a machine field (repeatable)")
    p.add_argument("--engine", "-e", choices=sorted(ENGINES), default=DEFAULT_ENGINE, help=f"simulation engine (default {DEFAULT_ENGINE})")
    add_gpu_options(p, "a100")
    p.add_argument("--activity-source", default="functional", choices=("functional", "saturated"), help="spike counts (default functional)")
    p.add_argument("--seed", type=int, default=0, help="seed of the functional model (default 0)")
    p.add_argument("--processes", type=positive_int, default=1, help="worker processes (default 1)")
    p.add_argument("--csv", metavar="PATH", help="also write the rows as CSV")
    p.add_argument("--plot", metavar="PATH.png", help="also draw the speed-up vs activity figure (needs matplotlib)")
    p.add_argument("--json", action="store_true", help="print one JSON array of rows instead of tables")
    p.set_defaults(func=_cmd_sweep)


