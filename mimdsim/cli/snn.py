"""``mimdsim snn``: one SNN training step estimated on a machine."""

from __future__ import annotations

import argparse
from typing import Any

from mimdsim.arch import MachineSpec
from mimdsim.cli.common import (
    SubParsers,
    add_estimate_limits,
    add_gpu_options,
    add_machine_options,
    add_passes_option,
    add_timeline_options,
    check_outputs,
    estimate_limits,
    float_values,
    gpu_settings,
    layer_list,
    nonnegative_int,
    positive_int,
    print_json,
    timeline_settings,
    write_run_timeline,
    wrote,
)
from mimdsim.engines import DEFAULT_ENGINE, ENGINES
from mimdsim.errors import MimdsimError
from mimdsim.partition import METHODS
from mimdsim.program.passes import DEFAULT_PIPELINE
from mimdsim.snn.model.spec import PROGRAM_VERSIONS

__all__ = ["add_snn_parser", "snn_main"]


def _spec_overrides(args: argparse.Namespace, spec: Any) -> Any:
    """``spec`` with the run's network options applied (batch, T, S_in, optimizer, weight scale, θ2, ...)."""
    fields: dict[str, Any] = {}
    for key, attr in (
        ("batch_size", "batch"), ("n_timesteps", "timesteps"), ("input_sparse_size", "input_sparse_size"), ("optimizer", "optimizer"),
        ("weight_mul", "weight_mul"), ("n_input_addresses", "input_addresses"), ("steps_per_execution", "steps_per_execution"),
        ("program_version", "program_version"),
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
            raise MimdsimError(
                f"--second-threshold: {len(values)} values for {len(data['layers'])} layers (give one, or one per layer)"
            )
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
    from mimdsim.snn.lowering.lower import LoweringOptions
    from mimdsim.snn.model.spec import RunHints, load_snn_model, snn_from_sizes
    from mimdsim.studies.estimate import estimate_training_step, run_settings

    if args.model is not None and str(args.model).endswith(".nir"):
        if args.layers is not None:
            raise MimdsimError("give either a model (.toml or .nir) or --layers, not both")
        from mimdsim.snn.model.nir import snn_from_nir

        hints = RunHints()
        spec = snn_from_nir(
            args.model, dt=1e-3 if args.dt is None else args.dt, batch_size=48 if args.batch is None else args.batch, n_timesteps=100 if args.timesteps is None else args.timesteps,
            max_activity=0.01 if args.activity is None else args.activity, input_sparse_size=args.input_sparse_size,
        )  # fmt: skip
    elif args.dt is not None:
        raise MimdsimError(f"--dt {args.dt:g}: the time step applies to a .nir model only (a MODEL.toml or --layers has decays)")
    elif args.model is not None:
        if args.layers is not None:
            raise MimdsimError("give either a MODEL.toml or --layers, not both")
        spec, hints = load_snn_model(args.model, max_activity=args.activity)
    else:
        if args.layers is None:
            raise MimdsimError("give a MODEL.toml (see models/snn/) or --layers N_IN,N_1,...,N_OUT")
        hints = RunHints()
        spec = snn_from_sizes(
            args.layers,
            max_activity=0.01 if args.activity is None else args.activity,
            input_sparse_size=32 if args.input_sparse_size is None else args.input_sparse_size,
            batch_size=48 if args.batch is None else args.batch,
            n_timesteps=100 if args.timesteps is None else args.timesteps,
            optimizer=args.optimizer or "adam",
            name="cli",
        )
    spec = _spec_overrides(args, spec)
    machine, run = run_settings(
        hints, machine=args.machine, machine_overrides=dict(args.overrides), n_ipus=args.n_ipus,
        neurons_per_tile=args.neurons_per_tile, engine=args.engine, seed=args.seed,
    )  # fmt: skip
    placement = placement_settings(args.mapping, args.partitioner, machine, partitioner_given=args.partitioner != "contiguous")
    return estimate_training_step(
        spec,
        machine,
        **placement,
        activity_source=args.activity_source,
        rate=args.rate,
        input_rate=args.input_rate,
        input_data=args.input_data,
        **timeline_settings(args, machine),
        **gpu_settings(args),
        options=LoweringOptions(passes=args.passes),
        **estimate_limits(args),
        **run,
    )


def placement_settings(mapping: str | None, partitioner: str, machine: MachineSpec, *, partitioner_given: bool) -> dict[str, Any]:
    """The placement keyword of an estimate (snn and replay): a ``--mapping`` file (made for ``machine``'s shape),
    else the partitioner."""
    if mapping is None:
        return {"partitioner": partitioner}
    if partitioner_given:
        raise MimdsimError("give either --mapping or --partitioner, not both")
    from mimdsim.partition.mapping_file import load_mapping
    from mimdsim.studies.placement import check_mapping_machine

    loaded = load_mapping(mapping)
    check_mapping_machine(loaded, machine, mapping)
    return {"mapping": loaded}


def check_estimate_outputs(args: argparse.Namespace) -> None:
    """Every file an estimate will write, checked before the estimate (snn and replay)."""
    check_outputs(args, "timeline", "save_program", "record")
    if args.detail and not args.json:
        raise MimdsimError("--detail: adds fields to the JSON object: give --json too")
    if args.tile_map is not None:
        from mimdsim.report.plots import check_figure_path

        check_figure_path(args.tile_map, "--tile-map")


def write_estimate_outputs(args: argparse.Namespace, est: Any, neurons_per_tile: int | None, passes: str) -> None:
    """The files :func:`add_output_options` asks for, each said on stderr, then the estimate on stdout (snn and replay)."""
    from mimdsim.report.snn import format_snn_estimate

    if args.save_program:
        from mimdsim.program.serialize import save_program

        save_program(est.program, args.save_program)
        wrote(args.save_program, f"the lowered program, {est.program.n_executed_steps():,} steps executed")
    write_run_timeline(args, est.result)
    if args.record:
        from mimdsim.snn.activity.trace_file import save_trace

        save_trace(args.record, est.activity, est.spec, recorded_run(est, neurons_per_tile, passes))
        wrote(args.record, f"spike counts of B = {est.spec.batch_size}, T = {est.spec.n_timesteps}")
    if args.tile_map:
        from mimdsim.report.tile_maps import estimate_detail, plot_tile_maps

        plot_tile_maps(estimate_detail(est), args.tile_map, title=f"{est.spec.name} on {est.machine.name}")
        wrote(args.tile_map, f"{est.machine.n_tiles:,} tiles")
    if args.json:
        from mimdsim.report.tile_maps import estimate_detail

        print_json({**est.to_dict(), **(estimate_detail(est) if args.detail else {})})
    else:
        print(format_snn_estimate(est))


def add_output_options(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """What an estimate can write besides its figures (snn and replay)."""
    p.add_argument(
        "--record",
        metavar="TRACE.npz",
        help="also write the spike counts with the network and run options (replay with `mimdsim replay`; docs/trace_format.md)",
    )
    p.add_argument(
        "--save-program", metavar="PATH.json[.gz]", help="also save the lowered BSP program (replay it with `mimdsim run`)"
    )
    p.add_argument("--json", action="store_true", help="print exactly one JSON object instead of tables")
    p.add_argument(
        "--detail",
        action="store_true",
        help="with --json: add cycles per superstep kind, per-tile busy cycles and memory, and the machine's fields (for mimdsim diff)",
    )
    p.add_argument("--tile-map", metavar="PATH.png", help="draw per-tile heat maps of busy cycles and memory in tile order")
    add_timeline_options(p)


def snn_main(args: argparse.Namespace) -> int:
    check_estimate_outputs(args)  # before the estimate, not after it
    est = _snn_estimate(args)
    write_estimate_outputs(args, est, args.neurons_per_tile, args.passes)
    return 0


def recorded_run(est: Any, neurons_per_tile: int | None, passes: str) -> dict[str, Any]:
    """The run options a trace keeps (none machine-specific): what ``mimdsim replay`` uses by default."""
    from mimdsim.program.passes import passes_label

    return {"seed": est.seed, "neurons_per_tile": neurons_per_tile, "partitioner": est.mapping.method, "passes": passes_label(passes),
            "program_version": est.spec.program_version, "activity_source": est.activity_source}  # fmt: skip


def _add_snn_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("network (without MODEL.toml; these also override a model file's values)")
    g.add_argument(
        "--layers", type=layer_list, metavar="N_IN,N_1,...,N_OUT", help="layer sizes, input first, e.g. 2312,1466,1466,10"
    )
    g.add_argument(
        "--dt",
        type=float,
        metavar="SECONDS",
        help="time step of a .nir model: its time constants become decays exp(-dt/tau) (default 1e-3)",
    )
    g.add_argument("--batch", type=positive_int, help="batch size B (default 48; a multiple of 6)")
    g.add_argument("--timesteps", type=positive_int, help="time steps T (default 100)")
    g.add_argument(
        "--activity", type=float, metavar="A", help="max activity in (0, 1]: sparse size 2*floor(A*N/2) per layer (default 0.01)"
    )
    g.add_argument("--input-sparse-size", type=positive_int, metavar="S_IN", help="input sparse size (default 32)")
    g.add_argument("--optimizer", choices=("adam", "sgd"), help="optimizer (default adam)")
    g.add_argument(
        "--weight-mul",
        type=float,
        metavar="W",
        help="initial weight scale, the authors' weight_mul (default 2.0, their final benchmark script)",
    )
    g.add_argument(
        "--second-threshold",
        type=float_values,
        metavar="TH2[,TH2,...]",
        help="second threshold θ2: one value for every layer, or one per layer (default 0.9; the scripts use 0.9-0.98, -100 on the output layer in one)",
    )
    g.add_argument(
        "--input-addresses",
        type=positive_int,
        metavar="N",
        help="distinct input ids the data uses, when fewer than the first layer's inputs (the scripts' NMNIST: 1152 of 2312)",
    )
    g.add_argument(
        "--steps-per-execution",
        type=positive_int,
        metavar="N",
        help="Keras steps per device execution: they share the machine's execution_overhead_s",
    )
    g.add_argument(
        "--program-version",
        choices=PROGRAM_VERSIONS,
        default=None,
        help="version of the authors' op to lower: final (3e05811, default) or 2022-09-12 (2b0fe90, the code of the measured run; docs/snn.md)",
    )
    r = p.add_argument_group("run")
    add_machine_options(r, None, "the model's [run] machine, else bow")
    r.add_argument("--n-ipus", type=positive_int, help="number of IPUs (sets the machine's n_ipus)")
    r.add_argument(
        "--neurons-per-tile",
        type=positive_int,
        metavar="K",
        help="neurons per tile (default: smallest even k that fits the tiles)",
    )
    r.add_argument("--engine", "-e", choices=sorted(ENGINES), default=None, help=f"simulation engine (default: {DEFAULT_ENGINE})")
    add_passes_option(r, DEFAULT_PIPELINE)
    r.add_argument(
        "--seed",
        type=nonnegative_int,
        help="seed of the functional model's weights and input, and of the partitioner (default 0)",
    )
    r.add_argument(
        "--partitioner",
        default="contiguous",
        metavar="METHOD",
        help=f"place the neurons with this method ({', '.join(METHODS)}; default contiguous, the paper's; docs/partitioning.md)",
    )
    r.add_argument(
        "--mapping", metavar="PATH.npz", help="place the neurons as this mapping file says (mimdsim partition --save-mapping)"
    )
    r.add_argument(
        "--activity-source",
        default="functional",
        metavar="SOURCE",
        help="spike counts: functional (run the sparse SNN on Poisson input; default), parametric (needs --rate), "
        "saturated (every sparse tensor full), a trace file PATH.npz, or a count table PATH.csv / PATH.parquet (docs/trace_format.md)",
    )
    r.add_argument("--rate", type=float, help="firing rate for --activity-source parametric")
    r.add_argument("--input-rate", type=float, help="input spike probability per input and step (default 0.01)")
    r.add_argument(
        "--input-data",
        metavar="PATH",
        help="drive the functional model with the first B samples of a dataset you hold: an SHD .h5 file or a folder of NMNIST .bin files",
    )
    add_gpu_options(r, None)
    add_estimate_limits(r)
    add_output_options(r)


def compare_main(args: argparse.Namespace) -> int:
    from mimdsim.report.compare import compare_profile, compare_text, read_profile
    from mimdsim.report.tile_maps import estimate_detail

    profile = read_profile(args.profile)  # before the estimate
    est = _snn_estimate(args)
    detail = estimate_detail(est)
    rows, totals, tiles = compare_profile(profile, detail["step_kind_cycles"], est.cycles_per_step, detail["tile_busy_cycles"])
    if args.json:
        print_json({"steps": rows, "total": totals, "tiles": tiles, "model": est.spec.name, "machine": est.machine.name})
    else:
        print(compare_text(rows, totals, tiles))
    return 0


def add_compare_parser(sub: SubParsers) -> None:
    p = sub.add_parser(
        "compare",
        help="measured cycles per program step (a profile JSON) against the simulation of MODEL",
        description="Compare a profile (cycles per program step, optionally per tile, exported from PopVision; "
        "docs/trace_format.md) with the simulated step of MODEL run with the same options as mimdsim snn.",
    )
    p.add_argument("profile", metavar="PROFILE.json")
    p.add_argument("model", nargs="?", metavar="MODEL.toml", help="SNN model file (models/snn/*.toml)")
    _add_snn_options(p)
    p.set_defaults(func=compare_main)


def add_snn_parser(sub: SubParsers) -> None:
    p = sub.add_parser(
        "snn",
        help="estimate one sparse SNN BPTT training step on a machine",
        description="Estimate one training step (forward over T steps, BPTT, update) of a sparse SNN, as lowered by the "
        "seed paper (Finkbeiner et al., AAAI 2024), tile by tile and cycle by cycle. See docs/snn.md.",
    )
    p.add_argument(
        "model",
        nargs="?",
        metavar="MODEL",
        help="SNN model: a file (.toml, or a NIR graph .nir: docs/ecosystem.md) or a preset name of models/snn/",
    )
    _add_snn_options(p)
    p.set_defaults(func=snn_main)
