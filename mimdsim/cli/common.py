"""What every subcommand shares: machine and engine options, typed option values, strict
JSON output, and the check of output paths before anything runs."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

from mimdsim.arch import MachineSpec, list_presets, load_machine
from mimdsim.engines import DEFAULT_ENGINE, ENGINES
from mimdsim.errors import ConfigError

__all__ = [
    "SubParsers", "add_engine_options", "add_machine_options", "add_simulation_limits", "check_outputs", "float_values", "layer_list", "machine_of",
    "nonnegative_int", "parse_set", "positive_int", "print_json", "progress_wanted", "to_json", "step_range", "tile_list",
    "add_timeline_options", "timeline_settings", "write_run_timeline",
]  # fmt: skip

SubParsers = Any  # argparse._SubParsersAction (private in the stdlib)


def parse_set(text: str) -> tuple[str, Any]:
    """``key=value``; the value is read as a TOML value (``4``, ``1.85e9``, ``true``), else kept as text."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected key=value (got {text!r})")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key.strip(), value


def add_machine_options(
    p: argparse.ArgumentParser | argparse._ArgumentGroup, default: str | None, default_text: str | None = None
) -> None:
    """``--machine`` (``default``, described by ``default_text`` where it depends on something else) and ``--set``, the
    machine options of every command that runs one."""
    presets = ", ".join(list_presets("machines")) or "bow, mk2, mk1"
    p.add_argument(
        "--machine",
        "-m",
        default=default,
        metavar="NAME|PATH.toml",
        help=f"machine preset ({presets}) or TOML file (default: {default_text or default})",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        type=parse_set,
        default=[],
        metavar="KEY=VALUE",
        help="override a machine field, e.g. --set n_ipus=4 --set exchange_bytes_per_cycle=8 (repeatable)",
    )


def add_engine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--engine", "-e", choices=sorted(ENGINES), default=DEFAULT_ENGINE, help=f"simulation engine (default: {DEFAULT_ENGINE})"
    )
    p.add_argument("--json", action="store_true", help="print exactly one JSON object instead of tables")


def _gpu_framework(text: str) -> str:
    from mimdsim.snn.gpu.frameworks import profile

    try:
        return profile(text).name
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("gpu framework: ")) from None


def add_passes_option(p: argparse.ArgumentParser | argparse._ArgumentGroup, default: str | None) -> None:
    """``--passes NAME|p1,p2,...``: the compiler pipeline applied to the program (docs/passes.md)."""
    from mimdsim.program.passes import PASSES, PIPELINES

    shown = default or "the recording's"
    p.add_argument(
        "--passes", default=default, type=passes_value, metavar="NAME|P1,P2,...",
        help=f"compiler passes over the program: a pipeline ({', '.join(PIPELINES)}; default {shown}) or a comma-separated "
        f"list of passes ({', '.join(PASSES)}); docs/passes.md",
    )  # fmt: skip


def passes_value(text: str) -> str:
    """An argparse type: a pipeline name or a comma-separated list of pass names, checked."""
    from mimdsim.program.passes import passes_label

    try:
        return passes_label(text)
    except ConfigError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_gpu_options(p: argparse.ArgumentParser | argparse._ArgumentGroup, default: str | None, shown: str | None = None) -> None:
    """``--compare-gpu``, ``--gpu-framework`` and ``--gpu-precision`` (docs/gpu_baseline.md); ``shown``: the default
    the help names when the command applies its own."""
    shown = shown or default
    p.add_argument(
        "--compare-gpu",
        default=default,
        metavar="GPU",
        help="also estimate the dense step on a GPU preset (a100, a100_80gb, h100) or TOML file and the speed-ups"
        + (f" (default {shown})" if shown else ""),
    )
    p.add_argument(
        "--gpu-framework",
        type=_gpu_framework,
        default=None,
        metavar="NAME",
        help="how the GPU runs the step: tf-keras-xla (the paper's baseline; default), cuda-graph or fused "
        "(the speed-up over the ideal fused program is reported too)",
    )
    p.add_argument("--gpu-precision", choices=("tf32", "fp32"), help="matmul precision of the GPU (default: the preset's, tf32)")


def check_gpu_given(gpu: str | None, args: argparse.Namespace) -> None:
    """``--gpu-framework`` and ``--gpu-precision`` describe the GPU estimate: refused when there is none, not ignored."""
    for opt, value in (("--gpu-framework", args.gpu_framework), ("--gpu-precision", args.gpu_precision)):
        if gpu is None and value is not None:
            raise ConfigError(f"{opt} {value}: only with --compare-gpu GPU (no GPU step is estimated without it)")


