"""Presets travel with the package: MIMDSIM_MODELS adds a folder searched first; an installed wheel, run from
another folder, finds them (slow: builds the wheel)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mimdsim.arch.load import PACKAGED_MODELS, list_presets, load_machine, resolve_preset
from mimdsim.snn.model.spec import load_snn_model

ROOT = Path(__file__).resolve().parents[1]


def test_the_packaged_presets_are_the_repositorys_models() -> None:
    assert (PACKAGED_MODELS / "machines" / "bow.toml").read_text() == (ROOT / "models" / "machines" / "bow.toml").read_text()
    assert load_snn_model("nmnist_a_2hidden")[0].name == "nmnist_a_2hidden"


def test_mimdsim_models_adds_a_folder_searched_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "machines").mkdir()
    text = (ROOT / "models" / "machines" / "mk2.toml").read_text()
    (tmp_path / "machines" / "mine.toml").write_text(text.replace('name = "mk2"', 'name = "mine"'))
    (tmp_path / "machines" / "bow.toml").write_text(text.replace('name = "mk2"', 'name = "bow"'))  # shadows the packaged bow
    monkeypatch.setenv("MIMDSIM_MODELS", str(tmp_path))
    assert {"mine", "bow", "mk1", "mk2"} <= set(list_presets("machines"))
    assert load_machine("mine").name == "mine" and load_machine("bow").tile_clock_hz == 1.325e9  # the user's first
    assert resolve_preset("nmnist_a_2hidden", "snn", "SNN model").parent == PACKAGED_MODELS / "snn"


@pytest.mark.slow
def test_an_installed_wheel_finds_its_presets_from_any_folder(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)], check=True, timeout=600
    )
    wheel = next(tmp_path.glob("mimdsim-*.whl"))
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)], check=True, timeout=300
    )
    env = {k: v for k, v in os.environ.items() if k != "MIMDSIM_MODELS"} | {"PYTHONPATH": str(site)}
    work = tmp_path / "elsewhere"
    work.mkdir()
    p = subprocess.run([sys.executable, "-m", "mimdsim", "snn", "nmnist_a_2hidden", "--timesteps", "2", "--batch", "6", "--json"],
                       capture_output=True, text=True, cwd=work, env=env, timeout=300)  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert (site / "mimdsim" / "presets" / "machines" / "bow.toml").is_file() and not (site / "mimdsim" / "presets").is_symlink()
    shutil.rmtree(site)
