"""Spike-activity traces, format 2: counts with their network and provenance, for record and replay.

A version-2 trace (``.npz``, docs/trace_format.md) holds, per spike tensor (input first), time
step and batch element, the true and the gradient-only counts, and beside them the network they
were recorded on (the :class:`~mimdsim.snn.model.spec.SNNSpec` as JSON, with its hash), the run
options that are not machine-specific (seed, neurons per tile, partitioner, lowering), where the
input came from and the mimdsim version. Nothing in it depends on the machine, so it can be
replayed on any (:func:`replay_spec`). Version-1 traces are still read (without provenance).

* :func:`save_trace` / :func:`read_trace` -- write atomically, read strictly (the file and the
  first bad record in every error);
* :func:`resample` -- the counts for another batch size or number of time steps;
* :func:`activity_from_table` -- a per-step count table (CSV, or Parquet with pandas) that
  another SNN framework can write.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from mimdsim.arch.load import format_validation_error
from mimdsim.errors import ConfigError, TraceFormatError
from mimdsim.snn.activity.counts import SpikeActivity
from mimdsim.snn.activity.trace_v1 import TRACE_KIND, activity_of_v1, optional_arrays, optional_arrays_of, read_npz
from mimdsim.snn.model.spec import SNNSpec

__all__ = ["TRACE_VERSION", "Trace", "save_trace", "read_trace", "resample", "activity_from_table", "TABLE_COLUMNS"]

TRACE_VERSION = 2
TABLE_COLUMNS = ("layer", "step", "sample", "true", "grad_only")
"""Columns of a count table: ``layer`` 0 is the input, ``l`` the output of hidden/output layer ``l``."""


@dataclass(frozen=True)
class Trace:
    """A trace read back: the counts and, for version 2, the network and the run options recorded with them."""

    activity: SpikeActivity
    version: int
    spec: SNNSpec | None = None
    run: dict[str, Any] = field(default_factory=dict)
    """``seed``, ``neurons_per_tile``, ``partitioner``, ``lowering``, ``activity_source`` of the recording."""
    provenance: dict[str, Any] = field(default_factory=dict)
    """``model_hash``, ``mimdsim_version``, ``data_source``."""


class TraceRun(BaseModel):
    """A trace's ``run_json``: the run options ``mimdsim replay`` takes by default (none machine-specific), by type;
    keys a later version adds pass as they are."""

    model_config = ConfigDict(extra="allow", frozen=True)

    seed: Annotated[StrictInt, Field(ge=0)] | None = None
    neurons_per_tile: Annotated[StrictInt, Field(ge=1)] | None = None
    partitioner: StrictStr | None = None
    passes: StrictStr | None = None
    lowering: StrictStr | None = None
    program_version: StrictStr | None = None
    activity_source: StrictStr | None = None


def spec_hash(spec: SNNSpec) -> str:
    from mimdsim.hashing import input_hash

    return input_hash({"spec": spec.model_dump(mode="json")})


def save_trace(path: str | os.PathLike[str], act: SpikeActivity, spec: SNNSpec, run: dict[str, Any] | None = None) -> None:
    """Write a version-2 trace of ``act`` recorded on ``spec`` (atomically, to exactly ``path``)."""
    from mimdsim import __version__
    from mimdsim.files import write_bytes

    act.check_against(spec)
    true = np.stack(act.true_counts).astype(np.int32)
    prov = {"model_hash": spec_hash(spec), "mimdsim_version": __version__, "data_source": act.source}
    buf = io.BytesIO()
    np.savez_compressed(
        buf, format_version=np.int64(TRACE_VERSION), kind=np.str_(TRACE_KIND),
        sparse_sizes=np.asarray(act.sparse_sizes, np.int64), layer_sizes=np.asarray(spec.layer_sizes, np.int64),
        n_timesteps=np.int64(act.n_timesteps), batch_size=np.int64(act.batch_size), true_counts=true,
        grad_only_counts=(np.stack(act.valid_counts) - true).astype(np.int32), source=np.str_(act.source),
        spec_json=np.str_(spec.model_dump_json()), run_json=np.str_(json.dumps(run or {}, sort_keys=True)),
        provenance_json=np.str_(json.dumps(prov, sort_keys=True)), **optional_arrays(act),
    )  # fmt: skip
    write_bytes(path, buf.getvalue(), what="trace", compress=False)


_V2_KEYS = ("format_version", "kind", "sparse_sizes", "layer_sizes", "n_timesteps", "batch_size", "true_counts", "grad_only_counts",
            "spec_json", "run_json", "provenance_json")  # fmt: skip


def _first_bad(mask: np.ndarray) -> str:
    k, t, b = (int(x) for x in np.argwhere(mask)[0])
    return f"[tensor {k}, step {t}, sample {b}]"


def read_trace(path: str | os.PathLike[str]) -> Trace:
    """Read a trace of version 1 or 2.

    Raises
    ------
    TraceFormatError
        A missing, truncated or corrupt file, another kind or version, a missing key, a wrong
        shape or dtype, counts outside ``0 <= true <= true + grad_only <= S`` (the first bad
        record named), layer sizes or a network that do not agree with the counts.
    """
    p = Path(path)
    data = read_npz(p, "trace")
    version = data.get("format_version")
    if version is not None and version.shape == () and np.issubdtype(version.dtype, np.integer) and int(version) == 1:
        return Trace(activity_of_v1(p, data), 1)  # the arrays already read, not the file again
    for key in _V2_KEYS:
        if key not in data:
            raise TraceFormatError(f"{p}: key {key!r} missing (a version-2 trace holds {', '.join(_V2_KEYS)})")
    if str(data["kind"]) != TRACE_KIND:
        raise TraceFormatError(f"{p}: kind: {str(data['kind'])!r} is not an activity trace (allowed: {TRACE_KIND!r})")
    if version is None or version.shape != () or not np.issubdtype(version.dtype, np.integer) or int(version) != TRACE_VERSION:
        raise TraceFormatError(f"{p}: format_version: {version!r} is not supported (allowed: 1, {TRACE_VERSION})")
    sizes, layers = data["sparse_sizes"], data["layer_sizes"]
    for key, arr in (("sparse_sizes", sizes), ("layer_sizes", layers)):
        if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer) or (arr <= 0).any() or arr.size < 2:
            raise TraceFormatError(f"{p}: {key}: {arr.tolist()!r} is not a 1-D array of at least two positive integers")
    if layers.size != sizes.size or (sizes > layers).any():
        raise TraceFormatError(
            f"{p}: layer_sizes {layers.tolist()} and sparse_sizes {sizes.tolist()} disagree (one per tensor, S <= N)"
        )
    T, B = (
        int(data[k]) if data[k].shape == () and np.issubdtype(data[k].dtype, np.integer) else -1
        for k in ("n_timesteps", "batch_size")
    )
    if T <= 0 or B <= 0:
        raise TraceFormatError(f"{p}: n_timesteps/batch_size must be positive integer scalars")
    true, grad = data["true_counts"], data["grad_only_counts"]
    for key, arr in (("true_counts", true), ("grad_only_counts", grad)):
        if arr.shape != (sizes.size, T, B) or not np.issubdtype(arr.dtype, np.integer):
            raise TraceFormatError(
                f"{p}: {key}: {arr.dtype}{list(arr.shape)} is not an integer array [n_tensors, T, B] = {[sizes.size, T, B]}"
            )
        if (arr < 0).any():
            raise TraceFormatError(f"{p}: {key}{_first_bad(arr < 0)}: negative count {int(arr[tuple(np.argwhere(arr < 0)[0])])}")
    over = (true + grad) > sizes[:, None, None]
    if over.any():
        k, t, b = (int(x) for x in np.argwhere(over)[0])
        raise TraceFormatError(
            f"{p}: counts{_first_bad(over)}: true {int(true[k, t, b])} + grad_only {int(grad[k, t, b])} > sparse size {int(sizes[k])}"
        )
    if grad[0].any():
        raise TraceFormatError(f"{p}: grad_only_counts{_first_bad(grad[:1] != 0)}: the input tensor has no gradient-only entries")
    try:
        spec = SNNSpec.model_validate_json(str(data["spec_json"]))
        run, prov = json.loads(str(data["run_json"])), json.loads(str(data["provenance_json"]))
    except (ValueError, TypeError) as err:
        raise TraceFormatError(f"{p}: spec_json/run_json/provenance_json: not valid ({str(err).splitlines()[0]})") from None
    try:
        TraceRun.model_validate(run)
        if not isinstance(prov, dict):
            raise TraceFormatError(f"{p}: provenance_json: expected a JSON object (got {prov!r:.60})")
    except ValidationError as err:
        raise TraceFormatError(format_validation_error(err, f"{p}: run_json").split("\n")[0]) from None
    if list(spec.layer_sizes) != layers.tolist() or list(spec.sparse_sizes) != sizes.tolist():
        raise TraceFormatError(f"{p}: spec_json's layer and sparse sizes do not match layer_sizes/sparse_sizes")
    if (spec.n_timesteps, spec.batch_size) != (T, B):
        raise TraceFormatError(f"{p}: spec_json has T={spec.n_timesteps}, B={spec.batch_size}; the counts T={T}, B={B}")
    try:
        act = SpikeActivity(tuple(true.astype(np.int32)), tuple((true + grad).astype(np.int32)), tuple(int(s) for s in sizes), T, B,
                            source=str(data["source"]) if "source" in data else "trace", **optional_arrays_of(data, sizes.size))  # fmt: skip
        act.check_against(spec)
    except (TraceFormatError, ConfigError) as err:
        raise TraceFormatError(f"{p}: {err}") from None
    return Trace(act, TRACE_VERSION, spec, run, prov)


def resample(act: SpikeActivity, batch_size: int | None = None, n_timesteps: int | None = None) -> SpikeActivity:
    """The counts for ``batch_size`` samples and ``n_timesteps`` steps (``None``: as recorded).

    Sample ``b`` takes recorded sample ``b mod B``; step ``t`` takes recorded step
    ``floor(t T / T')``: more samples repeat the recorded ones in order, more steps stretch the
    recorded sequence, fewer keep evenly spaced steps. Sparse sizes are unchanged, so every
    count stays within its cap. Per-neuron counts and spike ids are dropped when B or T
    change (they belong to the recorded samples and steps).

    >>> c = np.arange(6).reshape(3, 2)
    >>> a = SpikeActivity((c, c % 2), (c, c % 2), (8, 4), 3, 2)
    >>> resample(a, batch_size=3, n_timesteps=6).true_counts[0].tolist()
    [[0, 1, 0], [0, 1, 0], [2, 3, 2], [2, 3, 2], [4, 5, 4], [4, 5, 4]]
    """
    B2 = act.batch_size if batch_size is None else batch_size
    T2 = act.n_timesteps if n_timesteps is None else n_timesteps
    for name, v in (("batch_size", B2), ("n_timesteps", T2)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ConfigError(f"resample: {name} must be a positive integer (got {v!r})")
    rows = (np.arange(T2) * act.n_timesteps) // T2
    cols = np.arange(B2) % act.batch_size

    def pick(counts: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
        return tuple(np.ascontiguousarray(c[np.ix_(rows, cols)]).astype(np.int32) for c in counts)

    note = "" if (B2, T2) == (act.batch_size, act.n_timesteps) else f" resampled to B={B2}, T={T2}"
    same = {"neuron_counts": act.neuron_counts, "spike_ids": act.spike_ids} if not note else {}
    return SpikeActivity(pick(act.true_counts), pick(act.valid_counts), act.sparse_sizes, T2, B2, source=act.source + note,
                         **same)  # fmt: skip


def activity_from_table(path: str | os.PathLike[str], spec: SNNSpec) -> SpikeActivity:
    """Counts of ``spec``'s tensors from a table with columns :data:`TABLE_COLUMNS` (``.csv``, or
    ``.parquet`` with pandas and pyarrow). A (layer, step, sample) not in the table counts 0.

    Raises
    ------
    TraceFormatError
        A missing column, a non-integer or out-of-range value, a layer/step/sample outside the
        model, a row given twice, gradient-only counts on the input (the file and the row).
    """
    p = Path(path)
    rows = _table_rows(p)
    K, T, B = len(spec.sparse_sizes), spec.n_timesteps, spec.batch_size
    true = np.zeros((K, T, B), np.int32)
    grad = np.zeros((K, T, B), np.int32)
    seen = np.zeros((K, T, B), bool)
    sizes = spec.sparse_sizes
    for n, r in rows:
        try:
            k, t, b, tr, g = (_count_value(r[c]) for c in TABLE_COLUMNS)
        except (TypeError, ValueError):
            raise TraceFormatError(f"{p}:{n}: every column must hold an integer (got {r})") from None
        for name, v, hi in (("layer", k, K), ("step", t, T), ("sample", b, B)):
            if not 0 <= v < hi:
                raise TraceFormatError(f"{p}:{n}: {name} {v} is outside 0..{hi - 1} of model {spec.name!r}")
        if seen[k, t, b]:
            raise TraceFormatError(f"{p}:{n}: layer {k}, step {t}, sample {b} is given twice")
        if tr < 0 or g < 0 or tr + g > sizes[k]:
            raise TraceFormatError(
                f"{p}:{n}: true {tr} + grad_only {g} must be within 0..{sizes[k]} (the sparse size of tensor {k})"
            )
        if k == 0 and g:
            raise TraceFormatError(f"{p}:{n}: the input (layer 0) has no gradient-only entries (got {g})")
        seen[k, t, b], true[k, t, b], grad[k, t, b] = True, tr, g
    return SpikeActivity(tuple(true), tuple(true + grad), tuple(sizes), T, B, source=f"table:{p.name}")


def _count_value(v: Any) -> int:
    """An integer cell, by the same rule for CSV and Parquet: an integer, or text of one; ``1.7``, ``2.0``, ``True`` and
    ``"2.5"`` are refused (ValueError), not rounded."""
    if isinstance(v, bool | np.bool_):
        raise ValueError(v)
    if isinstance(v, int | np.integer):
        return int(v)
    if isinstance(v, str) and v.strip().lstrip("+-").isdigit():
        return int(v)
    raise ValueError(v)


def _table_rows(p: Path) -> list[tuple[int, dict[str, Any]]]:
    if p.suffix.lower() == ".parquet":
        try:
            import pandas as pd

            df = pd.read_parquet(p)
        except ImportError:
            raise TraceFormatError(f"{p}: reading Parquet needs pyarrow: pip install 'mimdsim[parquet]'") from None
        except (OSError, ValueError) as err:
            raise TraceFormatError(f"{p}: not a readable Parquet table ({err})") from None
        missing = [c for c in TABLE_COLUMNS if c not in df.columns]
        if missing:
            raise TraceFormatError(f"{p}: column {missing[0]!r} missing (a count table has {', '.join(TABLE_COLUMNS)})")
        return [(i + 1, r) for i, r in enumerate(df[list(TABLE_COLUMNS)].to_dict(orient="records"))]
    try:
        with open(p, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in TABLE_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise TraceFormatError(f"{p}: column {missing[0]!r} missing (a count table has {', '.join(TABLE_COLUMNS)})")
            return [(n, r) for n, r in enumerate(reader, start=2)]
    except FileNotFoundError:
        raise TraceFormatError(f"{p}: file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise TraceFormatError(f"{p}: cannot read the count table ({err})") from None
