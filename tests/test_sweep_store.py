"""The result store: points appended as they finish, resumed by input hash, failures kept, other specs refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mimdsim.errors import ConfigError
from mimdsim.sweep import ResultStore, SweepSpec, export_results, read_store, run_spec, spec_records, store_frame
from tests.models import write_tiny

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write_tiny(tmp_path)


def _spec(tiny: Path, acts: tuple[float, ...] = (0.25, 0.5), **extra: object) -> SweepSpec:
    base = {"model": str(tiny), "machine": "bow", "machine.tiles_per_ipu": 64, "gpu": "a100"}
    return SweepSpec.from_dict({"name": "t", "base": base, "grid": {"max_activity": list(acts), **extra}})


def test_run_spec_gives_a_frame_with_the_axes_and_the_record(tiny: Path) -> None:
    spec = _spec(tiny, **{"machine.exchange_bytes_per_cycle": [4, 8]})
    df = run_spec(spec, progress=False)
    assert len(df) == 4 and list(df.columns[:1]) == ["machine.exchange_bytes_per_cycle"]
    assert df["max_activity"].tolist() == [0.25, 0.25, 0.5, 0.5]
    assert (df["speedup_vs_gpu"] == df["gpu_ms_per_step"] / df["ms_per_step"]).all()
    fast = df[df["machine.exchange_bytes_per_cycle"] == 8]["exchange_cycles"].to_numpy()
    slow = df[df["machine.exchange_bytes_per_cycle"] == 4]["exchange_cycles"].to_numpy()
    assert (fast < slow).all()  # twice the exchange bandwidth: fewer exchange cycles
    assert df["input_hash"].nunique() == 4


def test_store_resumes_and_keeps_failures(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    spec = _spec(tiny, **{"machine.memory_bytes_per_tile": [2048, 638976]})
    first = spec_records(spec, out=out, progress=False)
    assert (first.ran, first.reused, first.failed) == (4, 0, 2)
    header, entries = read_store(out)
    assert header["spec_hash"] == spec.spec_hash and header["n_points"] == 4 and len(entries) == 4
    failed = [e["record"] for e in entries if e["record"]["error"]]
    assert len(failed) == 2 and all(r["error"].startswith("TileMemoryError") and r["ms_per_step"] is None for r in failed)
    again = spec_records(spec, out=out, progress=False)
    assert (again.ran, again.reused) == (0, 4) and again.records == first.records
    assert len(read_store(out)[1]) == 4  # nothing written twice


def test_rows_are_byte_identical_across_runs(tiny: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    spec = _spec(tiny)
    spec_records(spec, out=a, progress=False)
    spec_records(spec, out=b, processes=2, progress=False)
    ra = sorted(json.dumps(e["record"], sort_keys=True) for e in read_store(a)[1])
    rb = sorted(json.dumps(e["record"], sort_keys=True) for e in read_store(b)[1])
    assert ra == rb


def test_a_store_of_another_spec_is_refused_untouched(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    spec_records(_spec(tiny), out=out, progress=False)
    before = out.read_bytes()
    with pytest.raises(ConfigError, match="written by another sweep spec"):
        spec_records(_spec(tiny, (0.25,)), out=out, progress=False)
    assert out.read_bytes() == before


def test_a_torn_last_line_is_cut_and_that_point_reruns(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    spec = _spec(tiny)
    spec_records(spec, out=out, progress=False)
    lines = out.read_bytes().split(b"\n")
    out.write_bytes(b"\n".join(lines[:2]) + b"\n" + lines[2][:40])  # the second point half-written
    assert len(read_store(out)[1]) == 1
    run = spec_records(spec, out=out, progress=False)
    assert (run.ran, run.reused) == (1, 1)
    assert out.read_bytes().endswith(b"\n") and len(read_store(out)[1]) == 2


def test_corrupt_and_foreign_files_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"mimdsim_store": 1, "spec_hash": "x", "schema_version": 1}\nnot json\n')
    with pytest.raises(ConfigError, match=r"bad.jsonl:2: not a JSON line"):
        read_store(bad)
    foreign = tmp_path / "f.jsonl"
    foreign.write_text('{"hello": 1}\n')
    with pytest.raises(ConfigError, match="not a mimdsim result store"):
        ResultStore(foreign, "t", "x", 1)
    with pytest.raises(ConfigError, match="does not exist"):
        ResultStore(tmp_path / "missing" / "r.jsonl", "t", "x", 1)


def test_export_parquet_csv_jsonl(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    spec_records(_spec(tiny), out=out, progress=False)
    df = store_frame(out)
    assert export_results(out, tmp_path / "r.parquet") == 2
    import pandas as pd

    back = pd.read_parquet(tmp_path / "r.parquet")
    assert back["ms_per_step"].tolist() == df["ms_per_step"].tolist()
    assert list(back["layers"].iloc[0]) == [64, 24, 24, 4]
    assert export_results(out, tmp_path / "r.csv") == 2
    assert "64-24-24-4" in (tmp_path / "r.csv").read_text()
    assert export_results(out, tmp_path / "rows.jsonl") == 2
    assert len((tmp_path / "rows.jsonl").read_text().splitlines()) == 2
    with pytest.raises(ConfigError, match="unknown format '.xlsx'"):
        export_results(out, tmp_path / "r.xlsx")


def test_a_sweep_killed_mid_run_resumes_with_no_point_lost_or_doubled(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    acts = [round(0.05 * i, 2) for i in range(2, 20)]  # 18 points
    args = [sys.executable, "-m", "mimdsim", "sweep", str(tiny), "--activities", ",".join(map(str, acts)), "--set",
            "tiles_per_ipu=64", "--out", str(out), "--quiet", "--json"]  # fmt: skip
    env = {**os.environ, "NUMBA_CACHE_DIR": str(ROOT / ".numba_cache")}
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.time() + 120
    while time.time() < deadline and (not out.exists() or out.read_bytes().count(b"\n") < 4):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _, partial = read_store(out)
    assert 3 <= len(partial) < len(acts), "the sweep was not killed mid-run"
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    _, entries = read_store(out)
    assert sorted(e["i"] for e in entries) == list(range(len(acts)))  # every point once
    assert len({e["input_hash"] for e in entries}) == len(acts)
    assert [r["max_activity"] for r in json.loads(done.stdout)] == acts


def test_a_dask_local_cluster_gives_the_rows_of_the_local_executor(tiny: Path) -> None:
    pytest.importorskip("distributed")
    from mimdsim.sweep import dask_executor

    spec = _spec(tiny, (0.25, 0.5, 0.75))
    local = spec_records(spec, progress=False).records
    with dask_executor(local_workers=2) as ex:
        remote = spec_records(spec, executor=ex, progress=False).records
        assert type(ex).__module__.startswith("distributed")
    assert remote == local


def test_an_unreachable_scheduler_is_one_clear_error() -> None:
    pytest.importorskip("distributed")
    from mimdsim.sweep import dask_executor

    with (
        pytest.raises(ConfigError, match=r"dask: cannot reach the scheduler tcp://127.0.0.1:9"),
        dask_executor("tcp://127.0.0.1:9", timeout_s=1),
    ):
        pass
    with pytest.raises(ConfigError, match="one of them"), dask_executor():
        pass


def test_a_sweep_run_here_resolves_each_point_once(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The points are resolved to hash them before anything runs; run in this process, they are not resolved again."""
    import mimdsim.sweep.run as run_mod
    import mimdsim.sweep.snn as snn_mod

    calls: list[object] = []
    real = snn_mod.prepare_point

    def counting(point: object) -> object:
        calls.append(point)
        return real(point)  # type: ignore[arg-type]

    monkeypatch.setattr(snn_mod, "prepare_point", counting)
    monkeypatch.setattr(run_mod, "prepare_point", counting)
    run = spec_records(_spec(tiny), progress=False)
    assert run.ran == 2 and not run.failed
    assert len(calls) == 2


