"""The ``mimdsim`` command line: exit codes, one JSON object, one-line errors, both engines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mimdsim.arch import load_machine
from mimdsim.cli import SUBCOMMANDS, build_parser, main
from mimdsim.engines import ENGINES, simulate
from mimdsim.program.builder import ProgramBuilder
from mimdsim.program.ir import Program
from mimdsim.program.serialize import save_program

SMALL = ["--machine", "mk2", "--set", "tiles_per_ipu=8"]
"""An 8-tile Mk2: fast to simulate with either engine."""


def _program(nbytes_per_tile: int = 1024) -> Program:
    b = ProgramBuilder("cli-test", batch_size=16)
    b.tensor("w", (range(8), nbytes_per_tile))
    b.host_copy("in", (range(8), 64))
    ex = b.exchange("e")
    ex.send(0, range(1, 8), 256)
    cs = b.compute_set("c").add("V", range(8), cycles=[10, 20, 30, 40, 50, 60, 70, 80], count=7)
    with b.repeat(5):
        b.superstep("step", exchange=ex, compute=cs)
    b.host_copy("out", {7: 32}, direction="from_device")
    return b.build()


@pytest.fixture
def program_file(tmp_path: Path) -> Path:
    path = tmp_path / "prog.json"
    save_program(_program(), path)
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def _assert_one_line_error(rc: int, out: str, err: str, *words: str) -> None:
    assert rc == 2
    assert out == ""  # nothing half-printed before the error
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mimdsim: error: "), err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], lines[0]


# ---- machines ---------------------------------------------------------------------
def test_machines_table(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = _run(capsys, "machines")
    assert rc == 0 and err == ""
    rows = {line.split()[0] for line in out.splitlines()[2:] if line.strip()}
    assert {"bow", "mk1", "mk2"} <= rows
    assert "1,472" in out and "624" in out


def test_machines_json(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(capsys, "machines", "--json")
    assert rc == 0
    data = json.loads(out)
    assert isinstance(data, dict) and data["bow"]["n_tiles"] == 1472 and data["mk1"]["memory_bytes_per_tile"] == 262144


# ---- run --------------------------------------------------------------------------
@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_run_json_is_one_object_matching_simulate(capsys: pytest.CaptureFixture[str], program_file: Path, engine: str) -> None:
    rc, out, err = _run(capsys, "run", str(program_file), *SMALL, "--engine", engine, "--json")
    assert rc == 0 and err == ""
    data = json.loads(out)  # exactly one JSON document: json.loads rejects trailing data
    assert out.count("\n") == 1 and isinstance(data, dict)
    expected = simulate(_program(), load_machine("mk2", tiles_per_ipu=8), engine)
    assert data["total_cycles"] == expected.total_cycles > 0
    assert data["engine"] == engine and data["samples_per_s"] == pytest.approx(expected.samples_per_s)
    assert sum(data["critical_path_cycles"].values()) == data["total_cycles"]
    assert data["machine_spec"]["tiles_per_ipu"] == 8


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_run_table(capsys: pytest.CaptureFixture[str], program_file: Path, engine: str) -> None:
    rc, out, err = _run(capsys, "run", str(program_file), *SMALL, "-e", engine)
    assert rc == 0 and err == ""
    total = simulate(_program(), load_machine("mk2", tiles_per_ipu=8), engine).total_cycles
    for words in (
        f"{total:,} cycles",
        "ms",
        "samples/s (batch of 16)",
        "Poplar-style breakdown",
        "compute (excl. idle threads)",
        "Critical-path breakdown",
        "Top supersteps",
        "max 1,024 B on one tile",
        f"engine    {engine}",
    ):
        assert words in out, words
    top = out.split("Top supersteps")[1].splitlines()[3:]
    assert [line.split()[1] for line in top if line.strip()] == ["step", "in", "out"]


def test_run_gzip_and_machine_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    save_program(_program(), tmp_path / "p.json.gz")
    toml = tmp_path / "tiny.toml"
    toml.write_text('name = "tiny"\ntiles_per_ipu = 8\nmemory_bytes_per_tile = 4096\ntile_clock_hz = 1e9\n')
    rc, out, _ = _run(capsys, "run", str(tmp_path / "p.json.gz"), "--machine", str(toml), "--json")
    assert rc == 0 and json.loads(out)["machine"] == "tiny"


def test_set_values_are_typed(capsys: pytest.CaptureFixture[str], program_file: Path) -> None:
    rc, out, _ = _run(
        capsys,
        "run",
        str(program_file),
        *SMALL,
        "--set",
        "tile_clock_hz=2.5e9",
        "--set",
        "supports_supertile_send_receive=false",
        "--set",
        "link_topology=ladder",
        "--json",
    )
    spec = json.loads(out)["machine_spec"]
    assert (
        rc == 0
        and spec["tile_clock_hz"] == 2.5e9
        and spec["supports_supertile_send_receive"] is False
        and spec["link_topology"] == "ladder"
    )


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["run", "{missing}"], ["missing.json: file not found"]),
        (["run", "{notjson}"], ["notjson.json: not valid JSON"]),
        (["run", "{prog}", "--machine", "mk3"], ["unknown machine preset 'mk3'"]),
        (["run", "{prog}", "--machine", "{missing_toml}"], ["missing.toml: file not found"]),
        (["run", "{prog}", "--set", "bogus=1"], ["bogus: unknown key"]),
        (["run", "{prog}", "--set", "tiles_per_ipu=0", "--set", "n_ipus=x"], ["tiles_per_ipu:", "n_ipus:"]),
        (["run", "{prog}", "--set", "tiles_per_ipu=4"], ["tile 4 does not exist"]),
        (
            ["run", "{prog}", "--set", "tiles_per_ipu=8", "--set", "memory_bytes_per_tile=512"],
            ["does not fit", "tile 0 needs 1,024 B"],
        ),
        (["demo", "--bsp", "--set", "memory_bytes_per_tile=1000"], ["does not fit"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, program_file: Path, argv: list[str], words: list[str]
) -> None:
    (tmp_path / "notjson.json").write_text("{not json")
    subst = {
        "{missing}": str(tmp_path / "missing.json"),
        "{notjson}": str(tmp_path / "notjson.json"),
        "{prog}": str(program_file),
        "{missing_toml}": str(tmp_path / "missing.toml"),
    }
    rc, out, err = _run(capsys, *[subst.get(a, a) for a in argv])
    _assert_one_line_error(rc, out, err, *words)


def test_allow_oom(capsys: pytest.CaptureFixture[str], program_file: Path) -> None:
    rc, out, _ = _run(capsys, "run", str(program_file), *SMALL, "--set", "memory_bytes_per_tile=512", "--allow-oom", "--json")
    assert rc == 0 and json.loads(out)["max_tile_memory_bytes"] == 1024


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["bogus"],
        ["run"],
        ["run", "p.json", "--engine", "warp"],
        ["run", "p.json", "--set", "no_equals_sign"],
        ["machines", "--wat"],
    ],
)
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    rc, out, err = _run(capsys, *argv)
    assert rc == 2 and out == "" and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("mimdsim") and "error:" in err


def test_help_and_version_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(capsys, "--help")
    assert rc == 0 and "machines" in out and "run" in out and "demo" in out
    rc, out, _ = _run(capsys, "--version")
    assert rc == 0 and out.startswith("mimdsim ")


# ---- demo -------------------------------------------------------------------------
@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_demo_small(capsys: pytest.CaptureFixture[str], engine: str) -> None:
    rc, out, err = _run(capsys, "demo", "--bsp", "--set", "tiles_per_ipu=64", "--engine", engine, "--json")
    assert rc == 0 and err == ""
    data = json.loads(out)
    assert data["program"] == "jacobi-2d" and data["n_tiles"] == 64 and data["total_cycles"] > 0


def test_demo_engines_agree(capsys: pytest.CaptureFixture[str]) -> None:
    totals = set()
    for engine in sorted(ENGINES):
        rc, out, _ = _run(capsys, "demo", "--bsp", "--set", "tiles_per_ipu=32", "--set", "n_ipus=2", "-e", engine, "--json")
        assert rc == 0
        totals.add(json.dumps({k: v for k, v in json.loads(out).items() if k not in ("engine", "metadata")}, sort_keys=True))
    assert len(totals) == 1


# ---- structure and entry points ---------------------------------------------------
def test_adding_a_subcommand_is_one_function(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def add_hello_parser(sub: object) -> None:
        p = sub.add_parser("hello", help="say hi")  # type: ignore[attr-defined]
        p.set_defaults(func=lambda args: print("hi") or 0)

    monkeypatch.setattr("mimdsim.cli.SUBCOMMANDS", [*SUBCOMMANDS, add_hello_parser])
    assert "hello" in build_parser().format_help()
    assert _run(capsys, "hello")[:2] == (0, "hi\n")


def test_python_dash_m(tmp_path: Path) -> None:
    bad = subprocess.run(
        [sys.executable, "-m", "mimdsim", "run", str(tmp_path / "x.json")], capture_output=True, text=True, timeout=120
    )
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip() == f"mimdsim: error: {tmp_path / 'x.json'}: file not found"
    ok = subprocess.run([sys.executable, "-m", "mimdsim", "machines", "--json"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "bow" in json.loads(ok.stdout)


@pytest.mark.parametrize("module", ["mimdsim.cli", "mimdsim.cli.demo_program"])
def test_module_doctests(module: str) -> None:
    import doctest
    import importlib

    res = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert res.attempted > 0 and res.failed == 0


def test_console_entry_flushes_output_and_exit_status() -> None:
    """``python -m mimdsim`` runs ``cli.run``: the output is complete and the status kept despite the fast exit."""
    import subprocess
    import sys

    ok = subprocess.run([sys.executable, "-m", "mimdsim", "machines", "--json"], capture_output=True, text=True, check=False)
    assert ok.returncode == 0 and "bow" in json.loads(ok.stdout)
    bad = subprocess.run(
        [sys.executable, "-m", "mimdsim", "run", "/nonexistent.json"], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 2 and bad.stderr.startswith("mimdsim: error:") and bad.stderr.count("\n") == 1
