"""Sweeps show what was swept and keep their results safe: the table, JSON, CSV and report carry every swept axis;
a pivot never hides a second point; run options given with --spec are refused; no command writes over its input;
two sweeps on one store compute and store each point once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mimdsim.cli import main
from tests.models import write_tiny


def _spec(tmp_path: Path) -> Path:
    model = write_tiny(tmp_path)
    spec = tmp_path / "bw.toml"
    spec.write_text(
        f'name = "bw"\n[base]\nmodel = "{model}"\nmachine = "bow"\n"machine.tiles_per_ipu" = 64\ngpu = "a100"\n'
        '[grid]\n"machine.exchange_bytes_per_cycle" = [4, 8]\nmax_activity = [0.25, 0.5]\n'
    )
    return spec


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_every_output_carries_the_swept_axis(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec, store, csv = _spec(tmp_path), tmp_path / "a.jsonl", tmp_path / "a.csv"
    rc, out, _ = _run(capsys, "sweep", "--spec", str(spec), "--out", str(store), "--csv", str(csv), "--quiet")
    assert rc == 0
    head = out.splitlines()[0]
    assert head.startswith("machine.exchange_bytes_per_cycle")
    # one pivot per exchange rate: the two rates' speed-ups are never folded into one cell
    assert "max activity, machine.exchange_bytes_per_cycle = 4)" in out and "machine.exchange_bytes_per_cycle = 8)" in out
    assert csv.read_text().splitlines()[0].startswith("machine.exchange_bytes_per_cycle,")
    rc, out, _ = _run(capsys, "sweep", "--spec", str(spec), "--out", str(store), "--json", "--quiet")
    recs = json.loads(out)
    assert rc == 0 and [r["machine.exchange_bytes_per_cycle"] for r in recs] == [4, 4, 8, 8]
    (tmp_path / "rep").mkdir()
    assert _run(capsys, "report", str(store), "-o", str(tmp_path / "rep"))[0] == 0
    rows = [line for line in (tmp_path / "rep" / "report.md").read_text().splitlines() if line.startswith("|")]
    head_cells = [c.strip() for c in rows[0].strip("|").split("|")]
    col = head_cells.index("machine.exchange_bytes_per_cycle")
    assert [r.strip("|").split("|")[col].strip() for r in rows[2:6]] == ["4", "4", "8", "8"]


def test_run_options_with_a_spec_are_refused_naming_the_spec_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _spec(tmp_path)
    for extra, key in ((["--machine", "mk2"], "machine"), (["--engine", "des"], "engine"), (["--seed", "3"], "seed"),
                       (["--compare-gpu", "h100"], "gpu"), (["--set", "exchange_bytes_per_cycle=8"], "machine.<field>")):  # fmt: skip
        rc, out, err = _run(capsys, "sweep", "--spec", str(spec), *extra)
        assert rc == 2 and out == "" and f"with --spec, set it in the spec ([base] {key} = ..." in err, extra


def test_no_command_writes_over_its_own_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec, store = _spec(tmp_path), tmp_path / "a.jsonl"
    assert _run(capsys, "sweep", "--spec", str(spec), "--out", str(store), "--quiet")[0] == 0
    before = store.read_bytes()
    rc, _, err = _run(capsys, "export", str(store), str(store))
    assert rc == 2 and "is the file this command reads" in err and store.read_bytes() == before
    rc, _, err = _run(capsys, "sweep", "--spec", str(spec), "--out", str(store), "--csv", str(store), "--quiet")
    assert rc == 2 and "--csv" in err and store.read_bytes() == before


def test_two_sweeps_on_one_store_store_each_point_once(tmp_path: Path) -> None:
    spec, store = _spec(tmp_path), tmp_path / "c.jsonl"
    cmd = [sys.executable, "-m", "mimdsim", "sweep", "--spec", str(spec), "--out", str(store), "--quiet"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    errs = [p.communicate(timeout=600)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    lines = store.read_text().splitlines()
    assert len(lines) == 1 + 4 and len({json.loads(line)["input_hash"] for line in lines[1:]}) == 4


@pytest.mark.parametrize(
    ("line", "named"),
    [('engine = ["des", "warp"]', "engine: 'warp'"), ('partitioner = ["contiguous", "nope"]', "nope"),
     ('neurons_per_tile = [4, 0]', "neurons_per_tile: 0"), ('activity_source = ["missing.npz"]', "missing.npz")],
)  # fmt: skip
def test_a_value_that_cannot_run_is_refused_before_any_point_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, named: str
) -> None:
    spec = _spec(tmp_path)
    spec.write_text(spec.read_text().replace("max_activity = [0.25, 0.5]", line))
    store = tmp_path / "s.jsonl"
    rc, out, err = _run(capsys, "sweep", "--spec", str(spec), "--out", str(store), "--quiet")
    assert rc == 2 and out == "" and named in err and "Traceback" not in err
    assert not store.exists() or store.read_text() == ""  # no point stored: the bad value was found up front


def test_dry_run_counts_and_checks_every_point_and_runs_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec, store = _spec(tmp_path), tmp_path / "d.jsonl"
    rc, out, err = _run(capsys, "sweep", "--spec", str(spec), "--out", str(store), "--dry-run", "3")
    lines = out.splitlines()
    assert rc == 0 and lines[0] == "bw: 4 points; axes: machine.exchange_bytes_per_cycle, max_activity; the first 3:"
    assert [ln.split() for ln in lines[3:6]] == [["4", "0.25"], ["4", "0.5"], ["8", "0.25"]] and "4 checked" in lines[-1]
    assert not store.exists()  # nothing ran, nothing was written
    spec.write_text(spec.read_text().replace("max_activity = [0.25, 0.5]", "max_activity = [0.25, 2.0]"))
    rc, out, err = _run(capsys, "sweep", "--spec", str(spec), "--dry-run")
    assert rc == 2 and "max_activity 2.0 is outside (0, 1]" in err  # the last point's value, found without running any


def test_file_names_in_a_spec_are_relative_to_the_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    specs = tmp_path / "specs"
    specs.mkdir()
    write_tiny(specs)
    bow = (Path(__file__).resolve().parents[1] / "models" / "machines" / "bow.toml").read_text()
    (specs / "fast.toml").write_text(bow.replace('name = "bow"', 'name = "fast"'))
    spec = specs / "rel.toml"
    spec.write_text('name = "rel"\n[base]\nmodel = "tiny.toml"\nmachine = "fast.toml"\n[grid]\nmax_activity = [0.25, 0.5]\n')
    monkeypatch.chdir(tmp_path)  # another folder than the spec's: the names still mean the files beside the spec
    rc, out, err = _run(capsys, "sweep", "--spec", "specs/rel.toml", "--json", "--quiet")
    assert rc == 0, err
    recs = json.loads(out)
    assert [r["model"] for r in recs] == ["tiny", "tiny"] and {r["machine"] for r in recs} == {"fast"}


def test_plot_draws_the_spec_axes_one_line_per_value_of_the_others(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from mimdsim.report.sweep_plots import series_data

    spec, png = _spec(tmp_path), tmp_path / "s.png"
    rc, out, err = _run(capsys, "sweep", "--spec", str(spec), "--out", str(tmp_path / "p.jsonl"), "--json", "--plot", str(png))
    assert rc == 0 and png.stat().st_size > 0 and f"wrote {png}" in err
    recs = json.loads(out)
    series = series_data(recs, "machine.exchange_bytes_per_cycle", "ms_per_step", ["max_activity"])  # what the figure draws
    assert [s.label for s in series] == ["max_activity=0.25", "max_activity=0.5"]
    assert all(s.xs == (4.0, 8.0) for s in series)
    assert series[0].ys == tuple(r["ms_per_step"] for r in recs if r["max_activity"] == 0.25)
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    store = tmp_path / "q.jsonl"
    rc, out, err = _run(capsys, "sweep", "--spec", str(spec), "--out", str(store), "--plot", str(tmp_path / "q.png"))
    assert rc == 2 and "needs matplotlib: pip install 'mimdsim[plot]'" in err and not store.exists()  # refused before the sweep


def test_series_are_sorted_by_value_and_keyed_by_every_other_axis() -> None:
    from mimdsim.report.sweep_plots import series_data

    rows = [{"x": x, "bw": bw, "n": n, "y": x * bw + n} for bw in (16, 2, 4) for n in (1, 2) for x in (3, 1)]
    series = series_data(rows, "x", "y", ["bw", "n"])
    assert [s.label for s in series] == ["bw=2, n=1", "bw=2, n=2", "bw=4, n=1", "bw=4, n=2", "bw=16, n=1", "bw=16, n=2"]
    assert series[-1].xs == (1.0, 3.0) and series[-1].ys == (18.0, 50.0)  # 1*16+2, 3*16+2: one point per x, none mixed


@pytest.mark.parametrize(("memory_bytes", "tile_known"), [(1024, False), (20000, True)])
def test_a_point_that_does_not_fit_says_so_in_fields_not_only_in_text(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                      memory_bytes: int, tile_known: bool) -> None:  # fmt: skip
    """Below the bound before placement (tile unknown) and over it after placement (the worst tile named)."""
    spec = _spec(tmp_path)
    spec.write_text(
        spec.read_text().replace(
            '"machine.tiles_per_ipu" = 64', f'"machine.tiles_per_ipu" = 64\n"machine.memory_bytes_per_tile" = {memory_bytes}'
        )
    )
    rc, out, err = _run(capsys, "sweep", "--spec", str(spec), "--json", "--quiet")
    recs = json.loads(out)
    assert rc == 0, err
    for r in recs:
        if r["error"] is None:
            continue
        assert r["error_kind"] == "TileMemoryError" and r["error"].startswith("TileMemoryError: ")
        assert r["error_tile_bytes"] > r["memory_bytes_per_tile"] == memory_bytes
        assert (0 <= r["error_tile"] < 64) if tile_known else r["error_tile"] is None
    assert any(r["error_kind"] == "TileMemoryError" for r in recs)


def test_the_record_of_an_error_carries_its_kind_and_tile() -> None:
    from mimdsim.errors import MappingError, TileMemoryError
    from mimdsim.studies.record import SNNRecord

    r = SNNRecord.failed(input_hash="h", error=TileMemoryError("m: does not fit\nmore", tile=7, needed_bytes=700_000))
    assert (r.error, r.error_kind, r.error_tile, r.error_tile_bytes) == (
        "TileMemoryError: m: does not fit",
        "TileMemoryError",
        7,
        700_000,
    )
    r = SNNRecord.failed(input_hash="h", error=MappingError("too big"))
    assert (r.error_kind, r.error_tile, r.error_tile_bytes) == ("MappingError", None, None)
    assert SNNRecord.failed(input_hash="h", error="text").error_kind is None  # a message alone: no kind to guess


def test_a_script_sweeps_the_spec_objects_it_built(tmp_path: Path) -> None:
    """MachineSpec and SNNSpec objects as point values: no TOML on disk; hashed by their fields, stored, resumed."""
    from mimdsim.arch import load_machine
    from mimdsim.errors import ConfigError
    from mimdsim.snn.model.spec import snn_from_sizes
    from mimdsim.sweep import SweepSpec, run_spec
    from mimdsim.sweep.run import spec_records

    net = snn_from_sizes([64, 24, 24, 4], max_activity=0.25, input_sparse_size=8, batch_size=6, n_timesteps=3, name="built")
    machines = [load_machine("bow", tiles_per_ipu=64, exchange_bytes_per_cycle=bw) for bw in (4, 8)]
    spec = SweepSpec.from_dict({"name": "objs", "base": {"model": net}, "grid": {"machine": machines}})
    same = SweepSpec.from_dict({"name": "objs", "base": {"model": net}, "grid": {"machine": [m.model_copy() for m in machines]}})
    assert spec.spec_hash == same.spec_hash  # by fields, not by identity
    store = tmp_path / "o.jsonl"
    df = run_spec(spec, out=store)
    assert list(df["model"]) == ["built", "built"] and list(df["machine"]) == ["bow", "bow"]
    assert df["exchange_cycles"].iloc[1] < df["exchange_cycles"].iloc[0]  # 8 B/cycle exchanges faster than 4
    again = spec_records(spec, out=store)
    assert (again.ran, again.reused) == (0, 2)
    with pytest.raises(ConfigError, match="SNNSpec with its sparse sizes"):
        run_spec(SweepSpec.from_dict({"base": {"model": net}, "grid": {"max_activity": [0.1]}}))
    with pytest.raises(ConfigError, match="a MachineSpec object is not a value of model"):
        run_spec(SweepSpec.from_dict({"base": {"model": machines[0]}}))


def test_a_full_disk_names_the_store_and_keeps_the_points_stored(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    import errno
    import os

    spec, store = _spec(tmp_path), tmp_path / "full.jsonl"
    real_write, calls = os.write, []

    def write(fd: int, data: bytes) -> int:
        calls.append(1)
        if len(calls) > 2:  # the header and one point fit; then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    rc, out, err = _run(capsys, "sweep", "--spec", str(spec), "--out", str(store), "--quiet")
    assert rc == 2 and out == "" and f"result store {store}: cannot append a point (No space left on device)" in err
    assert "Traceback" not in err
    monkeypatch.setattr(os, "write", real_write)
    rc, out, err = _run(capsys, "sweep", "--spec", str(spec), "--out", str(store))
    assert rc == 0 and "3 run now, 1 from" in err  # the point stored before the disk filled is kept


def test_a_spec_without_a_gpu_says_there_is_no_baseline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _spec(tmp_path)
    spec.write_text(spec.read_text().replace('gpu = "a100"\n', ""))
    rc, out, err = _run(capsys, "sweep", "--spec", str(spec))
    assert rc == 0 and 'bw: no GPU baseline (no speed-up columns): set gpu = "a100" in the spec\'s [base]' in err
    assert "Speed-up over the dense step" not in out
    spec.write_text(spec.read_text().replace('machine = "bow"', 'machine = "bow"\ngpu = "a100"'))
    rc, out, err = _run(capsys, "sweep", "--spec", str(spec))
    assert rc == 0 and "no GPU baseline" not in err and "Speed-up over the dense step" in out


def test_a_list_valued_field_is_an_axis(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _spec(tmp_path)
    spec.write_text(spec.read_text().replace("max_activity = [0.25, 0.5]", '"model.layer_sizes" = [[24, 24, 4], [48, 48, 4]]'))
    store = tmp_path / "l.jsonl"
    rc, out, err = _run(capsys, "sweep", "--spec", str(spec), "--out", str(store), "--json", "--quiet")
    assert rc == 0, err
    recs = json.loads(out)
    assert [r["model.layer_sizes"] for r in recs] == [[24, 24, 4], [48, 48, 4]] * 2  # every record carries its list
    assert [r["layers"] for r in recs] == [[64, 24, 24, 4], [64, 48, 48, 4]] * 2  # and the network was built from it
    assert recs[1]["cycles_per_step"] > recs[0]["cycles_per_step"]
    rc, out, _ = _run(capsys, "sweep", "--spec", str(spec), "--out", str(store))
    assert rc == 0 and "48-48-4" in out.splitlines()[3]  # the table shows the list; the rerun took all from the store
    (tmp_path / "rep").mkdir()
    assert _run(capsys, "report", str(store), "-o", str(tmp_path / "rep"))[0] == 0
    for bad, says in (("[[24, [4]]]", "a list value must hold numbers or strings"), ("[[]]", "a list value must hold")):
        spec.write_text(spec.read_text().replace("[[24, 24, 4], [48, 48, 4]]", bad))
        rc, _, err = _run(capsys, "sweep", "--spec", str(spec), "--dry-run")
        assert rc == 2 and says in err
        spec.write_text(spec.read_text().replace(bad, "[[24, 24, 4], [48, 48, 4]]"))