def test_a_sweep_lowers_each_network_and_activity_once_whatever_the_axes_order(
    tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A machine field swept outside the activities: the points of one activity run one after the other, so each
    activity is lowered once (the program cache keeps two), and the records come back in point order, equal to
    those of each point estimated alone."""
    import mimdsim.snn.activity.cache as cache
    import mimdsim.studies.estimate as est_mod

    cache.clear()
    lowered: list[float] = []
    real = est_mod.lower_snn

    def counting(spec: object, *args: object, **kwargs: object) -> object:
        lowered.append(spec.sparse_sizes)  # type: ignore[attr-defined]
        return real(spec, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(est_mod, "lower_snn", counting)
    acts = (0.25, 0.5, 0.75)
    base = {"model": str(tiny), "machine": "bow", "machine.tiles_per_ipu": 64, "gpu": None}
    grid = {"machine.exchange_bytes_per_cycle": [4, 8, 16], "max_activity": list(acts)}
    spec = SweepSpec.from_dict({"name": "t", "base": base, "grid": grid})
    run = spec_records(spec, progress=False)
    assert run.ran == 9 and not run.failed
    assert len(lowered) == len(set(lowered)) == 3
    points = spec.points()
    assert [p["machine.exchange_bytes_per_cycle"] for p in points[:3]] == [4, 4, 4]  # the machine axis is outer
    monkeypatch.setattr(est_mod, "lower_snn", real)
    for p, rec in zip(points, run.records, strict=True):
        cache.clear()
        alone = spec_records(SweepSpec.from_dict({"name": "t", "base": {**base, **p}, "grid": {}}), progress=False)
        assert alone.records[0]["ms_per_step"] == rec["ms_per_step"] and alone.records[0]["max_activity"] == rec["max_activity"]
