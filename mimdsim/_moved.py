"""The old names of modules that moved when the packages were split (docs/architecture.md): an import of an old
name gets the module under its new name, so scripts written before the split keep working.

Only the import system uses this table; mimdsim's own code imports the new names (the layer contract checks it).

>>> import importlib
>>> importlib.import_module("mimdsim.snn.spec") is importlib.import_module("mimdsim.snn.model.spec")
True
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType

__all__ = ["MOVED", "install"]

MOVED: dict[str, str] = {
    "mimdsim.snn.spec": "mimdsim.snn.model.spec",
    "mimdsim.snn.connectivity": "mimdsim.snn.model.connectivity",
    "mimdsim.snn.nir": "mimdsim.snn.model.nir",
    "mimdsim.snn.workload": "mimdsim.snn.model.workload",
    "mimdsim.snn.functional": "mimdsim.snn.reference.functional",
    "mimdsim.snn.dense_ref": "mimdsim.snn.reference.dense",
    "mimdsim.snn.data": "mimdsim.snn.reference.data",
    "mimdsim.snn.events": "mimdsim.snn.reference.events",
    "mimdsim.snn.activity_file": "mimdsim.snn.activity.trace_v1",
    "mimdsim.snn.traces": "mimdsim.snn.activity.trace_file",
    "mimdsim.snn.recorded": "mimdsim.snn.activity.recorded",
    "mimdsim.snn.sources": "mimdsim.snn.activity.sources",
    "mimdsim.snn.cache": "mimdsim.snn.activity.cache",
    "mimdsim.snn.layout": "mimdsim.snn.lowering.layout",
    "mimdsim.snn.lower": "mimdsim.snn.lowering.lower",
    "mimdsim.snn.estimators": "mimdsim.snn.lowering.codelets",
    "mimdsim.snn.gpu_frameworks": "mimdsim.snn.gpu.frameworks",
    "mimdsim.snn.gpu_kernels": "mimdsim.snn.gpu.kernels",
    "mimdsim.snn.estimate": "mimdsim.studies.estimate",
    "mimdsim.snn.record": "mimdsim.studies.record",
    "mimdsim.snn.preflight": "mimdsim.studies.preflight",
    "mimdsim.snn.placement": "mimdsim.studies.placement",
    "mimdsim.snn.placement_metrics": "mimdsim.studies.placement_metrics",
    "mimdsim.snn.partition_study": "mimdsim.studies.partition_study",
    "mimdsim.snn.energy": "mimdsim.studies.energy",
    "mimdsim.examples": "mimdsim.validation",
    "mimdsim.examples.tut6": "mimdsim.validation.tut6",
    "mimdsim.examples.tut6_exchange": "mimdsim.validation.tut6_exchange",
    "mimdsim.examples.tut6_validation": "mimdsim.validation.tut6_rows",
    "mimdsim.examples.demo": "mimdsim.cli.demo_program",
    "mimdsim.report.validation": "mimdsim.validation.page",
    "mimdsim.trace": "mimdsim.report.timeline_file",
    "mimdsim.engines.timeline": "mimdsim.engines.timeline_detail",
}
"""Old module name -> new module name. ``mimdsim.snn.activity`` and ``mimdsim.snn.gpu`` are packages now; they
export what the old modules did. ``mimdsim.trace`` (a package before) is one module now: it exports what the
package did, and its submodules are ``mimdsim.report.chrome_trace`` and ``mimdsim.report.perfetto``."""


class _Alias(importlib.abc.Loader):
    """Loads an old name as the module of its new name (the same module object, not a copy)."""

    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(self.new)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the module ran under its new name."""


class _MovedFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        new = MOVED.get(fullname)
        return None if new is None else importlib.machinery.ModuleSpec(fullname, _Alias(new))


def install() -> None:
    """Put the finder first on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _MovedFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _MovedFinder())  # before the path finder: an old package name must not load a copy
