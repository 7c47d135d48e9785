"""mimdsim.validation.page: the rows, the findings and the generated page (docs/validation.md)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mimdsim.validation.pipelines import VARIANTS, pipeline_findings, pipeline_table

os.environ.setdefault("MPLBACKEND", "Agg")

from mimdsim.arch import load_machine
from mimdsim.report import PAPER_SPEEDUP_MAX
from mimdsim.report.tables import pivot_table
from mimdsim.snn.model.spec import load_snn_model
from mimdsim.studies.estimate import estimate_training_step
from mimdsim.validation import page as V
from tests.records import fake_record, ipu_breakdown

ROOT = Path(__file__).resolve().parents[2]


def _fake(depth: int, act: float, speedup: float) -> dict:
    """A sweep row with the fields the speed-up rows and findings read."""
    gpu_ms = 10.0 + depth
    ipu_ms = gpu_ms / speedup
    cycles = int(ipu_ms * 1.85e6)
    return fake_record(
        model=f"nmnist_a_{depth}hidden",
        model_path=str(ROOT / "models" / "snn" / f"nmnist_a_{depth}hidden.toml"),
        gpu_framework="tf-keras-xla",
        depth=depth,
        max_activity=act,
        layers=[2312, 10],
        sparse_sizes=[32, 4, 2],
        machine="bow",
        gpu="a100_40gb",
        engine="fast",
        activity_source="functional seed=0 input_rate=0.01",
        batch_size=48,
        n_timesteps=100,
        neurons_per_tile=2,
        ms_per_step=ipu_ms,
        cycles_per_step=cycles,
        gpu_ms_per_step=gpu_ms,
        speedup_vs_gpu=speedup,
        top_superstep_names=["fwd.state_update"],
        top_superstep_shares=[0.25],
        top_superstep_bounds=["compute"],
        top_superstep_critical_layers=["L1"],
        top_superstep_cycles=[100],
        critical_layers=["L1"],
        critical_layer_cycles=[cycles],
        **ipu_breakdown(1, 0, 0, 0, 1000),
        mean_true_spikes=[23.0, 1.0, 0.0],
        gpu_ideal_ms_per_step=gpu_ms / 2,
        speedup_vs_gpu_ideal=speedup / 2,
        gpu_dominant="launch",
        gpu_launch_ms=7.0,
        gpu_memory_bound_ms=gpu_ms - 7.0,
        gpu_compute_bound_ms=0.0,
        gpu_launches=1410,
    )


def test_band_error() -> None:
    assert V.band_error(5.0, 5, 10) == 0.0 and V.band_error(10.0, 5, 10) == 0.0
    assert V.band_error(2.5, 5, 10) == pytest.approx(-0.5)
    assert V.band_error(15.0, 5, 10) == pytest.approx(0.5)


def test_speedup_rows_against_the_band_and_the_maximum() -> None:
    sweep = [
        _fake(2, 0.005, 6.0),
        _fake(2, 0.05, 4.0),
        _fake(3, 0.05, 7.0),
        _fake(3, 0.005, 12.0),
        fake_record(model="m", depth=4, max_activity=0.1, gpu_framework="tf-keras-xla", error="MappingError: x"),
    ]
    rows = V.speedup_rows(sweep)
    assert len(rows) == len(sweep) + 1
    by_q = {r["quantity"]: r for r in rows}
    out_of_range = by_q["speed-up over the A100 (tf-keras-xla), 2 hidden layers, max activity 0.005"]
    assert out_of_range["published"] is None and out_of_range["rel_error"] is None
    below = by_q["speed-up over the A100 (tf-keras-xla), 2 hidden layers, max activity 0.05"]
    assert below["published"] == "5-10" and below["rel_error"] == pytest.approx(-0.2)
    assert below["explanation"].startswith("below the band (-20 %)")
    assert "fwd.state_update 25 %" in below["explanation"] and "1,410 launches" in below["explanation"]
    assert by_q["speed-up over the A100 (tf-keras-xla), 3 hidden layers, max activity 0.05"]["rel_error"] == 0.0
    assert by_q["speed-up over the A100 (tf-keras-xla), 4 hidden layers, max activity 0.1"]["explanation"].startswith(
        "not estimated: MappingError"
    )
    best = by_q["largest speed-up over the A100"]
    assert best["mimdsim"] == 12.0 and best["published"] == PAPER_SPEEDUP_MAX
    assert best["rel_error"] == pytest.approx(12 / 38 - 1)
    assert "the sparsest and deepest setting" in best["explanation"]


def test_findings_follow_the_data() -> None:
    good = [_fake(d, a, s) for d, a, s in ((2, 0.01, 6.0), (2, 0.1, 5.5), (5, 0.01, 9.0), (5, 0.1, 7.0))]
    text = "\n".join(V.speedup_findings(good))
    assert "4 of 4 settings fall inside" in text and "The model reproduces the band." in text
    assert "grows as max activity falls" in text and "NOT" not in text
    reversed_ = [_fake(d, a, s) for d, a, s in ((2, 0.01, 3.0), (2, 0.1, 4.0), (5, 0.01, 2.0), (5, 0.1, 2.5))]
    text = "\n".join(V.speedup_findings(reversed_))
    assert "0 of 4 settings fall inside" in text and "Below the band: 2L/0.01 (3.00x)" in text
    assert "does NOT grow monotonically as activity falls" in text and "does NOT grow with depth" in text
    assert "NOT the sparsest and deepest setting" in text
    assert V.speedup_findings([fake_record(error="x", max_activity=0.1)])[0].startswith("No sweep point")


def test_findings_compare_both_gpu_baselines_and_the_uncertainty_range() -> None:
    rows = [_fake(d, a, s) for d, a, s in ((2, 0.01, 6.0), (2, 0.1, 5.5), (5, 0.01, 9.0), (5, 0.1, 7.0))]
    text = "\n".join(V.speedup_findings(rows))
    assert "**Two GPU baselines.**" in text and "2.75-4.50x" in text and "takes 2.00-2.00x the ideal" in text
    gap = next(f for f in V.speedup_findings(rows) if f.startswith("**The gap to 38x.**"))
    assert "(tf-keras-xla)" in gap and "38x lies" in gap


def test_framework_speedups_cover_every_profile() -> None:
    from mimdsim.snn.gpu.frameworks import FRAMEWORKS
    from mimdsim.snn.gpu.model import estimate_gpu_step

    r = _fake(2, 0.01, 6.0)
    (d,) = V.framework_speedups([r, fake_record(error="x", max_activity=0.1)])
    spec = load_snn_model(r["model_path"], max_activity=0.01)[0]
    for fw in FRAMEWORKS:
        ms = estimate_gpu_step(spec, "a100_40gb", fw).ms_per_step
        assert d[f"{fw}_ms"] == ms and d[f"{fw}_speedup"] == pytest.approx(ms / r["ms_per_step"])
    assert d["tf-keras-xla_ms"] > d["fused_ms"] and d["tf-keras-xla_ms"] > d["cuda-graph_ms"]
    table = V.framework_table([d])
    assert table.count("\n") == 2 and "`cuda-graph` ms (speed-up)" in table


def test_hardware_rows() -> None:
    rows = V.hardware_rows()
    by_q = {r["quantity"]: r for r in rows}
    for n, pub in ((2, 48), (4, 96), (8, 144), (16, 240)):
        r = by_q[f"multi-IPU sync, {n} IPUs (Mk1 IPU-Model form)"]
        assert (r["mimdsim"], r["published"], r["rel_error"]) == (pub, pub, 0.0)
    assert by_q["simulated external sync, 16 IPUs (Mk1 IPU-Model form)"]["mimdsim"] == 240
    assert by_q["multi-IPU sync, 16 IPUs (at 1.325 GHz)"]["mimdsim"] == 200  # 20 cycles per hop, vs 199
    agg = by_q["on-chip exchange, aggregate (mk2)"]
    assert agg["mimdsim"] == pytest.approx(4 * 1472 * 1.325e9 / 1e12) and agg["published"] == 8.0
    assert -0.03 < agg["rel_error"] < -0.02
    sim = by_q["simulated all-to-all exchange, aggregate (mk2)"]
    assert 7.6 < sim["mimdsim"] < agg["mimdsim"]  # the fixed exchange overhead on top of 4 B/cycle
    assert by_q["simulated hot-spot receive rate (mk2)"]["mimdsim"] == pytest.approx(4.0, rel=0.01)
    assert by_q["tile memory per IPU (mk2)"]["mimdsim"] == pytest.approx(897.0)
    assert all(r["section"] == "hardware" and r["explanation"] and r["source"] for r in rows)
    assert all(r["rel_error"] == 0.0 for r in rows if r["explanation"].startswith("preset copies the sourced value"))


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The generator on the reduced grid (2 and 5 hidden layers x 0.005 and 0.1), 2 spawned workers."""
    d = tmp_path_factory.mktemp("validation")
    rep = V.write_validation(d / "validation.md", d / "figures", processes=2, quick=True)
    return rep, d


