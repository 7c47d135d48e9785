"""``mimdsim demo``: the main job (the paper's 2-hidden-layer step on a Bow IPU vs an A100)."""

from __future__ import annotations

import argparse

from mimdsim.cli.common import SubParsers, add_engine_options, add_gpu_options, add_machine_options, machine_of, progress_wanted
from mimdsim.cli.run import report
from mimdsim.cli.snn import snn_main

__all__ = ["DEMO_MODEL", "add_demo_parser"]

DEMO_MODEL = "nmnist_a_2hidden"
"""The network ``mimdsim demo`` estimates: the paper's family (a), 2 hidden layers."""


def _cmd_demo(args: argparse.Namespace) -> int:
    if args.bsp:
        machine = machine_of(args)
        from mimdsim.cli.demo_program import run_demo

        res = run_demo(machine, engine=args.engine, progress=progress_wanted())
        return report(args, res, machine)
    from mimdsim.arch.load import resolve_preset
    from mimdsim.cli import build_parser

    snn_args = build_parser().parse_args(
        ["snn", str(resolve_preset(DEMO_MODEL, "snn", "SNN model")), "--machine", args.machine, "--engine", args.engine]
        + ["--compare-gpu", args.compare_gpu]
        + (["--gpu-framework", args.gpu_framework] if args.gpu_framework else [])
        + (["--gpu-precision", args.gpu_precision] if args.gpu_precision else [])
        + [f"--set={k}={v}" for k, v in args.overrides]
        + (["--json"] if args.json else [])
    )
    return snn_main(snn_args)


def add_demo_parser(sub: SubParsers) -> None:
    p = sub.add_parser(
        "demo",
        help="the main job: estimate the paper's 2-hidden-layer SNN training step on a Bow IPU vs an A100",
        description=f"Estimate the training step of models/snn/{DEMO_MODEL}.toml on the machine (default bow) with the A100 "
        "comparison; with --bsp, simulate the built-in BSP demo program instead (mimdsim/cli/demo_program.py).",
    )
    add_machine_options(p, "bow")
    add_engine_options(p)
    add_gpu_options(p, "a100")
    p.add_argument(
        "--bsp", action="store_true", help="run the built-in BSP program (a 2D Jacobi solve) instead of the SNN estimate"
    )
    p.set_defaults(func=_cmd_demo)
