"""One result record per design point: :class:`SNNRecord`, built in one place.

``mimdsim snn --json``, sweeps, the result store, tables and plots all read this record.
It is flat (numbers, strings and tuples of them; no nested mappings), typed, with the unit
in every field name that has one. It carries ``schema_version``, the ``mimdsim_version``
that made it and ``input_hash``, a hash of every input of the point (the model file's
bytes, the machine and GPU descriptions, the run options); wall-clock time is never in
it, so the same inputs give the same record, byte for byte (:meth:`SNNRecord.to_json`).

A point that failed is a record too: the inputs it knows, ``error`` set, every output
``None``.

>>> r = SNNRecord.failed(model="m", input_hash="abc", error="MappingError: too big")
>>> r.ok, r.error, r.ms_per_step
(False, 'MappingError: too big', None)
>>> SNNRecord.from_dict(r.to_dict()) == r
True
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from mimdsim.arch.load import format_validation_error
from mimdsim.errors import ConfigError
from mimdsim.hashing import SCHEMA_VERSION, canonical_json, input_hash, input_value

if TYPE_CHECKING:
    from mimdsim.studies.step_estimate import SNNEstimate

__all__ = [
    "SNNRecord",
    "record_fields",
    "configuration_fields",
    "estimate_input_hash",
    "record_hash",
]


_TOP_N = 6
_PHASES = ("fwd", "bwd", "update", "host", "other")


def estimate_input_hash(spec: Any, machine: Any, **run: Any) -> str:
    """The ``input_hash`` of an estimate: the network, the machine and every run option that
    changes a figure (:func:`mimdsim.studies.estimate.estimate_training_step`'s arguments)."""
    return input_hash({"spec": spec.model_dump(mode="json"), "machine": machine.model_dump(mode="json"),
                       **{k: input_value(v) for k, v in sorted(run.items())}})  # fmt: skip


def record_hash(estimate_hash: str, max_activity: float | None) -> str:
    """A record's ``input_hash``: the estimate's, and the max activity the point asked for (two
    activities can give the same sparse sizes, hence the same estimate, but not the same record)."""
    return estimate_hash if max_activity is None else input_hash({"estimate": estimate_hash, "max_activity": max_activity})


@dataclass(frozen=True)
class SNNRecord:
    """The result of one SNN training-step estimate (one design point). Times per training step."""

    # --- identity
    input_hash: str
    schema_version: int = SCHEMA_VERSION
    mimdsim_version: str = ""
    error: str | None = None
    """A failed point: ``Kind: message`` (the first line)."""
    error_kind: str | None = None
    """A failed point's kind, the exception's class: ``TileMemoryError`` (does not fit), ``MappingError``,
    ``SimulationLimitError``, ..."""
    error_tile: int | None = None
    """A point that does not fit: the tile furthest over its memory (None when the check before placement found
    that every tile of some layer would be over)."""
    error_tile_bytes: int | None = None
    """A point that does not fit: the bytes its fullest tile needs, at least (``memory_bytes_per_tile`` is what it has)."""
    # --- configuration
    model: str = ""
    model_path: str = ""
    depth: int | None = None
    """Hidden layers."""
    layers: tuple[int, ...] = ()
    sparse_sizes: tuple[int, ...] = ()
    max_activity: float | None = None
    batch_size: int | None = None
    n_timesteps: int | None = None
    machine: str = ""
    n_ipus: int | None = None
    n_ipus_used: int | None = None
    tiles_per_ipu: int | None = None
    tile_clock_hz: float | None = None
    memory_bytes_per_tile: int | None = None
    neurons_per_tile: int | None = None
    partitioner: str = ""
    engine: str = ""
    activity_source: str = ""
    seed: int | None = None
    passes: str = ""
    """The compiler pipeline (or comma-separated passes) applied to the program (docs/passes.md)."""
    program_version: str = ""
    """The version of the authors' op lowered (``final`` or ``2022-09-12``)."""
    # --- IPU step
    cycles_per_step: int | None = None
    ms_per_step: float | None = None
    samples_per_s: float | None = None
    compute_cycles: int | None = None
    exchange_cycles: int | None = None
    global_exchange_cycles: int | None = None
    host_exchange_cycles: int | None = None
    sync_cycles: int | None = None
    fwd_cycles: int | None = None
    bwd_cycles: int | None = None
    update_cycles: int | None = None
    host_phase_cycles: int | None = None
    other_phase_cycles: int | None = None
    critical_layers: tuple[str, ...] = ()
    """``L1``.. (hidden/output layer of a superstep's critical tile) or ``support``; ..."""
    critical_layer_cycles: tuple[int, ...] = ()
    """... and the cycles of the supersteps whose critical tile is in it."""
    top_superstep_names: tuple[str, ...] = ()
    top_superstep_cycles: tuple[int, ...] = ()
    top_superstep_cycles_per_timestep: tuple[float, ...] = ()
    top_superstep_shares: tuple[float, ...] = ()
    top_superstep_bounds: tuple[str, ...] = ()
    top_superstep_critical_layers: tuple[str, ...] = ()
    max_tile_memory_bytes: int | None = None
    n_oom_tiles: int | None = None
    mean_true_spikes: tuple[float, ...] = ()
    """Per spike tensor (input first), averaged over time steps and samples."""
    mean_valid_spikes: tuple[float, ...] = ()
    # --- GPU step (when a GPU was given)
    gpu: str | None = None
    gpu_framework: str | None = None
    gpu_matmul_precision: str | None = None
    gpu_ms_per_step: float | None = None
    gpu_samples_per_s: float | None = None
    speedup_vs_gpu: float | None = None
    gpu_ideal_ms_per_step: float | None = None
    speedup_vs_gpu_ideal: float | None = None
    gpu_dominant: str | None = None
    gpu_compute_bound_ms: float | None = None
    gpu_memory_bound_ms: float | None = None
    gpu_launch_ms: float | None = None
    gpu_launches: int | None = None
    gpu_gflops: float | None = None
    gpu_gbytes: float | None = None
    gpu_host_enqueue_ms: float | None = None
    gpu_loop_sync_ms: float | None = None
    gpu_graph_launch_ms: float | None = None
    gpu_input_copy_ms: float | None = None

    # --- energy per step (docs/energy.md): bands at the all-low, central and all-high corners
    energy_scope: str | None = None
    """What the energy covers: ``chip`` (the IPUs or the GPU card alone) or ``machine`` (plus each IPU's system share)."""
    ipu_energy_low_j: float | None = None
    ipu_energy_central_j: float | None = None
    ipu_energy_high_j: float | None = None
    ipu_power_low_w: float | None = None
    ipu_power_central_w: float | None = None
    ipu_power_high_w: float | None = None
    gpu_energy_low_j: float | None = None
    gpu_energy_central_j: float | None = None
    gpu_energy_high_j: float | None = None
    gpu_power_low_w: float | None = None
    gpu_power_central_w: float | None = None
    gpu_power_high_w: float | None = None
    gpu_ipu_energy_ratio_low: float | None = None
    """GPU energy / IPU energy, from opposite corners (lowest, central, highest)."""
    gpu_ipu_energy_ratio_central: float | None = None
    gpu_ipu_energy_ratio_high: float | None = None
    gpu_ipu_energy_ratio_robust: bool | None = None
    """True when the whole ratio band lies on one side of 1."""

    @property
    def ok(self) -> bool:
        """The point ran (no ``error``)."""
        return self.error is None

    @property
    def breakdown_cycles(self) -> dict[str, int]:
        """The critical-path split as a mapping (``compute``, ``exchange``, ``global_exchange``, ``host_exchange``, ``sync``)."""
        return {
            c: int(getattr(self, f"{c}_cycles") or 0) for c in ("compute", "exchange", "global_exchange", "host_exchange", "sync")
        }

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict (tuples as lists), in field order."""
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v for f in fields(self)}

    def to_json(self) -> str:
        """Canonical JSON (sorted keys): equal records give equal text."""
        return canonical_json(self.to_dict())

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SNNRecord:
        """The record of a :meth:`to_dict` mapping (lists back to tuples).

        Raises
        ------
        ConfigError
            An unknown field, a missing ``input_hash`` or a value of the wrong type (``ms_per_step: "fast"``).
        """
        names = {f.name for f in fields(cls)}
        bad = sorted(set(d) - names)
        if bad:
            raise ConfigError(f"result record: unknown field {bad[0]!r}")
        if "input_hash" not in d:
            raise ConfigError("result record: no input_hash")
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        try:
            _record_fields_model().model_validate(values)
        except ValidationError as err:
            raise ConfigError(format_validation_error(err, "record").split("\n")[0]) from None
        return cls(**values)

    @classmethod
    def failed(cls, *, input_hash: str, error: str | BaseException, **known: Any) -> SNNRecord:
        """The record of a point that raised ``error`` (its inputs as far as they are known): the message, the
        kind, and for a point that does not fit its worst tile and the bytes that tile needs."""
        from mimdsim import __version__
        from mimdsim.errors import TileMemoryError

        fields: dict[str, Any] = {
            "error": error if isinstance(error, str) else f"{type(error).__name__}: {error}".splitlines()[0]
        }
        if isinstance(error, BaseException):
            fields["error_kind"] = type(error).__name__
            if isinstance(error, TileMemoryError):
                fields |= {"error_tile": error.tile, "error_tile_bytes": error.needed_bytes}
        return cls(input_hash=input_hash, mimdsim_version=__version__, **fields, **known)

    @classmethod
    def from_estimate(cls, est: SNNEstimate, *, model_path: str = "", max_activity: float | None = None) -> SNNRecord:
        """The record of a finished estimate (``input_hash``: :func:`record_hash`)."""
        from mimdsim import __version__
        from mimdsim.engines.result import step_family

        spec, res, machine = est.spec, est.result, est.machine
        total = int(res.total_cycles)
        tile_layer = {int(t): lp.layer for lp in est.mapping.layers for t in lp.tiles.tolist()}
        by_layer: Counter[str] = Counter()
        phase = dict.fromkeys(_PHASES, 0)
        kind_layer: dict[str, Counter[str]] = defaultdict(Counter)
        for rec in res.supersteps:
            lay = tile_layer.get(rec.critical_tile)
            label = "support" if lay is None else f"L{lay + 1}"
            by_layer[label] += rec.cycles
            head = rec.name.split(".", 1)[0]
            phase[head if head in phase else "other"] += rec.cycles
            kind_layer[step_family(rec.name)][label] += rec.cycles
        top = est.step_kinds()[:_TOP_N]
        b = est.breakdown_cycles
        layers_sorted = sorted(by_layer.items())
        act = est.activity
        out: dict[str, Any] = dict(
            input_hash=record_hash(est.input_hash, max_activity), mimdsim_version=__version__,
            **configuration_fields(spec, machine, model_path=model_path, max_activity=max_activity, engine=est.engine,
                                   seed=est.seed, gpu=est.gpu.gpu if est.gpu is not None else None),
            n_ipus_used=int(est.mapping.n_ipus_used), neurons_per_tile=int(est.neurons_per_tile), partitioner=str(est.mapping.method),
            passes=str(est.program.metadata.get("passes", "")) if est.program is not None else "",
            activity_source=est.activity_source, cycles_per_step=total, ms_per_step=float(est.ms_per_step),
            samples_per_s=float(est.samples_per_s),
            **{f"{c}_cycles": int(v) for c, v in b.items()},
            fwd_cycles=phase["fwd"], bwd_cycles=phase["bwd"], update_cycles=phase["update"], host_phase_cycles=phase["host"],
            other_phase_cycles=phase["other"], critical_layers=tuple(k for k, _ in layers_sorted),
            critical_layer_cycles=tuple(int(v) for _, v in layers_sorted), top_superstep_names=tuple(k.name for k in top),
            top_superstep_cycles=tuple(int(k.cycles) for k in top),
            top_superstep_cycles_per_timestep=tuple(float(k.cycles_per_timestep) for k in top),
            top_superstep_shares=tuple(k.cycles / total if total else 0.0 for k in top), top_superstep_bounds=tuple(k.bound for k in top),
            top_superstep_critical_layers=tuple(
                kind_layer[k.name].most_common(1)[0][0] if kind_layer[k.name] else "support" for k in top
            ),
            max_tile_memory_bytes=int(est.ledger.max_tile_bytes), n_oom_tiles=len(est.oom_tiles),
            mean_true_spikes=tuple(float(c.mean()) for c in act.true_counts) if act is not None else (),
            mean_valid_spikes=tuple(float(c.mean()) for c in act.valid_counts) if act is not None else (),
        )  # fmt: skip
        g = est.gpu
        if g is not None and est.gpu_ideal is not None:
            terms = dict(g.overhead)
            out.update(
                gpu_framework=g.framework, gpu_matmul_precision=g.matmul_precision, gpu_ms_per_step=g.ms_per_step,
                gpu_samples_per_s=g.samples_per_s, speedup_vs_gpu=est.speedup_vs_gpu,
                gpu_ideal_ms_per_step=est.gpu_ideal.ms_per_step, speedup_vs_gpu_ideal=est.speedup_vs_gpu_ideal,
                gpu_dominant=g.dominant, gpu_compute_bound_ms=1e3 * g.compute_bound_s, gpu_memory_bound_ms=1e3 * g.memory_bound_s,
                gpu_launch_ms=1e3 * g.launch_s, gpu_launches=int(g.total_launches), gpu_gflops=g.total_flops / 1e9,
                gpu_gbytes=g.total_bytes / 1e9,
                **{f"gpu_{t}_ms": 1e3 * terms.get(t, 0.0) for t in ("host_enqueue", "loop_sync", "graph_launch", "input_copy")},
            )  # fmt: skip
        out.update(est.energy().fields())
        return cls(**out)


def configuration_fields(spec: Any, machine: Any, *, model_path: str = "", max_activity: float | None = None, engine: str = "",
                         seed: int | None = None, gpu: str | None = None) -> dict[str, Any]:  # fmt: skip
    """The record's input fields of a network on a machine: those of a finished estimate and of a failed point."""
    return dict(
        model=spec.name, model_path=model_path, depth=len(spec.layer_sizes) - 2, layers=tuple(int(n) for n in spec.layer_sizes),
        sparse_sizes=tuple(int(s) for s in spec.sparse_sizes), max_activity=max_activity, batch_size=int(spec.batch_size),
        n_timesteps=int(spec.n_timesteps), machine=machine.name, n_ipus=int(machine.n_ipus), tiles_per_ipu=int(machine.tiles_per_ipu),
        tile_clock_hz=float(machine.tile_clock_hz), memory_bytes_per_tile=int(machine.memory_bytes_per_tile), engine=engine,
        seed=seed, gpu=gpu, program_version=str(spec.program_version),
    )  # fmt: skip


def record_fields() -> tuple[str, ...]:
    """The field names of :class:`SNNRecord`, in order (the columns of a results table)."""
    return tuple(f.name for f in dataclasses.fields(SNNRecord))


@functools.cache
def _record_fields_model() -> type[BaseModel]:
    """The type check of a record's fields: :class:`SNNRecord`'s annotations as a strict pydantic model (a number
    is a number, not a string that looks like one; a tuple holds its type)."""
    hints = typing.get_type_hints(SNNRecord)
    return create_model(  # type: ignore[call-overload]
        "SNNRecordFields",
        __config__=ConfigDict(strict=True, extra="forbid"),
        **{f.name: (hints[f.name], ... if f.default is dataclasses.MISSING else f.default) for f in fields(SNNRecord)},
    )
