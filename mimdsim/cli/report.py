"""``mimdsim plot`` and ``mimdsim report`` (figures and a page of a result store), ``mimdsim diff`` (two estimates, what changed)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from mimdsim.cli.common import SubParsers, positive_int, print_json
from mimdsim.errors import ConfigError

__all__ = ["add_plot_parser", "add_diff_parser", "add_report_parser"]


def _cmd_plot(args: argparse.Namespace) -> int:
    from mimdsim.report import sweep_plots as sp
    from mimdsim.report.plots import check_figure_path
    from mimdsim.sweep.frame import frame_rows, store_frame

    check_figure_path(args.out, "--out")
    df = store_frame(args.store)
    rows = frame_rows(df)
    varying = sp.varying_axes(rows, list(df.columns))
    if args.stack:
        sp.plot_stack(rows, args.out, label=varying or ["model"])
    elif args.energy:
        points = sp.plot_energy(rows, args.out, label=varying or ["model"])
        print(f"time vs energy: {sum(p.side == 'ipu' for p in points)} IPU and {sum(p.side == 'gpu' for p in points)} GPU points")
    elif args.pareto:
        if args.x is None or args.y is None:
            raise ConfigError("--pareto needs --x and --y (the two outputs)")
        front = sp.plot_pareto(
            rows, args.out, x=args.x, y=args.y, x_better=args.x_better, y_better=args.y_better, label=varying or ["model"]
        )
        print(f"Pareto front: {len(front)} of {sum(1 for r in rows if not r.get('error'))} points")
    elif args.ratio:
        axis, _, values = args.ratio.partition("=")
        a, sep, b = values.partition("/")
        if not sep or args.x is None:
            raise ConfigError("--ratio AXIS=A/B needs two values and --x")
        series = sp.ratio_data(rows, axis, _value(a), _value(b), args.x, args.y or "ms_per_step")
        sp.plot_series(series, args.out, x=args.x, y=f"{args.y or 'ms_per_step'}({axis}={a}) / ({axis}={b})", log_x=args.log_x)
    else:
        if args.x is None or args.y is None:
            raise ConfigError("give --x and --y (or --stack, --pareto, --ratio, --energy)")
        sp.plot_series(sp.series_data(rows, args.x, args.y, args.by), args.out, x=args.x, y=args.y, log_x=args.log_x)
    print(f"wrote {args.out}")
    return 0


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def add_plot_parser(sub: SubParsers) -> None:
    p = sub.add_parser("plot", help="a figure of a result store (mimdsim sweep --out): an output vs an axis, a ratio, a Pareto front, cycle stacks",
                       description="Figures of a result store; --x/--y name columns of 'mimdsim export' (point keys such as "
                       "machine.exchange_bytes_per_cycle, record fields such as ms_per_step).")  # fmt: skip
    p.add_argument("store", metavar="RESULTS.jsonl")
    p.add_argument("--out", "-o", required=True, metavar="PATH.png")
    p.add_argument("--x", help="column on the x axis")
    p.add_argument("--y", help="column on the y axis")
    p.add_argument("--by", help="one line per value of this column")
    p.add_argument("--log-x", action="store_true", help="log-scale x axis")
    p.add_argument(
        "--ratio", metavar="AXIS=A/B", help="y(AXIS=A) / y(AXIS=B) vs --x (y default ms_per_step: the speed-up of B over A)"
    )
    p.add_argument("--pareto", action="store_true", help="scatter --x vs --y with the Pareto front")
    p.add_argument("--x-better", choices=("low", "high"), default="low")
    p.add_argument("--y-better", choices=("low", "high"), default="low")
    p.add_argument("--stack", action="store_true", help="stacked bars: cycles per superstep kind, per point")
    p.add_argument(
        "--energy",
        action="store_true",
        help="energy per step (band) against time per step, IPU and GPU, per point (docs/energy.md)",
    )
    p.set_defaults(func=_cmd_plot)


def _cmd_report(args: argparse.Namespace) -> int:
    from mimdsim.report.store_report import write_store_report

    print(f"wrote {write_store_report(args.store, args.out)}")
    return 0


def add_report_parser(sub: SubParsers) -> None:
    p = sub.add_parser("report", help="a Markdown page with the table, the failures and the figures of a result store")
    p.add_argument("store", metavar="RESULTS.jsonl")
    p.add_argument("--out", "-o", required=True, metavar="DIR", help="an existing folder for report.md and its figures")
    p.set_defaults(func=_cmd_report)


def _read_json(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"{path}: cannot read ({err.strerror or err})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not JSON ({err})") from None


def _cmd_diff(args: argparse.Namespace) -> int:
    from mimdsim.report.diff import check_diff_input, diff_estimates, diff_text

    a, b = (check_diff_input(_read_json(path), path) for path in (args.a, args.b))
    d = diff_estimates(a, b, n=args.top)
    if args.json:
        print_json(d)
    else:
        print(diff_text(d))
    return 0


def add_diff_parser(sub: SubParsers) -> None:
    p = sub.add_parser(
        "diff", help="compare two 'mimdsim snn --json --detail' outputs: the supersteps and tiles that changed most"
    )
    p.add_argument("a", metavar="A.json")
    p.add_argument("b", metavar="B.json")
    p.add_argument("--top", type=positive_int, default=10, help="superstep kinds and tiles to list (default 10)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_diff)
