"""What a benchmark result records about the machine it ran on (shared by the scripts here)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType


def _sh(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def host_info() -> dict[str, object]:
    """Date, CPU, core count, memory, Python and package versions, load average."""
    import numba
    import numpy as np
    import simpy

    cpu = next((line.split(":", 1)[1].strip() for line in _sh(["lscpu"]).splitlines() if line.startswith("Model name:")), "")
    mem = next((line.split()[1] for line in _sh(["cat", "/proc/meminfo"]).splitlines() if line.startswith("MemTotal:")), "")
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "mem_total_kib": int(mem) if mem.isdigit() else None,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "simpy": simpy.__version__,
        "platform": platform.platform(),
        "load_average": os.getloadavg(),
    }


def emit(result: dict[str, object], out: Path | None) -> dict[str, object]:
    """Print ``result`` as indented JSON and write it to ``out`` too when given."""
    text = json.dumps(result, indent=2)
    if out:
        out.write_text(text + "\n")
    print(text)
    return result


def models_generate() -> ModuleType:
    """``models/snn/generate.py`` (the committed models' rules), loaded from its file: it is a script, not a package."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "models" / "snn" / "generate.py"
    spec = importlib.util.spec_from_file_location("mimdsim_models_generate", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module
