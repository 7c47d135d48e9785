"""SNN design points: a point (a flat dict of inputs) -> one :class:`~mimdsim.studies.record.SNNRecord`.

A point's keys (:data:`POINT_KEYS`; any subset, the rest default):

* ``model`` -- a preset name of ``models/snn/`` or a TOML path; ``max_activity`` replaces
  the file's (``None`` keeps it); ``model.<field>`` replaces a field of the network
  (``model.batch_size``, ``model.n_timesteps``, ``model.optimizer``, ...);
* ``machine`` -- a preset name, a TOML path or a :class:`~mimdsim.arch.spec.MachineSpec`;
  ``machine.<field>`` replaces any machine field (``machine.n_ipus``,
  ``machine.exchange_bytes_per_cycle``, ...);
* run options: ``engine``, ``activity_source``, ``rate``, ``input_rate``, ``seed``,
  ``partitioner``, ``neurons_per_tile``; ``passes`` (the compiler pipeline, a name or a
  comma-separated list of passes; ``lowering`` is its old name); ``program_version`` (the
  version of the authors' op, the same as ``model.program_version``); ``soft_double_slot_cycles``
  (the 2022-09-12 op's soft-double surrogate per slot, docs/snn.md);
* GPU: ``gpu`` (``None``: no GPU), ``gpu_framework`` (``None``: the paper's
  ``tf-keras-xla``), ``gpu_precision``.

:func:`prepare_point` resolves a point into the arguments of
:func:`~mimdsim.studies.estimate.estimate_training_step` and its ``input_hash``, without running
it; :func:`snn_point` runs it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mimdsim.errors import ConfigError, MimdsimError
from mimdsim.sweep.executors import run_sweep
from mimdsim.sweep.grid import expand_grid

__all__ = [
    "PAPER_FAMILY_A_MODELS", "PAPER_FAMILY_A_ACTIVITIES", "POINT_KEYS", "RUN_KEYS", "PreparedPoint", "check_point_keys",
    "resolve_snn_model", "prepare_point", "run_prepared", "snn_points", "snn_point", "snn_sweep", "by_lowering",
]  # fmt: skip

PAPER_FAMILY_A_MODELS: tuple[str, ...] = ("nmnist_a_2hidden", "nmnist_a_3hidden", "nmnist_a_4hidden", "nmnist_a_5hidden")
"""The paper's family (a) ("multi_layer" mode, GSNN runfiles and BS @ 3e05811 (benchmark configurations)): 2-5 hidden layers, about 2942 hidden neurons."""

PAPER_FAMILY_A_ACTIVITIES: tuple[float, ...] = (0.005, 0.01, 0.02, 0.05, 0.1)
"""Maximum activities of the comparison with the paper's band (a subset of its sweep
{0.005, 0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5}: the 1-10 % of the 5-10x claim plus the sparsest)."""

RUN_KEYS: tuple[str, ...] = (
    "engine", "activity_source", "rate", "input_rate", "seed", "partitioner", "neurons_per_tile", "gpu", "gpu_framework",
    "gpu_precision",
)  # fmt: skip
"""Point keys passed to :func:`~mimdsim.studies.estimate.estimate_training_step` as they are."""

POINT_KEYS: tuple[str, ...] = (
    "model",
    "max_activity",
    "machine",
    "passes",
    "program_version",
    "soft_double_slot_cycles",
    "lowering",
    *RUN_KEYS,
)
"""Plain point keys; ``machine.<field>`` and ``model.<field>`` come on top (:func:`check_point_keys`)."""


def check_point_keys(keys: Sequence[str], where: str = "sweep") -> None:
    """Refuse a key that is no point key, machine field or network field, listing the valid ones.

    >>> check_point_keys(["model", "machine.n_ipus", "model.batch_size"])
    >>> check_point_keys(["machine.n_ipu"])
    Traceback (most recent call last):
    ...
    mimdsim.errors.ConfigError: sweep: unknown axis 'machine.n_ipu': machine fields are ...
    """
    from mimdsim.arch.spec import MachineSpec
    from mimdsim.snn.model.spec import SNNSpec

    machine_fields = sorted(MachineSpec.model_fields)
    model_fields = sorted((set(SNNSpec.model_fields) - {"layers"}) | {"layer_sizes"})  # layer_sizes: the model file's list
    for k in keys:
        head, _, rest = k.partition(".")
        if (
            (not rest and k in POINT_KEYS)
            or (head == "machine" and rest in machine_fields)
            or (head == "model" and rest in model_fields)
        ):
            continue
        if head == "machine" and rest:
            raise ConfigError(f"{where}: unknown axis {k!r}: machine fields are {', '.join(machine_fields)}")
        if head == "model" and rest:
            raise ConfigError(f"{where}: unknown axis {k!r}: network fields are {', '.join(model_fields)}")
        raise ConfigError(f"{where}: unknown axis {k!r}: valid are {', '.join(POINT_KEYS)}, machine.<field>, model.<field>")


