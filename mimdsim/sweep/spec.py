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
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from mimdsim.errors import ConfigError
from mimdsim.sweep.snn import check_point_keys, spec_object_keys

__all__ = ["SweepSpec", "SweepSpecFile", "RandomAxes", "RandomAxis", "load_sweep_spec", "MAX_POINTS"]

MAX_POINTS = 200_000
"""The most points a spec may expand to unless the caller raises it (``max_points=``, ``sweep --max-points``): the
points are counted from the spec's shape before any is built. 200,000 point dicts hold about 100 MB; at the
~300 points/min of a full estimate they are also about 11 hours of work (docs/sweeps.md)."""

_SCALARS = (str, int, float, bool)


def _value(v: Any) -> Any:
    """A point value: a number, a string, a boolean, a list of them (``model.layer_sizes``), or (from a script) a
    ``MachineSpec``, ``SNNSpec`` or ``GPUSpec`` (hashed by its fields, :func:`mimdsim.hashing.canonical_json`)."""
    if isinstance(v, (list, tuple)):
        if not v or any(isinstance(x, (list, tuple)) for x in v):
            raise ValueError("a list value must hold numbers or strings")
        return [_value(x) for x in v]
    if v is not None and not isinstance(v, (*_SCALARS, *spec_object_keys().values())):
        raise ValueError("expected a number, a string, a boolean, a list of them or a MachineSpec/SNNSpec/GPUSpec")
    if isinstance(v, float) and not math.isfinite(v):
        raise ValueError(f"{v!r} is not finite")
    return v


def _values(values: Any) -> list[Any]:
    """An axis: a non-empty list of point values."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ValueError("expected a list of values")
    if not values:
        raise ValueError("no values")
    return [_value(v) for v in values]


def _same_lengths(z: dict[str, list[Any]]) -> dict[str, list[Any]]:
    lengths = {k: len(v) for k, v in z.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"the lists differ in length ({lengths})")
    return z


Value = Annotated[Any, PlainValidator(_value)]
Axis = Annotated[Any, PlainValidator(_values)]
Zip = Annotated[dict[str, Axis], Field(min_length=1), AfterValidator(_same_lengths)]


class RandomAxis(BaseModel):
    """One random key: a uniform (or log-uniform) number in ``[low, high)``, rounded when ``integer``, or one of ``choices``."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    low: float | None = None
    high: float | None = None
    log: StrictBool = False
    integer: StrictBool = False
    choices: Axis | None = None

    @model_validator(mode="after")
    def _consistent(self) -> RandomAxis:
        if self.choices is not None:
            if self.low is not None or self.high is not None or self.log or self.integer:
                raise ValueError("choices cannot be combined with low/high/log/integer")
            return self
        if self.low is None or self.high is None or not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise ValueError("low and high must be finite numbers (or give choices)")
        if not self.low < self.high:
            raise ValueError(f"low {self.low!r} must be below high {self.high!r}")
        if self.log and self.low <= 0:
            raise ValueError("a log axis needs low > 0")
        return self

    def sample(self, rng: random.Random) -> Any:
        if self.choices is not None:
            return rng.choice(self.choices)
        lo, hi = float(self.low), float(self.high)  # type: ignore[arg-type]  # set when choices is not (_consistent)
        u = rng.random()
        x = math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo))) if self.log else lo + u * (hi - lo)
        return round(x) if self.integer else x


class RandomAxes(BaseModel):
    """``n`` samples drawn with ``seed``; in the file the axes sit beside ``n`` and ``seed`` in ``[random]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n: Annotated[StrictInt, Field(ge=1)]
    seed: Annotated[StrictInt, Field(ge=0)] = 0
    axes: dict[str, RandomAxis]

    @field_validator("axes")
    @classmethod
    def _some_axes(cls, axes: dict[str, RandomAxis]) -> dict[str, RandomAxis]:
        if not axes:
            raise ValueError("no axes beside n and seed")
        return axes

    @model_validator(mode="before")
    @classmethod
    def _gather_axes(cls, d: Any) -> Any:
        """``[random]``'s keys other than ``n`` and ``seed`` are the axes."""
        if isinstance(d, Mapping) and "axes" not in d:
            return {**{k: d[k] for k in ("n", "seed") if k in d}, "axes": {k: v for k, v in d.items() if k not in ("n", "seed")}}
        return d

    def samples(self) -> list[dict[str, Any]]:
        """The ``n`` samples, the same for the same spec (``random.Random(seed)``, keys in order)."""
        rng = random.Random(self.seed)
        return [{k: ax.sample(rng) for k, ax in self.axes.items()} for _ in range(self.n)]


