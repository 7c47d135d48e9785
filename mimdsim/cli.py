"""Command line: ``mimdsim machines | run | snn | sweep | demo`` (argument parsing and printing only).

Every subcommand is one ``add_<name>_parser(subparsers)`` function listed in
:data:`SUBCOMMANDS`; it registers its options and sets ``func`` to a handler
``(args) -> int``. Any :class:`~mimdsim.errors.MimdsimError` (or I/O error) becomes one
line ``mimdsim: error: ...`` on stderr and exit status 2, as argparse does for bad
arguments.

Examples
--------
>>> main(["machines", "--json"]) == 0   # doctest: +ELLIPSIS
{...
True
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tomllib
from collections.abc import Callable
from typing import Any

import numpy as np

from mimdsim import __version__
from mimdsim.arch import MachineSpec, list_presets, load_machine
from mimdsim.engines import DEFAULT_ENGINE, ENGINES, RunResult, simulate
from mimdsim.errors import MimdsimError
from mimdsim.examples.demo import run_demo
from mimdsim.program.serialize import load_program
from mimdsim.report.tables import Column, text_table

__all__ = ["main", "build_parser", "SUBCOMMANDS"]

_SubParsers = Any  # argparse._SubParsersAction (private in the stdlib)


# ---- shared options ---------------------------------------------------------------
def _parse_set(text: str) -> tuple[str, Any]:
    """``key=value``; the value is read as a TOML value (``4``, ``1.85e9``, ``true``), else kept as text."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected key=value (got {text!r})")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key.strip(), value


def _add_machine_options(p: argparse.ArgumentParser, default: str | None) -> None:
    presets = ", ".join(list_presets("machines")) or "bow, mk2, mk1"
    p.add_argument("--machine", "-m", default=default, metavar="NAME|PATH.toml", help=f"machine preset ({presets}) or TOML file (default: {default})")
    p.add_argument(
        "--set", dest="overrides", action="append", type=_parse_set, default=[], metavar="KEY=VALUE",
        help="override a machine field, e.g. --set n_ipus=4 --set exchange_bytes_per_cycle=8 (repeatable)",
    )


def _add_engine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine", "-e", choices=sorted(ENGINES), default=DEFAULT_ENGINE, help=f"simulation engine (default: {DEFAULT_ENGINE})")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object instead of tables")


def _machine(args: argparse.Namespace) -> MachineSpec:
    return load_machine(args.machine, **dict(args.overrides))  # a key set twice: the last wins


# ---- output -----------------------------------------------------------------------
def _json_default(obj: object) -> object:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _print_json(data: object) -> None:
    print(json.dumps(data, default=_json_default))


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


def _format_result(res: RunResult, machine: MachineSpec) -> str:
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
    head.append(f"memory    max {mem:,} B on one tile ({_pct(mem, cap)} of {cap:,} B; tile {int(np.argmax(res.tile_memory_bytes)) if res.n_tiles else 0})")
    top = [{**r.__dict__, "share": _pct(r.cycles, total)} for r in res.top_supersteps(5)]
    top_columns = (
        Column("index", "#"), Column("name", "name"), Column("kind", "kind"), Column("n_executions", "runs", "{:,}"),
        Column("cycles", "cycles", "{:,}"), _SHARE, Column("bound", "bound"), Column("critical_tile", "crit. tile"),
    )
    return "\n".join(
        [
            *head,
            "",
            "Poplar-style breakdown (mean over tiles; compute excl. idle is a sub-line of compute)",
            _category_table(res.breakdown_cycles(), total, "cycles/tile", "{:,.1f}"),
            "",
            "Critical-path breakdown (adds up to the total)",
            _category_table(res.critical_path_cycles(), total, "cycles", "{:,}"),
            "",
            "Top supersteps",
            text_table(top, top_columns),
        ]
    )


def _report(args: argparse.Namespace, res: RunResult, machine: MachineSpec) -> int:
    if args.json:
        _print_json({**res.to_dict(), "machine_spec": machine.model_dump()})
    else:
        print(_format_result(res, machine))
    return 0


def _progress() -> bool:
    return sys.stderr.isatty()


