"""What every subcommand shares: machine and engine options, typed option values, strict
JSON output, and the check of output paths before anything runs."""

from __future__ import annotations

import argparse
import json
import math
import sys
import tomllib
from typing import Any

import numpy as np

from mimdsim.arch import MachineSpec, list_presets, load_machine
from mimdsim.engines import DEFAULT_ENGINE, ENGINES

__all__ = [
    "SubParsers", "add_engine_options", "add_machine_options", "check_outputs", "float_values", "layer_list", "machine_of",
    "nonnegative_int", "parse_set", "positive_int", "print_json", "progress_wanted", "to_json",
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


def add_machine_options(p: argparse.ArgumentParser, default: str | None) -> None:
    presets = ", ".join(list_presets("machines")) or "bow, mk2, mk1"
    p.add_argument("--machine", "-m", default=default, metavar="NAME|PATH.toml", help=f"machine preset ({presets}) or TOML file (default: {default})")
    p.add_argument(
        "--set", dest="overrides", action="append", type=parse_set, default=[], metavar="KEY=VALUE",
        help="override a machine field, e.g. --set n_ipus=4 --set exchange_bytes_per_cycle=8 (repeatable)",
    )


def add_engine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine", "-e", choices=sorted(ENGINES), default=DEFAULT_ENGINE, help=f"simulation engine (default: {DEFAULT_ENGINE})")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object instead of tables")


def _gpu_framework(text: str) -> str:
    from mimdsim.snn.gpu_frameworks import profile

    try:
        return profile(text).name
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("gpu framework: ")) from None


def add_gpu_options(p: argparse.ArgumentParser | argparse._ArgumentGroup, default: str | None) -> None:
    """``--compare-gpu``, ``--gpu-framework`` and ``--gpu-precision`` (docs/gpu_baseline.md)."""
    p.add_argument(
        "--compare-gpu", default=default, metavar="GPU",
        help="also estimate the dense step on a GPU preset (a100, a100_80gb, h100) or TOML file and the speed-ups"
        + (f" (default {default})" if default else ""),
    )
    p.add_argument(
        "--gpu-framework", type=_gpu_framework, default=None, metavar="NAME",
        help="how the GPU runs the step: tf-keras-xla (the paper's baseline; default), cuda-graph or fused "
        "(the speed-up over the ideal fused program is reported too)",
    )
    p.add_argument("--gpu-precision", choices=("tf32", "fp32"), help="matmul precision of the GPU (default: the preset's, tf32)")


def gpu_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :func:`mimdsim.snn.estimate.estimate_training_step` for the GPU options."""
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