class SweepSpecFile(BaseModel):
    """The sweep-spec file format (docs/sweeps.md): every table and value typed; what relates keys to each other
    (axes given twice, point keys, a model for every point, the size) :meth:`SweepSpec.from_dict` checks next."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: Annotated[StrictStr, Field(min_length=1)] = "sweep"
    description: StrictStr = ""
    base: dict[str, Value] = Field(default_factory=dict)
    grid: dict[str, Axis] = Field(default_factory=dict)
    zips: list[Zip] = Field(default_factory=list, alias="zip")
    random: RandomAxes | None = None
    points: list[dict[str, Value]] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _one_zip(cls, d: Any) -> Any:
        """``[zip]`` (one table) is ``[[zip]]`` with one entry."""
        if isinstance(d, Mapping) and isinstance(d.get("zip"), Mapping):
            return {**d, "zip": [d["zip"]]}
        return d


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
    def from_dict(cls, d: Mapping[str, Any], source: str = "sweep spec", *, max_points: int = MAX_POINTS) -> SweepSpec:
        """Validate a spec mapping (a parsed TOML file) against :class:`SweepSpecFile`, then the keys and the size;
        errors name ``source`` and the key. More than ``max_points`` points is refused before any is built."""
        from mimdsim.arch.load import format_validation_error

        try:
            f = SweepSpecFile.model_validate(d)
        except ValidationError as err:
            raise ConfigError(format_validation_error(err, source, hidden_loc=("axes",))) from None
        spec = cls(f.name, f.description, f.base, f.grid, tuple(f.zips), f.random, tuple(f.points))
        axis_keys = [*f.grid, *(k for z in f.zips for k in z), *(f.random.axes if f.random else {})]
        dup = sorted({k for k in axis_keys if axis_keys.count(k) > 1})
        if dup:
            raise ConfigError(f"{source}: axis {dup[0]!r} appears twice")
        for keys in (f.base, axis_keys, *f.points):
            check_point_keys(list(keys), source)
        _check_names(f.base, f.grid, f.zips, f.points, source)
        n = spec.n_points
        if n > max_points:
            raise ConfigError(
                f"{source}: {n:,} points ({spec.shape}) exceed the limit of {max_points:,}: split the sweep, or raise "
                "the limit (sweep --max-points, SweepSpec.from_dict(max_points=...))"
            )
        if "model" not in f.base and (
            (spec._has_product and "model" not in axis_keys) or any("model" not in p for p in f.points)
        ):
            raise ConfigError(f"{source}: every point needs a model (set base.model or an axis)")
        return spec

    @property
    def _has_product(self) -> bool:
        """Whether the spec has a product part (axes, or no explicit points: the base alone is one point)."""
        return bool(self.grid or self.zips or self.random) or not self.extra_points

    @property
    def n_points(self) -> int:
        """The number of points, from the spec's shape (nothing is built)."""
        factors = [len(v) for v in self.grid.values()] + [len(next(iter(z.values()))) for z in self.zips]
        factors += [self.random.n] if self.random else []
        return (math.prod(factors) if self._has_product else 0) + len(self.extra_points)

    @property
    def shape(self) -> str:
        """The product's factors and the explicit points, for messages: ``grid 3 x 4, zip 2, random 10, 1 point``."""
        parts = [f"grid {' x '.join(str(len(v)) for v in self.grid.values())}"] if self.grid else []
        parts += [f"zip {len(next(iter(z.values())))}" for z in self.zips]
        parts += [f"random {self.random.n}"] if self.random else []
        parts += [f"{len(self.extra_points)} explicit"] if self.extra_points else []
        return ", ".join(parts) or "the base"

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
        product = (
            [{k: v for part in combo for k, v in part.items()} for combo in itertools.product(*factors)]
            if self._has_product
            else []
        )
        return tuple({**self.base, **p} for p in [*product, *self.extra_points])

    @cached_property
    def spec_hash(self) -> str:
        """Hash of the expanded points (the identity a result store keeps)."""
        from mimdsim.hashing import input_hash

        return input_hash({"sweep_points": list(self._points)})


PATH_KEYS: tuple[str, ...] = ("model", "machine", "gpu", "activity_source")
"""Point keys whose values may be files; a relative file name in a spec file is relative to the spec."""

FILE_SUFFIXES: tuple[str, ...] = (".toml", ".npz", ".csv", ".parquet")
"""What makes a value of a :data:`PATH_KEYS` key a file name rather than a preset or source name."""


def _check_names(
    base: Mapping[str, Any],
    grid: Mapping[str, list[Any]],
    zips: Sequence[Mapping[str, list[Any]]],
    points: Sequence[Mapping[str, Any]],
    source: str,
) -> None:
    """Refuse a number, boolean, list or table where a :data:`PATH_KEYS` key names a preset, source or file.

    >>> _check_names({"machine": 5}, {}, [], [], "s.toml")
    Traceback (most recent call last):
    ...
    mimdsim.errors.ConfigError: s.toml: base.machine: 5 is not a name or a file path (a string)
    """  # fmt: skip
    values = [(f"base.{k}", [v]) for k, v in base.items()] + [(f"grid.{k}", v) for k, v in grid.items()]
    values += [(f"zip.{k}", v) for z in zips for k, v in z.items()]
    values += [(f"points[{i}].{k}", [v]) for i, p in enumerate(points) for k, v in p.items()]
    for at, vs in values:
        bad = [v for v in vs if isinstance(v, bool | int | float | list | dict)]
        if at.rsplit(".", 1)[-1] in PATH_KEYS and bad:
            raise ConfigError(f"{source}: {at}: {bad[0]!r} is not a name or a file path (a string)")


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


def load_sweep_spec(path: str | os.PathLike[str], *, max_points: int = MAX_POINTS) -> SweepSpec:
    """Read and validate a sweep spec TOML file (a bare name looks in ``models/sweeps/``); relative file names in it
    (models, machines, GPUs, traces, count tables) are relative to the spec file. See :meth:`SweepSpec.from_dict`."""
    from mimdsim.arch.load import read_toml, resolve_preset

    p = resolve_preset(path, "sweeps", "sweep spec")
    return SweepSpec.from_dict(_relative_to(Path(p).resolve().parent, read_toml(p)), str(p), max_points=max_points)