# ---- subcommands ------------------------------------------------------------------
def _cmd_machines(args: argparse.Namespace) -> int:
    specs = [load_machine(name) for name in list_presets("machines")]
    if args.json:
        _print_json({m.name: {**m.model_dump(), "n_tiles": m.n_tiles} for m in specs})
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
        Column("name", "preset"), Column("n_ipus", "IPUs"), Column("tiles_per_ipu", "tiles/IPU", "{:,}"),
        Column("kib_per_tile", "KiB/tile", "{:,}"), Column("mib_per_ipu", "MiB/IPU", "{:,.1f}"), Column("ghz", "GHz", "{:g}"),
        Column("num_worker_contexts", "workers"), Column("exchange_bytes_per_cycle", "exch B/cyc"),
        Column("sync_cycles", "sync cyc"), Column("global_sync_cycles", "global sync"),
        Column("links", "links GB/s", align="right"), Column("host_gb_s", "host GB/s", "{:g}"),
    )
    print(text_table(rows, columns))
    print("\nAny field can be changed with --set KEY=VALUE; see docs/machine_format.md.")
    return 0


def add_machines_parser(sub: _SubParsers) -> None:
    p = sub.add_parser("machines", help="list the machine presets and their key numbers", description="List the machine presets.")
    p.add_argument("--json", action="store_true", help="print one JSON object: every preset's full description")
    p.set_defaults(func=_cmd_machines)


def _cmd_run(args: argparse.Namespace) -> int:
    machine = _machine(args)
    program = load_program(args.program)
    if args.timeline:
        from mimdsim.trace.timeline import check_output_path, write_chrome_trace

        check_output_path(args.timeline)  # before the run, not after it
    res = simulate(
        program, machine, "des" if args.timeline else args.engine, progress=_progress(), check_memory_fits=not args.allow_oom,
        timeline=bool(args.timeline),
    )
    if args.timeline:
        write_chrome_trace(res, args.timeline)
    return _report(args, res, machine)


def add_run_parser(sub: _SubParsers) -> None:
    p = sub.add_parser(
        "run", help="simulate a program file on a machine",
        description="Simulate a program file (docs/program_format.md) on a machine (docs/machine_format.md).",
    )
    p.add_argument("program", metavar="PROGRAM.json", help="program file (.json or .json.gz)")
    _add_machine_options(p, "bow")
    _add_engine_options(p)
    p.add_argument("--allow-oom", action="store_true", help="simulate even if some tiles exceed their memory")
    p.add_argument("--timeline", metavar="PATH.json[.gz]", help="also write the run's timeline for ui.perfetto.dev (runs the des engine whatever --engine says; docs/timeline_format.md)")
    p.set_defaults(func=_cmd_run)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer (got {text!r})") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer (got {value})")
    return value


def _layer_list(text: str) -> list[int]:
    try:
        sizes = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, input first (got {text!r})") from None
    if len(sizes) < 2 or min(sizes) <= 0:
        raise argparse.ArgumentTypeError(f"expected the input size and at least one layer, all > 0 (got {text!r})")
    return sizes