def gpu_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :func:`mimdsim.studies.estimate.estimate_training_step` for the GPU options."""
    check_gpu_given(args.compare_gpu, args)
    out: dict[str, Any] = {"gpu": args.compare_gpu, "gpu_precision": args.gpu_precision}
    if args.gpu_framework is not None:
        out["gpu_framework"] = args.gpu_framework
    return out


def machine_of(args: argparse.Namespace) -> MachineSpec:
    return load_machine(args.machine, **dict(args.overrides))  # a key set twice: the last wins


def _plain(obj: Any) -> Any:
    """``obj`` with numpy values as Python ones and every non-finite float as ``None``."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, np.integer | np.bool_):
        return obj.item()
    if isinstance(obj, float | np.floating):
        value = float(obj)
        return value if math.isfinite(value) else None
    return obj


def to_json(data: object) -> str:
    """Strict JSON (RFC 8259): no ``NaN`` or ``Infinity`` (an undefined figure is ``null``)."""
    return json.dumps(_plain(data), allow_nan=False)


def print_json(data: object) -> None:
    print(to_json(data))


def check_outputs(args: argparse.Namespace, *options: str) -> None:
    """Check every output path option of ``args`` that is set (``--timeline`` is attribute
    ``timeline``) before the command does any work: an empty name, a folder, a missing or
    read-only folder is one line naming the option and the path."""
    from mimdsim.files import check_output_path

    for attr in options:
        value = getattr(args, attr, None)
        if value is not None:
            check_output_path(value, "--" + attr.replace("_", "-"))


def progress_wanted() -> bool:
    return sys.stderr.isatty()


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer (got {text!r})") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer (got {value})")
    return value


def nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0 (got {text!r})") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0 (got {value})")
    return value


def layer_list(text: str) -> list[int]:
    try:
        sizes = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, input first (got {text!r})") from None
    if len(sizes) < 2 or min(sizes) <= 0:
        raise argparse.ArgumentTypeError(f"expected the input size and at least one layer, all > 0 (got {text!r})")
    return sizes


