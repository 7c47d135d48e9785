"""Command line: ``mimdsim machines | run | snn | replay | compare | partition | sweep | export | plot | report | diff | demo`` (argument parsing and printing only).

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
import os
import sys
from collections.abc import Callable

from mimdsim import __version__
from mimdsim.cli.common import SubParsers
from mimdsim.cli.demo import add_demo_parser
from mimdsim.cli.partition import add_partition_parser
from mimdsim.cli.replay import add_replay_parser
from mimdsim.cli.report import add_diff_parser, add_plot_parser, add_report_parser
from mimdsim.cli.run import add_machines_parser, add_run_parser
from mimdsim.cli.snn import add_compare_parser, add_snn_parser
from mimdsim.cli.sweep import add_export_parser, add_sweep_parser
from mimdsim.errors import MimdsimError

__all__ = ["main", "run", "build_parser", "SUBCOMMANDS"]

SUBCOMMANDS: list[Callable[[SubParsers], None]] = [
    add_machines_parser,
    add_run_parser,
    add_snn_parser,
    add_replay_parser,
    add_compare_parser,
    add_partition_parser,
    add_sweep_parser,
    add_export_parser,
    add_plot_parser,
    add_report_parser,
    add_diff_parser,
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

    The cyclic garbage collector runs less often (:func:`mimdsim.sweep.relaxed_gc`), and
    Numba starts without probing for BLAS (:func:`mimdsim.numba_setup.skip_blas_probe`: no
    mimdsim kernel uses it, and the probe imports ``scipy.linalg``, 0.2 s).
    Everything the command wrote is flushed and closed by the end; ``os._exit`` skips the
    interpreter's teardown (collecting every object of a large simulation: up to half a
    second), which has nothing left to do.
    """
    from mimdsim.numba_setup import skip_blas_probe
    from mimdsim.sweep import relaxed_gc

    relaxed_gc()
    skip_blas_probe()
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    """Run the ``mimdsim`` command line; returns the exit status (0 ok, 2 bad input)."""
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args))
    except SystemExit as exc:  # argparse: --help / --version (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    except MimdsimError as err:
        print(f"mimdsim: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except MemoryError:
        print(
            "mimdsim: error: out of memory (the host could not hold what this run needs; try a smaller configuration)",
            file=sys.stderr,
        )
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
