"""The design is enforced, not only described (docs/architecture.md): the layers by an import-linter contract,
the layout by ruff format, one concept per class name."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


def test_the_layers_point_one_way() -> None:
    """pyproject.toml's import-linter contracts (layers in the order of DESIGN; engines never import workloads),
    imports inside functions included."""
    code = "from importlinter.cli import lint_imports; raise SystemExit(lint_imports(no_cache=True, no_logo=True))"
    r = _run("-c", code)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "0 broken" in r.stdout


def test_the_code_is_ruff_formatted() -> None:
    r = _run("-m", "ruff", "format", "--check", "mimdsim", "tests")
    assert r.returncode == 0, r.stdout + r.stderr


def test_one_definition_per_class_name() -> None:
    """One builder, one record, one concept per name: no class name is defined in two modules of the package."""
    where: dict[str, list[str]] = defaultdict(list)
    for path in sorted((ROOT / "mimdsim").rglob("*.py")):
        for name in re.findall(r"^class (\w+)", path.read_text(), flags=re.M):
            where[name].append(str(path.relative_to(ROOT)))
    assert not {n: p for n, p in where.items() if len(p) > 1}


def test_benchmarks_are_a_package() -> None:
    """``python -m benchmarks.<name>`` from the root: every script imports as a module, none edits sys.path."""
    import importlib

    for path in sorted((ROOT / "benchmarks").glob("*.py")):
        assert "sys.path" not in path.read_text(), path.name
        importlib.import_module(f"benchmarks.{path.stem}")


def test_old_module_names_still_import() -> None:
    """Scripts written before the packages were split keep working: each old name is its new module."""
    import importlib

    import mimdsim.snn
    from mimdsim._moved import MOVED
    from mimdsim.studies import estimate_training_step

    for old, new in MOVED.items():
        assert importlib.import_module(old) is importlib.import_module(new), old
    assert mimdsim.snn.estimate_training_step is estimate_training_step
    from mimdsim.snn.activity import SpikeActivity  # the packages export what the old modules of their name did
    from mimdsim.snn.gpu import load_gpu

    assert SpikeActivity.__module__ == "mimdsim.snn.activity.counts" and load_gpu.__module__ == "mimdsim.snn.gpu.model"