def float_values(text: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or comma-separated numbers (got {text!r})") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    return values


def step_range(text: str) -> tuple[int, int]:
    """``A:B`` as ``(A, B)`` with ``0 <= A < B``."""
    try:
        a, b = (int(x) for x in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected FIRST:STOP, two integers (got {text!r})") from None
    if not 0 <= a < b:
        raise argparse.ArgumentTypeError(f"expected FIRST:STOP with 0 <= FIRST < STOP (got {text!r})")
    return a, b


class TileRanges(tuple[range, ...]):
    """Tile numbers as the ranges the user wrote (``0,5,10-12``): checked against the machine before they are listed,
    so ``0-20000000`` costs nothing until then (:meth:`tiles`)."""

    def tiles(self, n_tiles: int, machine_name: str) -> list[int]:
        """The tile numbers, sorted, once every one is below ``n_tiles``."""
        top = max(r[-1] for r in self)
        if top >= n_tiles:
            first = next(r for r in self if r[-1] >= n_tiles)
            bad = max(first[0], n_tiles)
            raise ConfigError(f"--timeline-tiles: tile {bad} is not on {machine_name} (tiles 0..{n_tiles - 1})")
        return sorted({t for r in self for t in r})


def tile_list(text: str) -> TileRanges:
    """``0,5,10-12`` as the ranges ``0``, ``5`` and ``10..12`` (:class:`TileRanges`)."""
    out: list[range] = []
    try:
        for part in (p.strip() for p in text.split(",") if p.strip()):
            lo, _, hi = part.partition("-")
            out.append(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected tile numbers and ranges such as 0,5,10-12 (got {text!r})") from None
    if not out or any(r.start < 0 or not len(r) for r in out):
        raise argparse.ArgumentTypeError(f"expected tile numbers >= 0 and ranges low-high such as 0,5,10-12 (got {text!r})")
    return TileRanges(out)


def add_simulation_limits(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--max-steps`` and ``--max-events``: the limits a simulation's errors tell the user to raise (run, snn, replay)."""
    from mimdsim.engines import DEFAULT_MAX_STEPS

    p.add_argument(
        "--max-steps",
        type=positive_int,
        default=None,
        metavar="N",
        help=f"most steps the engine may execute, repeats expanded (default {DEFAULT_MAX_STEPS:,})",
    )
    p.add_argument(
        "--max-events",
        type=positive_int,
        default=None,
        metavar="N",
        help="most tile-events the des engine may process (default 200,000,000)",
    )


def add_estimate_limits(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """The limits an estimate's errors tell the user to raise, on every command that estimates a step (snn, replay)."""
    add_simulation_limits(p)
    p.add_argument(
        "--allow-oom", action="store_true", help="simulate even if some tiles exceed their memory (listed in oom_tiles)"
    )
    p.add_argument(
        "--energy-scope", choices=("chip", "machine"), default="chip",
        help="what the energy per step covers: the IPUs (and the GPU card) alone (default), or each IPU's share of the machine too (docs/energy.md)",
    )  # fmt: skip


def estimate_limits(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :func:`~mimdsim.studies.estimate.estimate_training_step` that :func:`add_estimate_limits` sets."""
    return {
        "max_steps": args.max_steps,
        "max_events": args.max_events,
        "allow_oom": args.allow_oom,
        "energy_scope": args.energy_scope,
    }


def add_timeline_options(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--timeline PATH`` and its level of detail (docs/timeline_format.md), in their own group of a parser."""
    g = p.add_argument_group("timeline (docs/timeline_format.md)") if isinstance(p, argparse.ArgumentParser) else p
    g.add_argument(
        "--timeline",
        metavar="PATH",
        help="also write the run's timeline for ui.perfetto.dev: Chrome JSON (.json, .json.gz) or a Perfetto protobuf trace (.pftrace)",
    )
    g.add_argument(
        "--timeline-steps",
        type=step_range,
        action="append",
        metavar="FIRST:STOP",
        help="keep the intervals of these executed steps only, the others summed up per IPU (repeatable)",
    )
    g.add_argument(
        "--timeline-iterations",
        type=step_range,
        metavar="FIRST:STOP",
        help="keep the intervals of these iterations of the top-level loops only (an SNN step's time steps)",
    )
    g.add_argument(
        "--timeline-tiles",
        type=tile_list,
        metavar="LIST",
        help="also record these tiles' compute intervals and counters (e.g. 0,5,10-12)",
    )
    g.add_argument(
        "--max-timeline-events",
        type=positive_int,
        metavar="N",
        help="most intervals (and counter samples) the timeline may hold (default 5,000,000)",
    )


def timeline_settings(args: argparse.Namespace, machine: MachineSpec) -> dict[str, Any]:
    """The ``timeline`` argument of ``simulate`` and ``estimate_training_step`` (a
    :class:`~mimdsim.engines.timeline_detail.TimelineRequest`) from the timeline options; a detail option without
    ``--timeline`` is an error."""
    from mimdsim.engines.timeline_detail import TimelineRequest

    detail = {"timeline_tiles": args.timeline_tiles, "timeline_steps": args.timeline_steps, "timeline_iterations": args.timeline_iterations,
              "max_timeline_events": args.max_timeline_events}  # fmt: skip
    if not args.timeline:
        given = [k for k, v in detail.items() if v is not None]
        if given:
            raise ConfigError(f"--{given[0].replace('_', '-')}: only with --timeline PATH")
        return {}
    tiles = None if args.timeline_tiles is None else args.timeline_tiles.tiles(machine.n_tiles, machine.name)
    request = TimelineRequest(tiles=tiles, steps=args.timeline_steps, iterations=args.timeline_iterations)
    if args.max_timeline_events is not None:
        request = dataclasses.replace(request, max_events=args.max_timeline_events)
    return {"timeline": request}


def wrote(path: str | os.PathLike[str], detail: str = "") -> None:
    """Say on stderr (stdout may be JSON) that a file was written: its path, its size and ``detail``."""
    size = Path(path).stat().st_size
    shown = f"{size / 2**20:,.1f} MiB" if size >= 2**20 else f"{size / 2**10:,.1f} KiB" if size >= 2**10 else f"{size} B"
    print(f"wrote {path} ({shown}{', ' + detail if detail else ''})", file=sys.stderr)


def write_run_timeline(args: argparse.Namespace, result: Any) -> None:
    """Write ``result``'s timeline where ``--timeline`` says (if it says), and say so with its slice count."""
    if args.timeline:
        from mimdsim.report.timeline_file import write_timeline

        write_timeline(result, args.timeline)
        n = len(result.timeline) if result.timeline is not None else 0
        wrote(args.timeline, f"{n:,} slices")
