"""``mimdsim sweep`` (models x activities, or a sweep spec; a store that resumes; Dask) and ``mimdsim export``."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from concurrent.futures import Executor
from typing import Any

from mimdsim.cli.common import (
    SubParsers,
    add_gpu_options,
    add_machine_options,
    check_gpu_given,
    check_outputs,
    float_values,
    positive_int,
    print_json,
    wrote,
)
from mimdsim.engines import DEFAULT_ENGINE, ENGINES
from mimdsim.errors import MimdsimError

__all__ = ["add_sweep_parser", "add_export_parser", "spec_of_args"]


def spec_of_args(args: argparse.Namespace) -> Any:
    """The sweep spec of the command line: ``--spec``, or models x ``--activities`` with the other options as its base."""
    from mimdsim.sweep.snn import PAPER_FAMILY_A_ACTIVITIES, PAPER_FAMILY_A_MODELS, check_gpu
    from mimdsim.sweep.spec import MAX_POINTS, SweepSpec, load_sweep_spec

    if args.spec is not None:
        if args.models or args.activities:
            raise MimdsimError("--spec: give the models and activities in the spec, not as arguments")
        given = [(opt, key) for opt, key, value in (
            ("--machine", "machine", args.machine), ("--set", "machine.<field>", args.overrides or None), ("--engine", "engine", args.engine),
            ("--compare-gpu", "gpu", args.compare_gpu), ("--gpu-framework", "gpu_framework", args.gpu_framework),
            ("--gpu-precision", "gpu_precision", args.gpu_precision), ("--activity-source", "activity_source", args.activity_source),
            ("--seed", "seed", args.seed),
        ) if value is not None]  # fmt: skip
        if given:
            opt, key = given[0]
            raise MimdsimError(
                f"{opt}: with --spec, set it in the spec ([base] {key} = ..., or as an axis); the spec's points are what run"
            )
        return load_sweep_spec(args.spec, max_points=args.max_points or MAX_POINTS)
    named = "a100" if args.compare_gpu is None else str(args.compare_gpu)
    gpu = None if named.lower() == "none" else named
    check_gpu_given(gpu, args)
    check_gpu(gpu, args.gpu_framework, args.gpu_precision)
    base: dict[str, Any] = {
        "machine": args.machine or "bow", **{f"machine.{k}": v for k, v in args.overrides}, "engine": args.engine or DEFAULT_ENGINE,
        "gpu": gpu, "gpu_framework": args.gpu_framework, "gpu_precision": args.gpu_precision,
        "activity_source": args.activity_source or "functional", "seed": 0 if args.seed is None else args.seed,
    }  # fmt: skip
    grid = {
        "model": args.models or list(PAPER_FAMILY_A_MODELS),
        "max_activity": args.activities or list(PAPER_FAMILY_A_ACTIVITIES),
    }
    return SweepSpec.from_dict(
        {"name": "cli", "base": {k: v for k, v in base.items() if v is not None}, "grid": grid},
        "mimdsim sweep",
        max_points=args.max_points or MAX_POINTS,
    )


@contextlib.contextmanager
def _executor(args: argparse.Namespace) -> Iterator[Executor | None]:
    if args.scheduler is not None and args.dask_local is not None:
        raise MimdsimError("--scheduler and --dask-local: give one of them")
    if args.scheduler is None and args.dask_local is None:
        yield None
        return
    from mimdsim.sweep.dask import dask_executor

    with dask_executor(args.scheduler, local_workers=args.dask_local) as ex:
        yield ex


def _plot(rows: list[dict[str, Any]], axes: list[str], path: str) -> None:
    """The sweep's figure: the paper's (speed-up vs activity per depth) for models x activities; otherwise the step
    time against the first numeric axis, one line per combination of the others."""
    from mimdsim.report import sweep_plots as sp
    from mimdsim.report.plots import plot_speedup_vs_activity

    if set(axes) <= {"model", "max_activity"}:
        plot_speedup_vs_activity(rows, path)
    else:
        numeric = sp.numeric_axes(rows, axes)
        if not numeric:
            raise MimdsimError(f"--plot: no swept axis is numeric ({', '.join(axes)}): use mimdsim plot on the store")
        x = numeric[0]
        sp.plot_series(sp.step_time_series(rows, x, axes), path, x=x, y="ms_per_step", log_x=x == "max_activity")


def _dry_run(spec: Any, shown: int) -> int:
    """The number of points and the first ``shown`` of them (their axes), each checked as a run would check it; nothing runs."""
    from mimdsim.report.tables import Column, format_table
    from mimdsim.sweep.snn import prepare_point

    points = spec.points()
    axes = list(spec.axes) or ["model"]
    print(f"{spec.name}: {len(points):,} points; axes: {', '.join(axes)}; the first {min(shown, len(points))}:")
    print(format_table(points[:shown], [Column(a, a) for a in axes], "text"), flush=True)
    for point in points:  # the values every point would run with, refused here as the run would refuse them
        prepare_point(point)
    print(f"every point's values can run ({len(points):,} checked); nothing ran")
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from mimdsim.files import write_text
    from mimdsim.report.tables import SNN_COLUMNS, Column, format_table, pivot_table
    from mimdsim.studies.record import record_fields
    from mimdsim.sweep.run import spec_records

    check_outputs(args, "csv")
    if args.csv is not None and args.out is not None:
        from mimdsim.files import check_output_path

        check_output_path(args.csv, "--csv", inputs=[args.out])
    if args.plot is not None:
        from mimdsim.report.plots import check_figure_path

        check_figure_path(args.plot, "--plot")
    if args.out is not None and not str(args.out).endswith(".jsonl"):
        raise MimdsimError(f"--out: {args.out}: a result store is a .jsonl file")
    spec = spec_of_args(args)
    if args.dry_run:
        return _dry_run(spec, args.dry_run)
    with _executor(args) as ex:
        run = spec_records(spec, out=args.out, processes=args.processes, executor=ex, progress=False if args.quiet else None)
    rows = run.records
    fields = set(record_fields())
    axes = [a for a in spec.axes if a not in fields]
    columns = (*(Column(a, a) for a in axes), *SNN_COLUMNS)  # the swept axes first: a row says which point it is
    if args.csv:
        write_text(args.csv, format_table(rows, columns, "csv"), what="--csv")
        if not args.quiet:
            wrote(args.csv, f"{len(rows)} rows")
    if args.plot:
        _plot(rows, list(spec.axes), args.plot)
        if not args.quiet:
            wrote(args.plot, f"{len(rows)} points")
    if not args.quiet and (run.reused or run.failed):
        print(
            f"{spec.name}: {len(rows)} points, {run.ran} run now, {run.reused} from {args.out}, {run.failed} failed",
            file=sys.stderr,
        )
    if not args.quiet and args.spec is not None and not any(p.get("gpu") for p in spec.points()):  # only the GPU they name
        print(
            f'{spec.name}: no GPU baseline (no speed-up columns): set gpu = "a100" in the spec\'s [base] for one', file=sys.stderr
        )
    if args.json:
        print_json(rows)
        return 0
    print(format_table(rows, columns, "text"))
    for r in rows:
        if r.get("error"):
            where = ", ".join(f"{a} {r.get(a)}" for a in ("model", "max_activity", *axes))
            print(f"failed: {where}: {r['error']}")
    if any(r.get("speedup_vs_gpu") is not None for r in rows):
        gpus = sorted({str(r["gpu"]) for r in rows if r.get("gpu")})
        groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for r in rows:  # one pivot per value of the other axes: a cell never hides a second point
            groups.setdefault(tuple(str(r.get(a)) for a in axes), []).append(r)
        for key, group in groups.items():
            which = "".join(f", {a} = {v}" for a, v in zip(axes, key, strict=True))
            print(f"\nSpeed-up over the dense step on {', '.join(gpus)} (hidden layers x max activity{which})")
            print(pivot_table(group))
    return 0


def add_sweep_parser(sub: SubParsers) -> None:
    p = sub.add_parser(
        "sweep",
        help="estimate SNN design points: models x max activities, or a sweep spec (docs/sweeps.md)",
        description="Estimate every MODEL at every max activity (by default the paper's family (a): "
        "models/snn/nmnist_a_{2,3,4,5}hidden x 0.005..0.1 on bow vs a100), or every point of --spec. "
        "With --out the points are appended to a result store as they finish, and a rerun skips those it holds.",
    )
    p.add_argument("models", nargs="*", metavar="MODEL", help="model preset names (models/snn/) or TOML paths")
    p.add_argument(
        "--spec", metavar="NAME|PATH.toml", help="a sweep spec (models/sweeps/ or a file) instead of models x activities"
    )
    p.add_argument("--activities", type=float_values, metavar="A,B,...", help="max activities (default 0.005,0.01,0.02,0.05,0.1)")
    add_machine_options(p, None, "bow; with --spec: the spec's")
    p.add_argument("--engine", "-e", choices=sorted(ENGINES), default=None, help=f"simulation engine (default {DEFAULT_ENGINE})")
    add_gpu_options(p, None, "a100; none: no GPU step")
    p.add_argument(
        "--activity-source", default=None, choices=("functional", "saturated"), help="spike counts (default functional)"
    )
    p.add_argument("--seed", type=int, default=None, help="seed of the functional model (default 0)")
    p.add_argument("--processes", type=positive_int, default=1, help="local worker processes (default 1)")
    p.add_argument(
        "--scheduler", metavar="tcp://HOST:PORT", help="run on this Dask distributed scheduler (pip install 'mimdsim[dask]')"
    )
    p.add_argument(
        "--dask-local", type=positive_int, metavar="N", help="start a Dask LocalCluster of N worker processes and run on it"
    )
    p.add_argument("--out", metavar="RESULTS.jsonl", help="result store: append each point as it finishes; a rerun resumes")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no summary on stderr")
    p.add_argument("--csv", metavar="PATH", help="also write the rows as CSV")
    p.add_argument(
        "--plot",
        metavar="PATH.png",
        help="also draw the sweep's figure: step time vs the first numeric axis, a line per value of the others (the paper's figure for models x activities; needs matplotlib)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON array of result records instead of tables")
    p.add_argument("--dry-run", nargs="?", type=positive_int, const=10, default=None, metavar="N",
                   help="check every point and print how many there are and the first N (default 10); run and write nothing")  # fmt: skip
    p.add_argument("--max-points", type=positive_int, default=None, metavar="N",
                   help="the most points a spec may expand to (default 200,000: counted from the spec's shape before any point is built)")  # fmt: skip
    p.set_defaults(func=_cmd_sweep)


def _cmd_export(args: argparse.Namespace) -> int:
    from mimdsim.sweep.frame import export_results

    n = export_results(args.store, args.out)
    print(f"wrote {args.out} ({n} rows)")
    return 0


def add_export_parser(sub: SubParsers) -> None:
    p = sub.add_parser("export", help="write a result store as Parquet, CSV or JSON lines",
                       description="Write the table of a result store (mimdsim sweep --out) to OUT: .parquet (needs pyarrow), .csv or .jsonl.")  # fmt: skip
    p.add_argument("store", metavar="RESULTS.jsonl")
    p.add_argument("out", metavar="OUT")
    p.set_defaults(func=_cmd_export)