def _float_values(text: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or comma-separated numbers (got {text!r})") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    return values


def _spec_overrides(args: argparse.Namespace, spec: Any) -> Any:
    """``spec`` with the run's network options applied (batch, T, S_in, optimizer, weight scale, θ2, ...)."""
    fields: dict[str, Any] = {}
    for key, attr in (
        ("batch_size", "batch"), ("n_timesteps", "timesteps"), ("input_sparse_size", "input_sparse_size"), ("optimizer", "optimizer"),
        ("weight_mul", "weight_mul"), ("n_input_addresses", "input_addresses"), ("steps_per_execution", "steps_per_execution"),
    ):  # fmt: skip
        if getattr(args, attr) is not None:
            fields[key] = getattr(args, attr)
    data = {**spec.model_dump(), **fields}
    if args.second_threshold is not None:
        values = args.second_threshold
        if len(values) == 1:
            data["second_threshold"] = values[0]
            data["layers"] = [{**lay, "second_threshold": None} for lay in data["layers"]]
        elif len(values) == len(data["layers"]):
            data["layers"] = [{**lay, "second_threshold": v} for lay, v in zip(data["layers"], values, strict=True)]
        else:
            raise MimdsimError(f"--second-threshold: {len(values)} values for {len(data['layers'])} layers (give one, or one per layer)")
    if not fields and args.second_threshold is None:
        return spec
    from pydantic import ValidationError

    from mimdsim.arch.load import format_validation_error

    try:
        return type(spec).model_validate(data)
    except ValidationError as err:
        raise MimdsimError(format_validation_error(err, "SNN model (with the command line's options)")) from None


def _snn_estimate(args: argparse.Namespace) -> Any:
    """Resolve model file, run hints and flags (flags win), then estimate."""
    from mimdsim.snn.estimate import estimate_training_step
    from mimdsim.snn.lower import LoweringOptions
    from mimdsim.snn.spec import RunHints, load_snn_model, snn_from_sizes

    if args.model is not None:
        if args.layers is not None:
            raise MimdsimError("give either a MODEL.toml or --layers, not both")
        spec, hints = load_snn_model(args.model, activity=args.activity)
    else:
        if args.layers is None:
            raise MimdsimError("give a MODEL.toml (see models/snn/) or --layers N_IN,N_1,...,N_OUT")
        hints = RunHints()
        spec = snn_from_sizes(
            args.layers,
            activity=0.01 if args.activity is None else args.activity,
            input_sparse_size=32 if args.input_sparse_size is None else args.input_sparse_size,
            batch_size=48 if args.batch is None else args.batch,
            n_timesteps=100 if args.timesteps is None else args.timesteps,
            optimizer=args.optimizer or "adam",
            name="cli",
        )
    spec = _spec_overrides(args, spec)
    overrides = dict(args.overrides)
    n_ipus = args.n_ipus if args.n_ipus is not None else hints.n_ipus
    if n_ipus is not None:
        overrides.setdefault("n_ipus", n_ipus)
    machine = load_machine(args.machine or hints.machine, **overrides)
    return estimate_training_step(
        spec,
        machine,
        activity=args.activity_source,
        rate=args.rate,
        input_rate=args.input_rate,
        input_data=args.input_data,
        engine=args.engine or ("des" if args.timeline else hints.engine),
        timeline=bool(args.timeline),
        neurons_per_tile=args.neurons_per_tile if args.neurons_per_tile is not None else hints.neurons_per_tile,
        seed=args.seed if args.seed is not None else hints.seed,
        gpu=args.compare_gpu,
        allow_oom=args.allow_oom,
        options=LoweringOptions(lowering=args.lowering),
    )


def _cmd_snn(args: argparse.Namespace) -> int:
    from mimdsim.report.snn import format_snn_estimate

    if args.timeline:
        from mimdsim.trace.timeline import check_output_path, write_chrome_trace

        check_output_path(args.timeline)  # before the estimate, not after it
    est = _snn_estimate(args)
    if args.save_program:
        from mimdsim.program.serialize import save_program

        save_program(est.program, args.save_program)
    if args.timeline:
        write_chrome_trace(est.result, args.timeline)
    if args.json:
        _print_json(est.to_dict())
    else:
        print(format_snn_estimate(est))
    return 0


def _add_snn_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("network (without MODEL.toml; these also override a model file's values)")
    g.add_argument("--layers", type=_layer_list, metavar="N_IN,N_1,...,N_OUT", help="layer sizes, input first, e.g. 2312,1466,1466,10")
    g.add_argument("--batch", type=_positive_int, help="batch size B (default 48; a multiple of 6)")
    g.add_argument("--timesteps", type=_positive_int, help="time steps T (default 100)")
    g.add_argument("--activity", type=float, metavar="A", help="max activity in (0, 1]: sparse size 2*floor(A*N/2) per layer (default 0.01)")
    g.add_argument("--input-sparse-size", type=_positive_int, metavar="S_IN", help="input sparse size (default 32)")
    g.add_argument("--optimizer", choices=("adam", "sgd"), help="optimizer (default adam)")
    g.add_argument("--weight-mul", type=float, metavar="W", help="initial weight scale, the authors' weight_mul (default 2.0, their final benchmark script)")
    g.add_argument(
        "--second-threshold", type=_float_values, metavar="TH2[,TH2,...]",
        help="second threshold θ2: one value for every layer, or one per layer (default 0.9; the scripts use 0.9-0.98, -100 on the output layer in one)",
    )
    g.add_argument(
        "--input-addresses", type=_positive_int, metavar="N",
        help="distinct input ids the data uses, when fewer than the first layer's inputs (the scripts' NMNIST: 1152 of 2312)",
    )
    g.add_argument("--steps-per-execution", type=_positive_int, metavar="N", help="Keras steps per device execution: they share the machine's execution_overhead_s")
    r = p.add_argument_group("run")
    r.add_argument("--machine", "-m", default=None, metavar="NAME|PATH.toml", help="machine preset or TOML file (default: the model's [run] machine, else bow)")
    r.add_argument("--set", dest="overrides", action="append", type=_parse_set, default=[], metavar="KEY=VALUE", help="override a machine field (repeatable)")
    r.add_argument("--n-ipus", type=_positive_int, help="number of IPUs (sets the machine's n_ipus)")
    r.add_argument("--neurons-per-tile", type=_positive_int, metavar="K", help="neurons per tile (default: smallest even k that fits the tiles)")
    r.add_argument("--engine", "-e", choices=sorted(ENGINES), default=None, help=f"simulation engine (default: {DEFAULT_ENGINE})")
    r.add_argument(
        "--lowering", choices=("poplar", "fused"), default="poplar",
        help="poplar: the authors' Poplar program call by call (default); fused: the condensed sequence, a what-if (docs/snn.md)",
    )
    r.add_argument("--seed", type=int, help="seed of the functional model's weights and input (default 0)")
    r.add_argument(
        "--activity-source", default="functional", metavar="SOURCE",
        help="spike counts: functional (run the sparse SNN on Poisson input; default), parametric (needs --rate), "
        "saturated (every sparse tensor full) or a trace file PATH.npz",
    )
    r.add_argument("--rate", type=float, help="firing rate for --activity-source parametric")
    r.add_argument("--input-rate", type=float, help="input spike probability per input and step (default 0.01)")
    r.add_argument(
        "--input-data", metavar="PATH",
        help="drive the functional model with the first B samples of a dataset you hold: an SHD .h5 file or a folder of NMNIST .bin files",
    )
    r.add_argument("--compare-gpu", metavar="GPU", help="also estimate the dense step on a GPU preset (a100, a100_80gb, h100) and the speed-up")
    r.add_argument("--allow-oom", action="store_true", help="simulate even if some tiles exceed their memory (listed in oom_tiles)")
    r.add_argument("--save-program", metavar="PATH.json[.gz]", help="also save the lowered BSP program (replay it with `mimdsim run`)")
    r.add_argument("--timeline", metavar="PATH.json[.gz]", help="also write the step's timeline for ui.perfetto.dev (needs the des engine, the default with it; docs/timeline_format.md)")
    r.add_argument("--json", action="store_true", help="print exactly one JSON object instead of tables")


def add_snn_parser(sub: _SubParsers) -> None:
    p = sub.add_parser(
        "snn", help="estimate one sparse SNN BPTT training step on a machine",
        description="Estimate one training step (forward over T steps, BPTT, update) of a sparse SNN, as lowered by the "
        "seed paper (Finkbeiner et al., AAAI 2024), tile by tile and cycle by cycle. See docs/snn.md.",
    )
    p.add_argument("model", nargs="?", metavar="MODEL.toml", help="SNN model file (models/snn/*.toml)")
    _add_snn_options(p)
    p.set_defaults(func=_cmd_snn)


def _float_list(text: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers (got {text!r})") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    return values


def _cmd_sweep(args: argparse.Namespace) -> int:
    from mimdsim.program.serialize import atomic_write_bytes
    from mimdsim.report.tables import SNN_COLUMNS, format_table, pivot_table
    from mimdsim.sweep import PAPER_FAMILY_A_ACTIVITIES, PAPER_FAMILY_A_MODELS, snn_sweep

    models = args.models or list(PAPER_FAMILY_A_MODELS)
    activities = args.activities or list(PAPER_FAMILY_A_ACTIVITIES)
    machine = load_machine(args.machine, **dict(args.overrides))
    rows = snn_sweep(
        models, activities, machine, args.compare_gpu, args.engine, processes=args.processes,
        activity_source=args.activity_source, seed=args.seed,
    )
    if args.csv:
        atomic_write_bytes(args.csv, format_table(rows, SNN_COLUMNS, "csv").encode())
    if args.plot:
        from mimdsim.report.plots import plot_speedup_vs_activity

        if args.compare_gpu is None:
            raise MimdsimError("--plot draws the speed-up over a GPU: give --compare-gpu too")
        plot_speedup_vs_activity(rows, args.plot)
    if args.json:
        _print_json(rows)
        return 0
    print(format_table(rows, SNN_COLUMNS, "text"))
    if args.compare_gpu:
        print(f"\nSpeed-up over the dense step on {args.compare_gpu} (hidden layers x max activity)")
        print(pivot_table(rows))
    return 0


def add_sweep_parser(sub: _SubParsers) -> None:
    p = sub.add_parser(
        "sweep", help="estimate SNN models over max activities (default: the paper's family (a) sweep)",
        description="Estimate every MODEL at every max activity; by default the paper's family (a): "
        "models/snn/nmnist_a_{2,3,4,5}hidden x activities 0.005..0.1, on bow vs a100.",
    )
    p.add_argument("models", nargs="*", metavar="MODEL", help="model preset names (models/snn/) or TOML paths")
    p.add_argument("--activities", type=_float_list, metavar="A,B,...", help="max activities (default 0.005,0.01,0.02,0.05,0.1)")
    p.add_argument("--machine", "-m", default="bow", metavar="NAME|PATH.toml", help="machine preset or TOML file (default bow)")
    p.add_argument("--set", dest="overrides", action="append", type=_parse_set, default=[], metavar="KEY=VALUE", help="override a machine field (repeatable)")
    p.add_argument("--engine", "-e", choices=sorted(ENGINES), default=DEFAULT_ENGINE, help=f"simulation engine (default {DEFAULT_ENGINE})")
    p.add_argument("--compare-gpu", default="a100", metavar="GPU", help="GPU preset of the dense baseline (default a100)")
    p.add_argument("--activity-source", default="functional", choices=("functional", "saturated"), help="spike counts (default functional)")
    p.add_argument("--seed", type=int, default=0, help="seed of the functional model (default 0)")
    p.add_argument("--processes", type=_positive_int, default=1, help="worker processes (default 1)")
    p.add_argument("--csv", metavar="PATH", help="also write the rows as CSV")
    p.add_argument("--plot", metavar="PATH.png", help="also draw the speed-up vs activity figure (needs matplotlib)")
    p.add_argument("--json", action="store_true", help="print one JSON array of rows instead of tables")
    p.set_defaults(func=_cmd_sweep)


DEMO_MODEL = "nmnist_a_2hidden.toml"
"""The network ``mimdsim demo`` estimates: the paper's family (a), 2 hidden layers."""


def _cmd_demo(args: argparse.Namespace) -> int:
    if args.bsp:
        machine = _machine(args)
        res = run_demo(machine, engine=args.engine, progress=_progress())
        return _report(args, res, machine)
    from mimdsim.arch.load import models_dir

    snn_args = build_parser().parse_args(
        ["snn", str(models_dir() / "snn" / DEMO_MODEL), "--machine", args.machine, "--engine", args.engine, "--compare-gpu", "a100"]
        + [f"--set={k}={v}" for k, v in args.overrides]
        + (["--json"] if args.json else [])
    )
    return _cmd_snn(snn_args)


def add_demo_parser(sub: _SubParsers) -> None:
    p = sub.add_parser(
        "demo", help="the main job: estimate the paper's 2-hidden-layer SNN training step on a Bow IPU vs an A100",
        description=f"Estimate the training step of models/snn/{DEMO_MODEL} on the machine (default bow) with the A100 "
        "comparison; with --bsp, simulate the built-in BSP demo program instead (mimdsim/examples/demo.py).",
    )
    _add_machine_options(p, "bow")
    _add_engine_options(p)
    p.add_argument("--bsp", action="store_true", help="run the built-in BSP program (a 2D Jacobi solve) instead of the SNN estimate")
    p.set_defaults(func=_cmd_demo)


SUBCOMMANDS: list[Callable[[_SubParsers], None]] = [
    add_machines_parser,
    add_run_parser,
    add_snn_parser,
    add_sweep_parser,
    add_demo_parser,
]
"""Parser builders, in the order ``mimdsim --help`` lists them; add a subcommand by appending one."""


def build_parser() -> argparse.ArgumentParser:
    """The ``mimdsim`` argument parser with every subcommand of :data:`SUBCOMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="mimdsim",
        description="Tile-level simulator of IPU-like MIMD manycores.",
        epilog="Docs: docs/concepts.md, docs/program_format.md, docs/machine_format.md",
    )
    parser.add_argument("--version", action="version", version=f"mimdsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def _one_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


def run() -> None:
    """The console script: :func:`main`, then a fast exit.

    The cyclic garbage collector runs less often (:func:`mimdsim.sweep.relaxed_gc`).
    Everything the command wrote is flushed and closed by the end; ``os._exit`` skips the
    interpreter's teardown (collecting every object of a large simulation: up to half a
    second), which has nothing left to do.
    """
    from mimdsim.sweep import relaxed_gc

    relaxed_gc()
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    """Run the ``mimdsim`` command line; returns the exit status (0 ok, 2 bad input)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return int(args.func(args))
    except SystemExit as exc:  # argparse: --help / --version (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    except MimdsimError as err:
        print(f"mimdsim: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except OSError as err:
        if isinstance(err, BrokenPipeError):  # e.g. `mimdsim machines | head`
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        where = f"{err.filename}: " if getattr(err, "filename", None) else ""
        print(f"mimdsim: error: {where}{err.strerror or _one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mimdsim: interrupted", file=sys.stderr)
        return 130