def resolve_snn_model(name_or_path: str | os.PathLike[str]) -> Path:
    """The TOML file of an SNN model: a path, or a preset name of ``models/snn/``.

    Raises
    ------
    ConfigError
        Neither an existing file nor a known preset.

    >>> resolve_snn_model("nmnist_a_2hidden").name
    'nmnist_a_2hidden.toml'
    """
    from mimdsim.arch.load import resolve_preset

    return resolve_preset(name_or_path, "snn", "SNN model")


@dataclass(frozen=True)
class PreparedPoint:
    """A point resolved: the network, the machine, the estimate's keyword arguments and its ``input_hash``."""

    spec: Any
    machine: Any
    kwargs: dict[str, Any]
    model_path: str
    max_activity: float | None
    input_hash: str


_COSTING_ONLY_KEYS = ("engine", "gpu", "gpu_framework", "gpu_precision")
"""Estimate arguments that never change the lowered program: the engine that runs it and the GPU step beside it."""


def lowering_group(p: PreparedPoint) -> tuple[Any, ...]:
    """What the lowered program of ``p`` depends on: the network, the machine fields the lowering reads
    (:func:`~mimdsim.snn.activity.cache.lowering_key`) and every estimate argument but the engine and the GPU.
    Points with equal groups lower to one program, which the program cache keeps for the next of them (it can
    over-split: two groups may still lower alike)."""
    from mimdsim.snn.activity.cache import lowering_key

    rest = tuple(sorted((k, repr(v)) for k, v in p.kwargs.items() if k not in _COSTING_ONLY_KEYS))
    return (p.spec, lowering_key(p.machine), rest)


def by_lowering(indices: Sequence[int], prepared: Sequence[PreparedPoint]) -> list[int]:
    """``indices`` reordered so that the points of one :func:`lowering_group` come one after the other, the groups
    in the order of their first point and the points of a group in their own order: a sweep over machine fields
    and activities then lowers each network and activity once whichever axis comes first, as the program cache
    (:mod:`mimdsim.snn.activity.cache`) keeps only the last two programs.

    >>> from types import SimpleNamespace as P
    >>> from mimdsim.arch import load_machine
    >>> m = [load_machine("bow", exchange_bytes_per_cycle=v) for v in (4, 8)]
    >>> pts = [P(spec=s, machine=mm, kwargs={"engine": "fast"}) for mm in m for s in ("net-a", "net-b")]
    >>> by_lowering(range(4), pts)  # the exchange bandwidth is costed, not lowered: a, a, b, b
    [0, 2, 1, 3]
    """
    first: dict[tuple[Any, ...], int] = {}
    group = [first.setdefault(lowering_group(prepared[i]), len(first)) for i in indices]
    return [i for _, i in sorted(zip(group, indices, strict=True), key=lambda gi: gi[0])]


def _max_activity(point: Mapping[str, Any]) -> Any:
    return point["max_activity"] if "max_activity" in point else point.get("activity")  # ``activity``: the old key


def spec_object_keys() -> dict[str, type]:
    """The point keys a script may give a spec object, and its type: an SNNSpec as the model, a MachineSpec as the
    machine, a GPUSpec as the gpu."""
    from mimdsim.arch import MachineSpec
    from mimdsim.snn.gpu.model import GPUSpec
    from mimdsim.snn.model.spec import SNNSpec

    return {"model": SNNSpec, "machine": MachineSpec, "gpu": GPUSpec}


def _check_objects(point: Mapping[str, Any]) -> None:
    """A spec object only under its key (:func:`spec_object_keys`)."""
    from pydantic import BaseModel

    where = spec_object_keys()
    for key, v in point.items():
        if isinstance(v, BaseModel) and not isinstance(v, where.get(key, ())):
            allowed = f"a name, a file or a {where[key].__name__}" if key in where else "a number, a string or a boolean"
            raise ConfigError(f"{key}: a {type(v).__name__} object is not a value of {key} (expected {allowed})")


