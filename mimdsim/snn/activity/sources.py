"""Activity sources: where the spike counts of an estimate come from, as objects.

Each source makes the :class:`~mimdsim.snn.activity.counts.SpikeActivity` of a network and says what it
is (:attr:`label`); :func:`source_of` turns the names and paths of the command line and the API
(``"functional"``, ``"parametric"``, ``"saturated"``, a trace ``.npz``, a ``.csv``/``.parquet``
count table, a :class:`SpikeActivity`) into one, with every check made before any work.

>>> from mimdsim.snn.model.spec import snn_from_sizes
>>> spec = snn_from_sizes([16, 6, 2], max_activity=0.5, input_sparse_size=4, batch_size=6, n_timesteps=2)
>>> src = source_of("saturated")
>>> src.label, int(src.activity(spec).true_counts[1].max())
('saturated', 2)
>>> source_of("parametric", rate=0.1).label
'parametric(rate=0.1)'
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from mimdsim.errors import ConfigError
from mimdsim.snn.activity.counts import SpikeActivity, functional_activity, parametric_activity
from mimdsim.snn.model.spec import SNNSpec

__all__ = [
    "ACTIVITY_SOURCES", "ActivitySource", "Functional", "Parametric", "Saturated", "TraceFile", "CountTable", "Given",
    "saturated_activity", "source_of",
]  # fmt: skip

ACTIVITY_SOURCES = ("functional", "parametric", "saturated")
"""Named activity sources; a path to a ``.npz`` trace or a count table, or a :class:`SpikeActivity`, also work."""


@runtime_checkable
class ActivitySource(Protocol):
    """Makes the spike counts of a network."""

    @property
    def label(self) -> str: ...

    def activity(self, spec: SNNSpec, *, cache: bool = True) -> SpikeActivity: ...


def saturated_activity(spec: SNNSpec) -> SpikeActivity:
    """Every spike tensor full at every step: the worst case the sparse sizes allow."""
    T, B = spec.n_timesteps, spec.batch_size
    full = tuple(np.full((T, B), s, np.int32) for s in spec.sparse_sizes)
    return SpikeActivity(full, full, tuple(spec.sparse_sizes), T, B, source="saturated")


@dataclass(frozen=True)
class Functional:
    """The functional sparse SNN on Poisson input (or ``input_data``, a dataset the user holds)."""

    seed: int = 0
    input_rate: float | None = None
    input_data: str | None = None

    @property
    def label(self) -> str:
        return "functional" if self.input_data is None else f"functional({Path(self.input_data).name})"

    def activity(self, spec: SNNSpec, *, cache: bool = True) -> SpikeActivity:
        if cache:
            from mimdsim.snn.activity.cache import cached_functional_activity

            return cached_functional_activity(spec, self.seed, input_rate=self.input_rate, input_data=self.input_data)
        kw: dict[str, Any] = {} if self.input_rate is None else {"input_rate": self.input_rate}
        return functional_activity(spec, self.seed, input_data=self.input_data, **kw)


@dataclass(frozen=True)
class Parametric:
    """Binomial counts at a firing rate, no network."""

    rate: float
    seed: int = 0
    input_rate: float | None = None

    @property
    def label(self) -> str:
        return f"parametric(rate={self.rate})"

    def activity(self, spec: SNNSpec, *, cache: bool = True) -> SpikeActivity:
        kw: dict[str, Any] = {} if self.input_rate is None else {"input_rate": self.input_rate}
        return parametric_activity(spec, self.rate, self.seed, **kw)


@dataclass(frozen=True)
class Saturated:
    """Every tensor full: the worst case."""

    label: str = "saturated"

    def activity(self, spec: SNNSpec, *, cache: bool = True) -> SpikeActivity:
        return saturated_activity(spec)


@dataclass(frozen=True)
class TraceFile:
    """A recorded trace (format 1 or 2, docs/trace_format.md)."""

    path: str

    @property
    def label(self) -> str:
        return f"trace:{Path(self.path).name}"

    def activity(self, spec: SNNSpec, *, cache: bool = True) -> SpikeActivity:
        from mimdsim.snn.activity.trace_file import read_trace

        act = read_trace(self.path).activity
        act.check_against(spec)
        return act


@dataclass(frozen=True)
class CountTable:
    """A per-step count table another framework wrote (``.csv`` or ``.parquet``)."""

    path: str

    @property
    def label(self) -> str:
        return f"table:{Path(self.path).name}"

    def activity(self, spec: SNNSpec, *, cache: bool = True) -> SpikeActivity:
        from mimdsim.snn.activity.trace_file import activity_from_table

        return activity_from_table(self.path, spec)


@dataclass(frozen=True)
class Given:
    """Counts the caller made."""

    counts: SpikeActivity

    @property
    def label(self) -> str:
        return self.counts.source or "given"

    def activity(self, spec: SNNSpec, *, cache: bool = True) -> SpikeActivity:
        self.counts.check_against(spec)
        return self.counts


def source_of(
    source: str | os.PathLike[str] | SpikeActivity | ActivitySource = "functional",
    *,
    seed: int = 0,
    rate: float | None = None,
    input_rate: float | None = None,
    input_data: str | os.PathLike[str] | None = None,
) -> ActivitySource:
    """The source object of a name, a path, counts or a source (options that do not apply are refused).

    Raises
    ------
    ConfigError
        An unknown name, an option that does not apply to the source (``rate`` without
        ``parametric``, ``input_rate`` or ``input_data`` without a source that draws input), a
        bad seed.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"seed: {seed!r} must be an integer >= 0")
    rate, input_rate = (x.item() if isinstance(x, np.generic) else x for x in (rate, input_rate))  # numpy scalars as Python's
    if isinstance(source, ActivitySource) and not isinstance(source, str | os.PathLike):
        return source
    if input_data is not None and source != "functional":
        raise ConfigError(f"input data: only the functional activity source reads a dataset (got {str(source)!r})")
    named = (
        source
        if isinstance(source, str) and source in ACTIVITY_SOURCES
        else "trace"
        if not isinstance(source, SpikeActivity)
        else "given"
    )
    if rate is not None and named != "parametric":
        raise ConfigError(f"rate: only the parametric activity source has a firing rate (the source is {named})")
    if input_rate is not None and named not in ("functional", "parametric"):
        raise ConfigError(f"input_rate: only the functional and parametric sources draw input spikes (the source is {named})")
    if input_rate is not None and input_data is not None:
        raise ConfigError("input_rate: the input comes from input_data (a dataset), not from Poisson draws at a rate")
    if isinstance(source, SpikeActivity):
        return Given(source)
    if source == "functional":
        return Functional(int(seed), input_rate, None if input_data is None else str(input_data))
    if source == "parametric":
        if rate is None:
            raise ConfigError("activity: 'parametric' needs a firing rate (rate=..., --rate)")
        return Parametric(rate, int(seed), input_rate)
    if source == "saturated":
        return Saturated()
    path = Path(source)
    if path.suffix.lower() in (".csv", ".parquet", ".npz") and not path.is_file():
        raise ConfigError(f"activity: {path}: file not found (a trace .npz or a count table .csv/.parquet)")
    if path.suffix.lower() in (".csv", ".parquet"):
        return CountTable(str(path))
    if path.suffix == ".npz" or path.exists():
        return TraceFile(str(path))
    raise ConfigError(
        f"activity: {str(source)!r} is not one of {', '.join(ACTIVITY_SOURCES)}, an .npz trace or a .csv/.parquet count table"
    )
