"""Sweep specs: a base point and axes -- grids, zips, seeded random samples, explicit points.

A spec is a TOML file (``models/sweeps/``; format in docs/sweeps.md)::

    name = "sram_k32"
    [base]                       # every point starts from these (point keys: mimdsim.sweep.snn)
    model = "nmnist_b_k32"
    gpu = "a100"
    [grid]                       # the cartesian product (first key slowest)
    "machine.memory_bytes_per_tile" = [638976, 1048576]
    [[zip]]                      # keys that advance together: one axis of the product
    "machine.n_ipus" = [1, 2]
    "model.batch_size" = [48, 96]
    [random]                     # n seeded samples: one more axis of the product
    n = 4
    seed = 0
    max_activity = {low = 0.005, high = 0.1, log = true}
    [[points]]                   # explicit points, after the product (each on top of base)
    model = "nmnist_a_2hidden"

:meth:`SweepSpec.points` expands it; :attr:`SweepSpec.spec_hash` identifies the expansion
(a result store records it and refuses another spec's). Every key is checked against the
point keys before anything runs; an empty axis, zip keys of different lengths or a bad
random axis are refused with the file and the key.

>>> spec = SweepSpec.from_dict({"base": {"model": "m"}, "grid": {"max_activity": [0.01, 0.1]},
...                             "zip": [{"seed": [0, 1], "engine": ["fast", "des"]}]})
>>> [(p["max_activity"], p["seed"], p["engine"]) for p in spec.points()]
[(0.01, 0, 'fast'), (0.01, 1, 'des'), (0.1, 0, 'fast'), (0.1, 1, 'des')]
"""

from __future__ import annotations

import itertools
import math
import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from mimdsim.errors import ConfigError
from mimdsim.sweep.snn import check_point_keys, spec_object_keys

__all__ = ["SweepSpec", "RandomAxes", "load_sweep_spec"]

_TOP = ("name", "description", "base", "grid", "zip", "random", "points")
_Scalar = (str, int, float, bool)


def _scalar(v: Any, where: str) -> Any:
    """A point value: a number, a string, a boolean, a list of them (``model.layer_sizes``), or (from a script) a
    ``MachineSpec``, ``SNNSpec`` or ``GPUSpec`` (hashed by its fields, :func:`mimdsim.snn.record.canonical_json`)."""
    if isinstance(v, (list, tuple)):
        if not v or any(isinstance(x, (list, tuple)) for x in v):
            raise ConfigError(f"{where}: a list value must hold numbers or strings (got {v!r})")
        return [_scalar(x, where) for x in v]
    if v is not None and not isinstance(v, (*_Scalar, *spec_object_keys().values())):
        raise ConfigError(
            f"{where}: expected a number, a string, a boolean, a list of them or a MachineSpec/SNNSpec/GPUSpec (got {v!r})"
        )
    if isinstance(v, float) and not math.isfinite(v):
        raise ConfigError(f"{where}: {v!r} is not finite")
    return v


def _axis(values: Any, where: str) -> list[Any]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ConfigError(f"{where}: expected a list of values (got {values!r})")
    if not values:
        raise ConfigError(f"{where}: no values")
    return [_scalar(v, where) for v in values]