def prepare_point(point: Mapping[str, Any]) -> PreparedPoint:
    """Resolve ``point`` (read the model and machine, apply overrides) without running it.

    Raises
    ------
    MimdsimError
        An unknown key, a model or machine that does not load, a bad override.
    """
    from mimdsim.arch import load_machine
    from mimdsim.arch.load import format_validation_error, read_toml
    from mimdsim.snn.lowering.lower import LoweringOptions
    from mimdsim.snn.model.spec import SNNSpec, load_snn_model
    from mimdsim.studies.estimate import training_step_hash
    from mimdsim.studies.record import record_hash

    check_point_keys([k for k in point if k not in ("activity", "on_error")])
    _check_objects(point)
    activity = _max_activity(point)
    if activity is not None and (isinstance(activity, bool) or not isinstance(activity, (int, float)) or not 0 < activity <= 1):
        raise ConfigError(f"max_activity {activity!r} is outside (0, 1]")
    if isinstance(point["model"], SNNSpec):  # a network a script built: its sparse sizes are given
        if activity is not None:
            raise ConfigError(f"max_activity: model {point['model'].name!r} is an SNNSpec with its sparse sizes; "
                              "sweep max_activity over a model file, or build one SNNSpec per activity")  # fmt: skip
        spec, path = point["model"], Path("")
    else:
        path = resolve_snn_model(point["model"])
        spec, _hints = load_snn_model(path, max_activity=activity, layer_sizes=point.get("model.layer_sizes"))
        if activity is None:  # the file's own max_activity (None for explicit [[layers]])
            activity = read_toml(path).get("max_activity")
    model_over = {k[6:]: v for k, v in point.items() if k.startswith("model.") and k != "model.layer_sizes"}
    if point.get("program_version") is not None:
        model_over["program_version"] = point["program_version"]
    if model_over:
        from pydantic import ValidationError

        try:
            spec = SNNSpec.model_validate({**spec.model_dump(), **model_over})
        except ValidationError as err:
            raise ConfigError(format_validation_error(err, f"{path} (model.* overrides)")) from None
    machine = load_machine(point.get("machine", "bow"), **{k[8:]: v for k, v in point.items() if k.startswith("machine.")})
    kwargs: dict[str, Any] = {k: point[k] for k in RUN_KEYS if point.get(k) is not None}
    kwargs.setdefault("engine", "fast")
    passes = point.get("passes", point.get("lowering"))  # ``lowering``: the old key; its values are pipeline names
    lowering = {
        k: v for k, v in (("passes", passes), ("soft_double_slot_cycles", point.get("soft_double_slot_cycles"))) if v is not None
    }
    if lowering:
        kwargs["options"] = LoweringOptions(**lowering)
    return PreparedPoint(
        spec,
        machine,
        kwargs,
        "" if path == Path("") else str(path),
        activity,
        record_hash(training_step_hash(spec, machine, **kwargs), activity),
    )


def snn_point(point: Mapping[str, Any]) -> dict[str, Any]:
    """One training-step estimate: the :class:`~mimdsim.studies.record.SNNRecord` of ``point`` as a dict
    (the worker of :func:`snn_sweep` and of the result store).

    With ``on_error="record"`` in the point, a :class:`~mimdsim.errors.MimdsimError` gives a
    failed record (``error`` set) instead of raising.
    """
    from mimdsim.hashing import input_hash
    from mimdsim.studies.record import SNNRecord

    on_error = point.get("on_error", "raise")
    try:
        p = prepare_point(point)
    except MimdsimError as err:
        if on_error != "record":
            raise
        ihash = input_hash({"point": {k: str(v) for k, v in sorted(point.items())}})
        return SNNRecord.failed(input_hash=ihash, error=err, model=Path(str(point.get("model", ""))).stem,
                                max_activity=_max_activity(point)).to_dict()  # fmt: skip
    return run_prepared(p, on_error=on_error)


def run_prepared(p: PreparedPoint, *, on_error: str = "raise") -> dict[str, Any]:
    """The record of a point :func:`prepare_point` resolved, as a dict (a stored sweep that runs here resolved
    every point first, to hash it: this runs them without resolving them again). With ``on_error="record"``, a
    :class:`~mimdsim.errors.MimdsimError` of the estimate gives a failed record."""
    from mimdsim.studies.estimate import estimate_training_step
    from mimdsim.studies.record import SNNRecord

    try:
        est = estimate_training_step(p.spec, p.machine, **p.kwargs)
    except MimdsimError as err:
        if on_error != "record":
            raise
        return SNNRecord.failed(input_hash=p.input_hash, error=err, **_known(p)).to_dict()
    return est.record(model_path=p.model_path, max_activity=p.max_activity).to_dict()


