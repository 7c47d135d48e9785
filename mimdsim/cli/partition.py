"""``mimdsim partition MODEL --methods ...``: a partitioning study (docs/partitioning.md)."""

from __future__ import annotations

import argparse
from typing import Any

from mimdsim.cli.common import SubParsers, add_machine_options, check_outputs, nonnegative_int, positive_int, print_json, wrote
from mimdsim.engines import DEFAULT_ENGINE, ENGINES
from mimdsim.errors import ConfigError
from mimdsim.partition import DEFAULT_STARTS, METHODS

__all__ = ["add_partition_parser"]

DEFAULT_METHODS = "contiguous,greedy,metis,hypergraph,refine"


def _methods(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected a comma-separated list of methods")
    for n in names:
        if n not in METHODS:
            raise argparse.ArgumentTypeError(f"{n!r} is not a method (allowed: {', '.join(METHODS)})")
    return names


def _columns() -> list[Any]:
    """The table's columns (built when printing: the table module is imported only then)."""
    from mimdsim.report.tables import Column

    return [
        Column("method", "method"),
        Column("ms_per_step", "ms/step", "{:.4f}"),
        Column("breakdown_cycles.exchange", "exchange cyc", "{:,}"),
        Column("breakdown_cycles.compute", "compute cyc", "{:,}"),
        Column("edge_cut", "edge cut", "{:,.1f}"),
        Column("fanin_total", "fan-in total", "{:,}"),
        Column("fanin_max", "fan-in max", "{:,}"),
        Column("comm_volume_bytes", "comm B", "{:,}"),
        Column("max_tile_receive_bytes", "max rx B", "{:,}"),
        Column("inter_ipu_bytes", "inter-IPU B", "{:,}"),
        Column("compute_imbalance", "imbalance", "{:.3f}"),
        Column("min_memory_headroom_bytes", "headroom B", "{:,}"),
        Column("partition_seconds", "seconds", "{:.2f}"),
    ]


def _cmd_partition(args: argparse.Namespace) -> int:
    from mimdsim.snn.lowering.lower import check_batch
    from mimdsim.snn.model.spec import load_snn_model
    from mimdsim.studies.estimate import make_activity, run_settings
    from mimdsim.studies.partition_study import partition_study
    from mimdsim.studies.preflight import preflight

    check_outputs(args, "save_mapping")
    if args.plot is not None:
        from mimdsim.report.plots import check_figure_path

        check_figure_path(args.plot, "--plot")
    spec, hints = load_snn_model(args.model, max_activity=args.activity)
    machine, run = run_settings(hints, machine=args.machine, machine_overrides=dict(args.overrides), n_ipus=args.n_ipus,
                                neurons_per_tile=args.neurons_per_tile, engine=args.engine, seed=args.seed)  # fmt: skip
    starts = [m.strip() for m in args.start.split(",")]
    bad = [m for m in starts if m not in METHODS or m == "refine"]
    if bad or not starts:
        raise ConfigError(
            f"--start: {bad[0] if bad else args.start!r} is not a method refine can start from ({', '.join(m for m in METHODS if m != 'refine')})"
        )
    check_batch(spec, machine)
    preflight(spec, machine, neurons_per_tile=run["neurons_per_tile"], allow_oom=args.allow_oom)  # before the activity's run
    act, _ = make_activity(spec, args.activity_source, seed=run["seed"], rate=args.rate)
    rows = partition_study(
        spec, machine, act, args.methods, seed=run["seed"], neurons_per_tile=run["neurons_per_tile"], unit_neurons=args.unit_neurons,
        engine=run["engine"], start=starts, max_evaluations=args.evaluations, allow_oom=args.allow_oom, mix_layers=args.mix_layers,
    )  # fmt: skip
    dicts = [m.to_dict() for m, _ in rows]
    best = min(range(len(rows)), key=lambda i: rows[i][0].ms_per_step)
    if args.save_mapping:
        from mimdsim.partition.mapping_file import save_mapping

        save_mapping(args.save_mapping, rows[best][1].mapping)
        wrote(args.save_mapping, f"the mapping of {dicts[best]['method']}, the fastest")
    if args.plot:
        from mimdsim.report.partition_plots import plot_partition_study

        est = rows[best][1]
        busy = est.result.tile_compute_cycles
        plot_partition_study(dicts, busy, machine.tiles_per_ipu, args.plot, title=f"{spec.name} on {machine.name}")
        wrote(args.plot, f"{len(dicts)} methods")
    if args.json:
        print_json(dicts)
    else:
        from mimdsim.report.tables import format_table

        print(f"{spec.name} on {machine.name} ({machine.n_ipus} IPU(s)), {act.source} activity, seed {run['seed']}")
        print(format_table(dicts, _columns()))
        print(f"fastest: {dicts[best]['method']}")
    return 0


def add_partition_parser(sub: SubParsers) -> None:
    p = sub.add_parser(
        "partition", help="compare partitioning methods on an SNN model: graph metrics and simulated ms/step",
        description="Place the model's neurons with each method, simulate the training step with each mapping and print "
        "one row per method (docs/partitioning.md).",
    )  # fmt: skip
    p.add_argument("model", metavar="MODEL.toml")
    p.add_argument("--methods", type=_methods, default=_methods(DEFAULT_METHODS), metavar="M1,M2,...",
                   help=f"methods, in the table's order ({', '.join(METHODS)}; default {DEFAULT_METHODS})")  # fmt: skip
    add_machine_options(p, None, "the model's [run] machine")
    p.add_argument("--n-ipus", type=positive_int, help="number of IPUs")
    p.add_argument(
        "--neurons-per-tile",
        type=positive_int,
        metavar="K",
        help="most neurons per tile (default: the model's, else the smallest that fits)",
    )
    p.add_argument(
        "--unit-neurons", type=positive_int, default=1, metavar="G", help="neurons per placement unit (default 1; must divide K)"
    )
    p.add_argument("--seed", type=nonnegative_int, help="seed of the activity and of the methods (default: the model's, else 0)")
    p.add_argument("--engine", "-e", choices=sorted(ENGINES), default=None, help=f"simulation engine (default: {DEFAULT_ENGINE})")
    p.add_argument("--activity", type=float, metavar="A", help="max activity in (0, 1] (overrides the model's max_activity)")
    p.add_argument("--activity-source", default="functional", metavar="SOURCE",
                   help="spike counts that weigh the nets and drive the costs: functional (default), parametric (needs --rate), a trace PATH.npz")  # fmt: skip
    p.add_argument("--rate", type=float, help="firing rate for --activity-source parametric")
    p.add_argument(
        "--start",
        default=",".join(DEFAULT_STARTS),
        metavar="M1,M2,...",
        help=f"the mappings refine costs first; it starts from the cheapest (default {','.join(DEFAULT_STARTS)})",
    )
    p.add_argument(
        "--evaluations", type=positive_int, default=None, metavar="N", help="most simulations refine runs (default 16)"
    )
    p.add_argument(
        "--mix-layers",
        action="store_true",
        help="let layers share tiles and span IPUs (default: each layer keeps contiguous's tiles)",
    )
    p.add_argument(
        "--allow-oom", action="store_true", help="simulate mappings whose tiles exceed their memory (headroom goes negative)"
    )
    p.add_argument(
        "--save-mapping", metavar="PATH.npz", help="write the fastest method's mapping (use it with mimdsim snn --mapping)"
    )
    p.add_argument(
        "--plot", metavar="PATH.png", help="draw ms/step and receive bytes per method and the fastest mapping's per-tile load"
    )
    p.add_argument("--json", action="store_true", help="print a JSON list, one object per method")
    p.set_defaults(func=_cmd_partition)