def test_quick_page_has_every_section(quick) -> None:  # type: ignore[no-untyped-def]
    rep, d = quick
    page = (d / "validation.md").read_text()
    for head in (
        "## Summary",
        "## 1. The paper's speed-up",
        "### Findings",
        "### Rows",
        "## 2. Hardware constants",
        "## 3. Poplar tutorial 6",
        "## 5. Compiler passes and op versions",
        "## Not validated here",
    ):
        assert head in page
    assert "reduced grid (--quick)" in page
    assert "![speed-up vs max activity](figures/speedup_vs_activity.png)" in page
    for name in ("speedup_vs_activity.png", "breakdown_family_a.png"):
        assert (d / "figures" / name).read_bytes()[:4] == b"\x89PNG"
    assert len(rep.tut6) > 30 and len(rep.hardware) > 20 and len(rep.speedup) == 5
    assert {r["section"] for r in rep.rows()} == set(V.SECTIONS)
    for r in rep.rows():
        assert set(r) >= {"quantity", "source", "configuration", "mimdsim", "published", "rel_error", "explanation"}
    assert "```python" not in page  # tests/test_docs.py would run it
    assert pivot_table(rep.sweep, fmt="markdown") in page
    # every (version, pipeline) at 2 and 5 hidden layers, activity 0.1; the sensitivity rows
    assert {(r["program_version"], r["passes"]) for r in rep.pipelines} == set(VARIANTS) and len(rep.pipelines) == 12
    assert "| 2022-09-12 | poplar | 0.1 |" in page and len(rep.sensitivity) == 7
    # tutorial 6 has no consecutive copies and no local compute set: every pipeline gives the same cycles
    assert len(rep.tut6_pipelines) == 9 and len({(c, n) for c, _, n in rep.tut6_pipelines}) == 3
    assert "the tutorial's program is unchanged in all 3 configurations" in page