def _known(p: PreparedPoint) -> dict[str, Any]:
    """The record fields of a point that failed in its run: its inputs."""
    from mimdsim.snn.lowering.lower import LoweringOptions
    from mimdsim.studies.record import configuration_fields

    gpu = p.kwargs.get("gpu")
    return configuration_fields(
        p.spec,
        p.machine,
        model_path=p.model_path,
        max_activity=p.max_activity,
        engine=p.kwargs.get("engine", "fast"),
        seed=p.kwargs.get("seed", 0),
        gpu=gpu if gpu is None or isinstance(gpu, str) else getattr(gpu, "name", str(gpu)),
    ) | {"passes": p.kwargs.get("options", LoweringOptions()).passes}


def snn_points(
    models: Sequence[str | os.PathLike[str]],
    activities: Sequence[float | None],
    machine: Any = "bow",
    gpu: str | None = "a100",
    engine: str = "fast",
    *,
    activity_source: str = "functional",
    seed: int = 0,
    on_error: str = "raise",
    gpu_framework: str | None = None,
    gpu_precision: str | None = None,
) -> list[dict[str, Any]]:
    """The points of :func:`snn_sweep` (models outer, activities inner), paths resolved.

    An activity of ``None`` keeps the model file's ``max_activity``. A bad ``gpu``,
    ``gpu_framework`` or ``gpu_precision`` is refused here, before any point runs.
    """
    if on_error not in ("raise", "record"):
        raise ConfigError(f"sweep: on_error must be 'raise' or 'record' (got {on_error!r})")
    if not models:
        raise ConfigError("sweep: no models")
    if not activities:
        raise ConfigError("sweep: no activities")
    for a in activities:
        if a is not None and (isinstance(a, bool) or not isinstance(a, (int, float)) or not 0 < a <= 1):
            raise ConfigError(f"sweep: activity {a!r} is outside (0, 1]")
    check_gpu(gpu, gpu_framework, gpu_precision)
    base = {"machine": machine, "gpu": gpu, "gpu_framework": gpu_framework, "gpu_precision": gpu_precision, "engine": engine,
            "activity_source": activity_source, "seed": seed, "on_error": on_error}  # fmt: skip
    paths = [str(resolve_snn_model(m)) for m in models]
    return expand_grid(base, {"model": paths, "max_activity": list(activities)})


def check_gpu(gpu: Any, framework: str | None, precision: str | None) -> None:
    """Refuse a bad GPU, framework or precision before any point runs."""
    if gpu is None:
        return
    from mimdsim.snn.gpu.frameworks import profile
    from mimdsim.snn.gpu.model import load_gpu

    load_gpu(gpu, **({"matmul_precision": precision} if precision is not None else {}))
    if framework is not None:
        profile(framework)


def snn_sweep(
    models: Sequence[str | os.PathLike[str]],
    activities: Sequence[float | None],
    machine: Any = "bow",
    gpu: str | None = "a100",
    engine: str = "fast",
    *,
    processes: int | None = 1,
    activity_source: str = "functional",
    seed: int = 0,
    on_error: str = "raise",
    executor: Executor | None = None,
    progress: Callable[[int, int], None] | None = None,
    gpu_framework: str | None = None,
    gpu_precision: str | None = None,
) -> list[dict[str, Any]]:
    """Estimate every model at every maximum activity on ``machine`` (and the dense GPU baseline).

    ``models`` are preset names of ``models/snn/`` or TOML paths; ``activities`` replace
    each file's ``max_activity`` (``None`` keeps it). The GPU runs the step as
    ``gpu_framework`` does (``None``: the paper's ``tf-keras-xla``); every row also has the
    speed-up over the ideal ``fused`` program. Rows (:class:`~mimdsim.studies.record.SNNRecord`
    dicts) come in the order models x activities. For axes over anything else, a store
    that resumes and a DataFrame, see :mod:`mimdsim.sweep.spec`.

    Example (about 0.2 s per point)::

        rows = snn_sweep(PAPER_FAMILY_A_MODELS, PAPER_FAMILY_A_ACTIVITIES, "bow", "a100", processes=2)
        print(mimdsim.report.tables.pivot_table(rows))
    """
    points = snn_points(
        models, activities, machine, gpu, engine, activity_source=activity_source, seed=seed, on_error=on_error,
        gpu_framework=gpu_framework, gpu_precision=gpu_precision,
    )  # fmt: skip
    return run_sweep(points, snn_point, processes=processes, executor=executor, progress=progress)
