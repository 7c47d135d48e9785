"""``mimdsim partition``: the table, --json keys, --plot, --save-mapping with snn --mapping, and bad input (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mimdsim.cli import main

MODEL = """
name = "tiny_local"
n_inputs = 128
input_sparse_size = 12
max_activity = 0.25
batch_size = 6
n_timesteps = 3
[[layers]]
n_neurons = 128
connectivity = { kind = "local2d", in_shape = [8, 8, 2], out_shape = [8, 8, 2], kernel = [3, 3] }
shuffle_seed = 1
[[layers]]
n_neurons = 4
[run]
machine = "bow"
neurons_per_tile = 8
"""
KEYS = {"method", "ms_per_step", "breakdown_cycles", "edge_cut", "fanin_total", "fanin_max", "comm_volume_bytes", "max_tile_receive_bytes",
        "inter_ipu_bytes", "compute_imbalance", "min_memory_headroom_bytes", "partition_seconds"}  # fmt: skip


@pytest.fixture
def model(tmp_path: Path) -> Path:
    p = tmp_path / "tiny_local.toml"
    p.write_text(MODEL)
    return p


def _code(argv: list[str]) -> int:
    """Exit status of the CLI: argparse's errors exit, ours return 2."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_json_rows_have_the_issue_keys(model: Path, capsys) -> None:
    rc, out, err = _run(capsys, "partition", str(model), "--methods", "contiguous,greedy,metis,refine", "--set", "tiles_per_ipu=64",
                        "--evaluations", "3", "--json")  # fmt: skip
    assert rc == 0 and err == ""
    rows = json.loads(out)
    assert [r["method"] for r in rows] == ["contiguous", "greedy", "metis", "refine(metis)"]
    for r in rows:
        assert KEYS <= r.keys()
        assert set(r["breakdown_cycles"]) == {"compute", "exchange", "global_exchange", "host_exchange", "sync"}
    assert rows[3]["ms_per_step"] <= rows[2]["ms_per_step"]  # refine never worse than its start
    assert rows[1]["fanin_total"] < rows[0]["fanin_total"]  # shuffled ids: grouping by inputs beats contiguous


def test_table_plot_and_saved_mapping(model: Path, tmp_path: Path, capsys) -> None:
    plot, saved = tmp_path / "study.png", tmp_path / "best.npz"
    rc, out, _ = _run(capsys, "partition", str(model), "--methods", "contiguous,greedy", "--set", "tiles_per_ipu=64", "--plot", str(plot),
                      "--save-mapping", str(saved))  # fmt: skip
    assert rc == 0 and "fan-in total" in out and "fastest:" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = json.loads(
        _run(capsys, "partition", str(model), "--methods", "contiguous,greedy", "--set", "tiles_per_ipu=64", "--json")[1]
    )
    best = min(rows, key=lambda r: r["ms_per_step"])
    rc, out, _ = _run(capsys, "snn", str(model), "--set", "tiles_per_ipu=64", "--mapping", str(saved), "--json")
    assert rc == 0 and json.loads(out)["ms_per_step"] == pytest.approx(best["ms_per_step"])
    rc, out, _ = _run(capsys, "snn", str(model), "--set", "tiles_per_ipu=64", "--partitioner", best["method"], "--json")
    assert rc == 0 and json.loads(out)["ms_per_step"] == pytest.approx(best["ms_per_step"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--methods", "contiguous,nope"], "'nope' is not a method (allowed: contiguous, round_robin"),
        (["--start", "refine"], "--start: 'refine' is not a method refine can start from"),
        (["--neurons-per-tile", "8", "--set", "tiles_per_ipu=8"], "need 17 tiles, more than fit 1 IPU(s) of 8 tiles"),
        (["--unit-neurons", "3"], "unit_neurons: 3 does not divide neurons_per_tile 8"),
        (["--plot", "x.txt"], "--plot: x.txt: the name must end in"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(model: Path, argv: list[str], message: str, capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    assert _code(["partition", str(model), "--set", "tiles_per_ipu=64", *argv]) == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]  # argparse prints its usage first; the error is one line
    assert message in last and "error:" in last and "Traceback" not in err


def test_a_missing_package_names_the_extra(model: Path, capsys, monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "mtkahypar", None)
    assert _code(["partition", str(model), "--set", "tiles_per_ipu=64", "--methods", "hypergraph"]) == 2
    assert "pip install 'mimdsim[partition]'" in capsys.readouterr().err