def _pipeline_row(version: str, passes: str, depth: int, act: float, ms: float) -> dict:
    return {"program_version": version, "passes": passes, "depth": depth, "max_activity": act, "ms_per_step": ms,
            "sync_cycles": 10, "cycles_per_step": 100}  # fmt: skip


def test_pipeline_findings_follow_the_rows() -> None:
    """Hand-made rows: deeper is slower as issued and faster under poplar; the passes' saving is stated from them."""
    rows = [
        _pipeline_row(v, p, d, a, ms)
        for v in ("final", "2022-09-12")
        for p, ms_of in (
            ("as-issued", lambda d, a: 4 + d + a),
            ("poplar", lambda d, a: 4 - d / 10 + a),
            ("fused", lambda d, a: 4 - d / 10 + a),
        )
        for d in (2, 5)
        for a in (0.01, 0.1)
        for ms in (ms_of(d, a),)
    ]
    text = pipeline_findings(rows)
    assert text[0].startswith(
        "`final` op, `as-issued`: spreading the hidden neurons over more layers makes the step slower at activity 0.01"
    )
    assert "faster at activity 0.01, faster at activity 0.1; lower activity is faster at every depth" in text[1]
    assert text[6].startswith("`final` op: Poplar's passes take 36-61 % off the as-issued step (more for deeper nets")
    table = pipeline_table(rows)
    assert "| final | poplar | 0.01 | 3.810 (10 % sync) | 3.510 (10 % sync) | faster |" in table


