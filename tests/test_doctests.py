"""Every docstring example in the package runs (doctest), module by module."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import mimdsim

MODULES = sorted(m.name for m in pkgutil.walk_packages(mimdsim.__path__, "mimdsim.") if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_module_doctests(name: str, tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    module = importlib.import_module(name)
    res = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0, f"{res.failed} of {res.attempted} examples failed in {name}"
