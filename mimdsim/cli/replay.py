"""``mimdsim replay TRACE``: a recorded step's spike counts on any machine (docs/trace_format.md)."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from mimdsim.cli.common import (
    SubParsers,
    add_estimate_limits,
    add_gpu_options,
    add_machine_options,
    add_passes_option,
    estimate_limits,
    gpu_settings,
    positive_int,
    timeline_settings,
)
from mimdsim.cli.snn import add_output_options, check_estimate_outputs, placement_settings, write_estimate_outputs
from mimdsim.engines import DEFAULT_ENGINE, ENGINES
from mimdsim.errors import MimdsimError
from mimdsim.partition import METHODS
from mimdsim.program.passes import DEFAULT_PIPELINE

__all__ = ["add_replay_parser"]


def _cmd_replay(args: argparse.Namespace) -> int:
    from mimdsim.arch import load_machine
    from mimdsim.snn.activity.trace_file import read_trace, resample
    from mimdsim.snn.lowering.lower import LoweringOptions
    from mimdsim.studies.estimate import estimate_training_step
    from mimdsim.studies.preflight import preflight

    check_estimate_outputs(args)  # before the estimate, not after it

    trace = read_trace(args.trace)
    if trace.spec is None:
        raise MimdsimError(
            f"{args.trace}: a version-1 trace holds no network: use 'mimdsim snn MODEL --activity-source {args.trace}'"
        )
    spec, act = trace.spec, trace.activity
    over = dict(args.overrides)
    if args.n_ipus is not None:
        over["n_ipus"] = args.n_ipus
    machine = load_machine(args.machine, **over)
    run = trace.run
    if args.batch is not None or args.timesteps is not None:
        from pydantic import ValidationError

        from mimdsim.arch.load import format_validation_error
        from mimdsim.snn.model.spec import SNNSpec

        update = {k: v for k, v in (("batch_size", args.batch), ("n_timesteps", args.timesteps)) if v is not None}
        try:
            spec = SNNSpec.model_validate({**spec.model_dump(), **update})
        except ValidationError as err:
            raise MimdsimError(format_validation_error(err, f"{args.trace} (--batch/--timesteps)")) from None
        # what cannot fit (the tiles or this host) is refused from the sizes, before the counts are resampled
        preflight(spec, machine, neurons_per_tile=args.neurons_per_tile or run.get("neurons_per_tile"), allow_oom=args.allow_oom)
        act = resample(act, spec.batch_size, spec.n_timesteps)
    act = dataclasses.replace(act, source=f"trace:{Path(args.trace).name} ({act.source})")  # the header names the trace replayed
    partitioner = args.partition or str(run.get("partitioner") or "contiguous")
    placement = placement_settings(args.mapping, partitioner, machine, partitioner_given=args.partition is not None)
    passes = args.passes or str(run.get("passes") or run.get("lowering") or DEFAULT_PIPELINE)
    neurons_per_tile = args.neurons_per_tile or run.get("neurons_per_tile")
    est = estimate_training_step(
        spec, machine, activity_source=act, engine=args.engine, seed=int(run.get("seed") or 0), neurons_per_tile=neurons_per_tile,
        options=LoweringOptions(passes=passes), **placement, **gpu_settings(args), **timeline_settings(args, machine), **estimate_limits(args),
    )  # fmt: skip
    write_estimate_outputs(args, est, neurons_per_tile, passes)
    return 0


def add_replay_parser(sub: SubParsers) -> None:
    p = sub.add_parser("replay", help="estimate a recorded step (mimdsim snn --record) on any machine, batch size or T",
                       description="Replay the spike counts of a version-2 trace: the network and run options come from the "
                       "trace; the machine, IPUs, batch size and number of time steps are yours (docs/trace_format.md).")  # fmt: skip
    p.add_argument("trace", metavar="TRACE.npz")
    add_machine_options(p, "bow")
    p.add_argument("--n-ipus", type=positive_int, help="number of IPUs")
    p.add_argument(
        "--neurons-per-tile",
        type=positive_int,
        metavar="K",
        help="neurons per tile (default: the recording's, else the smallest that fits)",
    )
    p.add_argument("--batch", type=positive_int, help="batch size: samples taken from the recorded ones in turn")
    p.add_argument("--timesteps", type=positive_int, help="time steps: the recorded sequence stretched or thinned")
    p.add_argument("--engine", "-e", choices=sorted(ENGINES), default=DEFAULT_ENGINE)
    add_passes_option(p, None)  # None: the recording's passes
    p.add_argument("--partitioner", "--partition", dest="partition", metavar="METHOD",
                   help=f"place the neurons with this method ({', '.join(METHODS)}; default: the recording's)")  # fmt: skip
    add_gpu_options(p, None)
    add_estimate_limits(p)
    p.add_argument(
        "--mapping", metavar="PATH.npz", help="place the neurons as this mapping file says (mimdsim partition --save-mapping)"
    )
    add_output_options(p)  # --record, --save-program, --json, --detail, --tile-map, the timeline: as mimdsim snn
    p.set_defaults(func=_cmd_replay)