def test_quick_speedup_rows_match_estimate_training_step(quick) -> None:  # type: ignore[no-untyped-def]
    rep, _ = quick
    assert [(r["depth"], r["max_activity"]) for r in rep.sweep] == [(2, 0.005), (2, 0.1), (5, 0.005), (5, 0.1)]
    spec, _ = load_snn_model(ROOT / "models/snn/nmnist_a_5hidden.toml", max_activity=0.1)
    est = estimate_training_step(spec, load_machine("bow"), gpu="a100", engine="fast")
    row = next(r for r in rep.speedup if r["quantity"].endswith("5 hidden layers, max activity 0.1"))
    assert row["mimdsim"] == pytest.approx(est.speedup_vs_gpu, rel=1e-12)
    assert f"IPU {est.ms_per_step:.3f} ms" in row["explanation"]
    best = rep.speedup[-1]
    assert best["mimdsim"] == max(r["speedup_vs_gpu"] for r in rep.sweep)


def test_main_parses_its_options(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seen: dict = {}

    def fake(out, figure_dir, **kw):  # type: ignore[no-untyped-def]
        seen.update(out=out, figure_dir=figure_dir, **kw)
        return V.ValidationReport("fast", [], [], [], [], [], quick=True)

    monkeypatch.setattr(V, "write_validation", fake)
    assert V.main(["--quick", "--out", str(tmp_path / "v.md"), "--figures", "none", "--processes", "1"]) == 0
    assert seen == {"out": str(tmp_path / "v.md"), "figure_dir": None, "engine": "fast", "processes": 1, "quick": True}
    assert "wrote" in capsys.readouterr().out


@pytest.mark.slow
def test_full_generation_reproduces_the_committed_page(tmp_path: Path) -> None:
    """Regenerating with the default options gives docs/validation.md byte for byte (deterministic and up to date)."""
    out = tmp_path / "docs" / "validation.md"
    V.write_validation(out, tmp_path / "docs" / "figures", processes=2)
    assert out.read_text() == (ROOT / "docs" / "validation.md").read_text()
    for name in ("speedup_vs_activity.png", "breakdown_family_a.png"):
        assert (tmp_path / "docs" / "figures" / name).read_bytes() == (ROOT / "docs" / "figures" / name).read_bytes()


def test_flagged_fields_follow_the_presets_comments() -> None:
    from mimdsim.validation.model_checks import flagged_fields, flagged_table

    rows = flagged_fields()
    fields = {(r["preset"], r["field"]) for r in rows}
    for preset in ("mk1", "mk2", "bow"):
        assert {(preset, "execution_overhead_s"), (preset, "exchange_message_cycles"), (preset, "link_latency_cycles")} <= fields
    assert ("mk2", "tiles_per_ipu") not in fields  # [H] fields are not flagged
    assert "`execution_overhead_s`" in flagged_table(rows)


def test_before_after_rows_pair_the_same_points() -> None:
    from mimdsim.validation.model_checks import before_after_rows, before_provenance

    now = [fake_record(model="nmnist_a_2hidden", max_activity=0.01, ms_per_step=5.0, speedup_vs_gpu_ideal=2.0),
           fake_record(model="nmnist_a_9hidden", max_activity=0.01, ms_per_step=1.0)]  # fmt: skip
    (row,) = before_after_rows(now)
    assert row["model"] == "nmnist_a_2hidden" and row["now_ms"] == 5.0 and row["ratio"] == 5.0 / row["before_ms"]
    assert "219150f" in before_provenance()
