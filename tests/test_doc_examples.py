"""The exploration scripts of docs/examples/ run (reduced with --quick; in full under -m slow) and say what they found."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"
SCRIPTS = sorted(p.stem for p in EXAMPLES.glob("*.py"))


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"docs_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_there_are_three_examples() -> None:
    assert SCRIPTS == ["exchange_bandwidth", "ipu_scaling", "sram_for_k32"]


@pytest.mark.parametrize("name", SCRIPTS)
def test_example_runs_quick(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _load(name).main(quick=True) == 0
    out = capsys.readouterr().out
    expected = {"sram_for_k32": "smallest tile that fits k = 32", "exchange_bandwidth": "4 -> 8 B/cycle",
                "ipu_scaling": "weak-scaling efficiency"}[name]  # fmt: skip
    assert expected in out


@pytest.mark.slow
@pytest.mark.parametrize("name", SCRIPTS)
def test_example_runs_in_full(name: str) -> None:
    assert _load(name).main(quick=False) == 0