@dataclass(frozen=True)
class RandomAxes:
    """``n`` samples drawn with ``seed``: per key ``{low, high[, log][, integer]}`` or ``{choices}``."""

    n: int
    seed: int
    axes: dict[str, dict[str, Any]]

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 1:
            raise ConfigError(f"random.n: expected a positive integer (got {self.n!r})")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"random.seed: expected a non-negative integer (got {self.seed!r})")
        if not self.axes:
            raise ConfigError("random: no axes")
        for k, ax in self.axes.items():
            where = f"random.{k}"
            if not isinstance(ax, Mapping):
                raise ConfigError(f"{where}: expected {{low, high}} or {{choices}} (got {ax!r})")
            extra = sorted(set(ax) - {"low", "high", "log", "integer", "choices"})
            if extra:
                raise ConfigError(f"{where}: unknown option {extra[0]!r} (low, high, log, integer, choices)")
            if "choices" in ax:
                if set(ax) != {"choices"}:
                    raise ConfigError(f"{where}: choices cannot be combined with low/high")
                _axis(ax["choices"], where + ".choices")
                continue
            lo_v, hi_v = ax.get("low"), ax.get("high")
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in (lo_v, hi_v)):
                raise ConfigError(f"{where}: low and high must be finite numbers (got {lo_v!r}, {hi_v!r})")
            lo, hi = float(lo_v), float(hi_v)  # type: ignore[arg-type]
            if not lo < hi:
                raise ConfigError(f"{where}: low {lo!r} must be below high {hi!r}")
            if ax.get("log") and lo <= 0:
                raise ConfigError(f"{where}: a log axis needs low > 0 (got {lo!r})")

    def samples(self) -> list[dict[str, Any]]:
        """The ``n`` samples, the same for the same spec (``random.Random(seed)``, keys in order)."""
        rng = random.Random(self.seed)
        out = []
        for _ in range(self.n):
            s: dict[str, Any] = {}
            for k, ax in self.axes.items():
                if "choices" in ax:
                    s[k] = rng.choice(list(ax["choices"]))
                    continue
                lo, hi = float(ax["low"]), float(ax["high"])
                u = rng.random()
                x = math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo))) if ax.get("log") else lo + u * (hi - lo)
                s[k] = round(x) if ax.get("integer") else x
            out.append(s)
        return out


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep spec (see the module docstring); build with :meth:`from_dict` or :func:`load_sweep_spec`."""

    name: str = "sweep"
    description: str = ""
    base: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    zips: tuple[dict[str, list[Any]], ...] = ()
    random: RandomAxes | None = None
    extra_points: tuple[dict[str, Any], ...] = ()

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], source: str = "sweep spec") -> SweepSpec:
        """Validate a spec mapping (a parsed TOML file); errors name ``source`` and the key."""
        bad = sorted(set(d) - set(_TOP))
        if bad:
            raise ConfigError(f"{source}: unknown table {bad[0]!r} (allowed: {', '.join(_TOP)})")

        def table(key: str) -> dict[str, Any]:
            t = d.get(key, {})
            if not isinstance(t, Mapping):
                raise ConfigError(f"{source}: {key} must be a table (got {t!r})")
            return dict(t)

        base = {k: _scalar(v, f"{source}: base.{k}") for k, v in table("base").items()}
        grid = {k: _axis(v, f"{source}: grid.{k}") for k, v in table("grid").items()}
        zips_in = d.get("zip", [])
        if isinstance(zips_in, Mapping):
            zips_in = [zips_in]
        zips = []
        for j, z in enumerate(zips_in):
            if not isinstance(z, Mapping) or not z:
                raise ConfigError(f"{source}: zip[{j}] must be a non-empty table of lists")
            zz = {k: _axis(v, f"{source}: zip[{j}].{k}") for k, v in z.items()}
            lengths = {k: len(v) for k, v in zz.items()}
            if len(set(lengths.values())) > 1:
                raise ConfigError(f"{source}: zip[{j}]: the lists differ in length ({lengths})")
            zips.append(zz)
        rnd = None
        if "random" in d:
            r = table("random")
            try:
                rnd = RandomAxes(r.pop("n", None), r.pop("seed", 0), r)
            except ConfigError as err:
                raise ConfigError(f"{source}: {err}") from None
        pts = d.get("points", [])
        if not isinstance(pts, Sequence) or not all(isinstance(p, Mapping) for p in pts):
            raise ConfigError(f"{source}: points must be an array of tables")
        points = tuple({k: _scalar(v, f"{source}: points[{j}].{k}") for k, v in p.items()} for j, p in enumerate(pts))
        axis_keys = [*grid, *(k for z in zips for k in z), *(rnd.axes if rnd else {})]
        dup = sorted({k for k in axis_keys if axis_keys.count(k) > 1})
        if dup:
            raise ConfigError(f"{source}: axis {dup[0]!r} appears twice")
        for keys in (base, axis_keys, *points):
            check_point_keys(list(keys), source)
        name = d.get("name", "sweep")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{source}: name must be a non-empty string (got {name!r})")
        spec = cls(name, str(d.get("description", "")), base, grid, tuple(zips), rnd, points)
        if not spec.points():
            raise ConfigError(f"{source}: no points")
        if any("model" not in p for p in spec.points()):
            raise ConfigError(f"{source}: every point needs a model (set base.model or an axis)")
        return spec

    @property
    def axes(self) -> tuple[str, ...]:
        """The keys that vary: grid, zip and random keys, then those only explicit points set."""
        keys = [*self.grid, *(k for z in self.zips for k in z), *(self.random.axes if self.random else {})]
        keys += [k for p in self.extra_points for k in p if k not in keys and k not in self.base]
        return tuple(dict.fromkeys(keys))

    def points(self) -> list[dict[str, Any]]:
        """Every point, in order: the product (grid keys, then each zip, then the random samples), then the explicit points."""
        return list(self._points)

    @cached_property
    def _points(self) -> tuple[dict[str, Any], ...]:
        factors: list[list[dict[str, Any]]] = [[{k: v} for v in vals] for k, vals in self.grid.items()]
        factors += [[dict(zip(z, row, strict=True)) for row in zip(*z.values(), strict=True)] for z in self.zips]
        if self.random is not None:
            factors.append(self.random.samples())
        product = [] if not (self.grid or self.zips or self.random) else [
            {k: v for part in combo for k, v in part.items()} for combo in itertools.product(*factors)
        ]  # fmt: skip
        if not product and not self.extra_points:
            product = [{}]
        return tuple({**self.base, **p} for p in [*product, *self.extra_points])

    @cached_property
    def spec_hash(self) -> str:
        """Hash of the expanded points (the identity a result store keeps)."""
        from mimdsim.snn.record import input_hash

        return input_hash({"sweep_points": list(self._points)})


PATH_KEYS: tuple[str, ...] = ("model", "machine", "gpu", "activity_source")
"""Point keys whose values may be files; a relative file name in a spec file is relative to the spec."""

FILE_SUFFIXES: tuple[str, ...] = (".toml", ".npz", ".csv", ".parquet")
"""What makes a value of a :data:`PATH_KEYS` key a file name rather than a preset or source name."""


def _relative_to(folder: Path, d: Mapping[str, Any]) -> dict[str, Any]:
    """``d`` (a parsed spec) with every relative file name of a path key joined to ``folder``, as a model file's
    ``[run] machine`` is joined to the model's folder: the spec means the same from any working folder.

    >>> _relative_to(Path("/s"), {"base": {"model": "m.toml", "machine": "bow"}, "grid": {"activity_source": ["t.npz", "functional"]}})
    {'base': {'model': '/s/m.toml', 'machine': 'bow'}, 'grid': {'activity_source': ['/s/t.npz', 'functional']}}
    """

    def fix(key: str, v: Any) -> Any:
        if isinstance(v, list):
            return [fix(key, x) for x in v]
        if key in PATH_KEYS and isinstance(v, str) and Path(v).suffix.lower() in FILE_SUFFIXES and not Path(v).is_absolute():
            return str(folder / v)
        return v

    def table(t: Any) -> Any:
        if not isinstance(t, Mapping):
            return t
        return {
            k: {**v, "choices": fix(k, v["choices"])} if isinstance(v, Mapping) and "choices" in v else fix(k, v)
            for k, v in t.items()
        }

    out = dict(d)
    for key in ("base", "grid", "random"):
        if key in out:
            out[key] = table(out[key])
    for key in ("zip", "points"):
        if isinstance(out.get(key), list):
            out[key] = [table(t) for t in out[key]]
        elif isinstance(out.get(key), Mapping):
            out[key] = table(out[key])
    return out


def load_sweep_spec(path: str | os.PathLike[str]) -> SweepSpec:
    """Read and validate a sweep spec TOML file (a bare name looks in ``models/sweeps/``); relative file names in it
    (models, machines, GPUs, traces, count tables) are relative to the spec file."""
    from mimdsim.arch.load import read_toml, resolve_preset

    p = resolve_preset(path, "sweeps", "sweep spec")
    return SweepSpec.from_dict(_relative_to(Path(p).resolve().parent, read_toml(p)), str(p))
