"""One call from an SNN description to a training-step estimate on a machine (and a GPU).

``estimate_training_step`` runs the whole pipeline of DESIGN.md: spike activity
(functional model, trace, parametric or saturated) -> mapping (partitioner) -> lowering ->
memory check -> engine -> :class:`SNNEstimate`, optionally with the dense GPU baseline.
"""

from __future__ import annotations

import functools
import inspect
import os
import warnings
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from mimdsim.arch.spec import MachineSpec
from mimdsim.engines import DEFAULT_MAX_STEPS, simulate
from mimdsim.engines.timeline_detail import TimelineRequest
from mimdsim.errors import ConfigError, TileMemoryError
from mimdsim.gc_policy import relaxed_gc_during
from mimdsim.hashing import input_value
from mimdsim.memory.ledger import memory_ledger
from mimdsim.partition import check_method, partition_layers
from mimdsim.partition.mapping import NeuronMapping
from mimdsim.program.ir import Program
from mimdsim.snn.activity.cache import cached, lowering_key
from mimdsim.snn.activity.counts import SpikeActivity
from mimdsim.snn.activity.sources import ACTIVITY_SOURCES, ActivitySource, saturated_activity, source_of
from mimdsim.snn.gpu.frameworks import IDEAL_FRAMEWORK, PAPER_FRAMEWORK
from mimdsim.snn.gpu.model import GPUSpec, estimate_gpu_step, load_gpu
from mimdsim.snn.lowering import kept
from mimdsim.snn.lowering.lower import LoweringOptions, check_batch, lower_snn
from mimdsim.snn.model.spec import RunHints, SNNSpec
from mimdsim.studies.energy import ENERGY_SCOPES
from mimdsim.studies.estimate_args import check_estimate_arguments
from mimdsim.studies.placement import mapping_of_tiles, place
from mimdsim.studies.preflight import preflight
from mimdsim.studies.record import estimate_input_hash
from mimdsim.studies.step_estimate import SNNEstimate, StepKind

__all__ = [
    "SNNEstimate", "StepKind", "estimate_training_step", "training_step_hash", "make_activity", "run_settings", "ACTIVITY_SOURCES",
    "saturated_activity",
]  # fmt: skip


F = TypeVar("F", bound=Callable[..., Any])

_HASHED = ("activity_source", "rate", "input_rate", "input_data", "engine", "neurons_per_tile", "partitioner", "mapping", "unit_neurons", "seed", "gpu",
           "gpu_framework", "gpu_precision", "allow_oom", "options", "energy_scope")  # fmt: skip
"""The arguments of :func:`estimate_training_step` that change a figure (the rest: caching, timelines, limits)."""


@functools.cache
def _estimate_signature() -> inspect.Signature:
    """:func:`estimate_training_step`'s signature, read once (every estimate hashes its arguments)."""
    return inspect.signature(estimate_training_step)


def _check_values(args: dict[str, Any]) -> None:
    """Refuse argument values that cannot run: any of the wrong kind, the engine, the partitioner, the energy scope."""
    from mimdsim.engines import ENGINES

    check_estimate_arguments(args)
    if args["engine"] not in ENGINES:
        raise ConfigError(f"engine: {args['engine']!r} is not one of {', '.join(sorted(ENGINES))}")
    check_method(args["partitioner"])
    if args["energy_scope"] not in ENERGY_SCOPES:
        raise ConfigError(f"energy_scope: {args['energy_scope']!r} is not one of {', '.join(ENERGY_SCOPES)}")


def training_step_hash(spec: SNNSpec, machine: MachineSpec, **kwargs: Any) -> str:
    """The ``input_hash`` that :func:`estimate_training_step` ``(spec, machine, **kwargs)`` gives its
    estimate, without running it (a sweep store skips the points it holds by it).

    Defaults are filled in, the GPU is resolved to its description (with ``gpu_precision``),
    files are hashed by content: two calls that must give the same figures give the same hash.

    >>> from mimdsim import load_machine
    >>> from mimdsim.snn.model.spec import snn_from_sizes
    >>> net = snn_from_sizes([16, 6, 2], max_activity=0.5, input_sparse_size=4, batch_size=6, n_timesteps=2)
    >>> m = load_machine("bow", tiles_per_ipu=16)
    >>> training_step_hash(net, m) == training_step_hash(net, m, engine="fast", seed=0, partitioner="contiguous")
    True
    >>> training_step_hash(net, m) == training_step_hash(net, m, seed=1)
    False
    """
    sig = _estimate_signature()
    bad = sorted(set(kwargs) - set(sig.parameters))
    if bad:
        raise ConfigError(f"estimate_training_step has no argument {bad[0]!r}")
    bound = sig.bind(spec, machine, **kwargs)
    bound.apply_defaults()
    _check_values(bound.arguments)  # what cannot run is refused here, before a sweep runs or stores any point
    args = {k: bound.arguments[k] for k in _HASHED}
    if bound.arguments.get("activity") is not None:  # the old name wins, as in estimate_training_step
        args["activity_source"] = bound.arguments["activity"]
    args["activity_source"] = source_of(  # "functional" and Functional(seed=0) are the same input
        args["activity_source"],
        seed=args["seed"],
        rate=args.pop("rate"),
        input_rate=args.pop("input_rate"),
        input_data=args.pop("input_data"),
    )
    if args["partitioner"] != "contiguous":  # the graph methods draw from the seed too
        args["partition_seed"] = args["seed"]
    del args["seed"]  # otherwise only the activity source uses it, and it is in the source
    for name, default in (
        ("mapping", None),
        ("unit_neurons", 1),
        ("energy_scope", "chip"),
    ):  # left out at their defaults: hashes of earlier runs hold
        if args[name] == default:
            del args[name]
    gpu, precision = args.pop("gpu"), args.pop("gpu_precision")
    if gpu is not None:
        gpu = load_gpu(gpu, **({"matmul_precision": precision} if precision is not None else {}))
    else:
        args["gpu_framework"] = None
    args["options"] = args["options"] or LoweringOptions()
    return estimate_input_hash(spec, machine, gpu=gpu, **args)


def run_settings(
    hints: RunHints,
    *,
    machine: str | os.PathLike[str] | MachineSpec | None = None,
    machine_overrides: dict[str, Any] | None = None,
    n_ipus: int | None = None,
    neurons_per_tile: int | None = None,
    engine: str | None = None,
    seed: int | None = None,
) -> tuple[MachineSpec, dict[str, Any]]:
    """A model file's ``[run]`` hints under the caller's settings (the caller's win): the
    machine, and the keyword arguments of :func:`estimate_training_step` they set.

    The one place hints are applied, by the command line and the API alike.

    >>> from mimdsim.snn.model.spec import RunHints
    >>> m, kw = run_settings(RunHints(machine="mk2", n_ipus=2, seed=3), seed=5)
    >>> m.name, m.n_ipus, kw
    ('mk2', 2, {'neurons_per_tile': None, 'engine': 'fast', 'seed': 5})
    """
    from mimdsim.arch import load_machine

    over = dict(machine_overrides or {})
    ipus = n_ipus if n_ipus is not None else hints.n_ipus
    if ipus is not None:
        over.setdefault("n_ipus", ipus)
    ref = machine if machine is not None else hints.machine
    spec = ref.model_copy(update=over) if isinstance(ref, MachineSpec) else load_machine(ref, **over)
    kw = {
        "neurons_per_tile": neurons_per_tile if neurons_per_tile is not None else hints.neurons_per_tile,
        "engine": engine if engine is not None else hints.engine,
        "seed": seed if seed is not None else hints.seed,
    }
    return spec, kw


def make_activity(
    spec: SNNSpec,
    source: str | os.PathLike[str] | SpikeActivity | ActivitySource = "functional",
    *,
    seed: int = 0,
    rate: float | None = None,
    input_rate: float | None = None,
    input_data: str | os.PathLike[str] | None = None,
    cache: bool = True,
) -> tuple[SpikeActivity, str]:
    """The spike activity driving the data-dependent costs, and a label saying where it came from
    (:func:`mimdsim.snn.activity.sources.source_of` resolves ``source``; with ``cache`` functional activity
    comes from :mod:`mimdsim.snn.activity.cache` when it was computed before)."""
    src = source_of(source, seed=seed, rate=rate, input_rate=input_rate, input_data=input_data)
    return src.activity(spec, cache=cache), src.label


def _with_relaxed_gc(fn: F) -> F:
    """``fn`` run with fewer garbage-collector passes (:func:`mimdsim.gc_policy.relaxed_gc_during`)."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        with relaxed_gc_during():
            return fn(*args, **kwargs)

    return run  # type: ignore[return-value]


@_with_relaxed_gc
def estimate_training_step(
    spec: SNNSpec,
    machine: MachineSpec,
    *,
    activity_source: str | os.PathLike[str] | SpikeActivity | ActivitySource = "functional",
    activity: str | os.PathLike[str] | SpikeActivity | None = None,
    rate: float | None = None,
    input_rate: float | None = None,
    input_data: str | os.PathLike[str] | None = None,
    engine: str = "fast",
    neurons_per_tile: int | None = None,
    partitioner: str = "contiguous",
    mapping: NeuronMapping | Sequence[np.ndarray] | None = None,
    unit_neurons: int = 1,
    seed: int = 0,
    gpu: str | os.PathLike[str] | GPUSpec | None = None,
    gpu_framework: str = PAPER_FRAMEWORK,
    gpu_precision: str | None = None,
    allow_oom: bool = False,
    options: LoweringOptions | None = None,
    timeline: TimelineRequest | bool | str = False,
    cache: bool = True,
    max_steps: int | None = None,
    max_events: int | None = None,
    energy_scope: str = "chip",
) -> SNNEstimate:
    """Estimate one training step of ``spec`` on ``machine``.

    With ``cache`` (the default) the lowered program is kept for the next call with the
    same network, activity and lowering-relevant machine fields, and functional activity
    is kept in memory and on disk (:mod:`mimdsim.snn.activity.cache`): re-estimating on another
    machine description in a warm process re-costs the kept program. The loss's exchanges are kept
    across lowerings too (:mod:`mimdsim.snn.lowering.kept`); without ``cache`` nothing is kept.

    ``energy_scope`` (``chip`` or ``machine``) is what the energy per step covers
    (:meth:`SNNEstimate.energy`, docs/energy.md).

    With ``gpu`` (a preset name, a TOML path or a :class:`GPUSpec`) the dense GPU step is
    estimated too, run by ``gpu_framework`` (:mod:`mimdsim.snn.gpu.frameworks`; the paper's
    ``tf-keras-xla`` by default) and as the ideal ``fused`` program; ``gpu_precision``
    (``tf32`` or ``fp32``) overrides the preset's matmul precision.

    Raises
    ------
    ConfigError
        Bad GPU, framework or precision (checked before the run); bad batch (not a multiple of 6), activity or engine.

    ``partitioner`` is any method of :data:`mimdsim.partition.METHODS` (the paper's
    ``contiguous`` by default; docs/partitioning.md), placing units of ``unit_neurons``
    neurons; ``mapping`` places the neurons instead (a :class:`NeuronMapping`, or the tile of
    every neuron per layer).

    ``timeline`` (``True``, ``"tiles"`` or a :class:`~mimdsim.engines.timeline_detail.TimelineRequest`) records
    the step's timeline with either engine; a request's ``iterations=(first, stop)`` keeps the intervals of those
    iterations of the time loops (forward iteration ``t`` is time step ``t``; backward iteration ``j`` is time
    step ``T - 1 - j``).
    MappingError
        The layers do not fit the machine's tiles.
    TileMemoryError
        Some tile is over its memory (unless ``allow_oom``, which reports ``oom_tiles``
        and simulates anyway). Larger neurons-per-tile only add memory per tile, so the
        smallest ``k`` that fits the tiles is the only candidate.

    Examples
    --------
    >>> from mimdsim import load_machine
    >>> from mimdsim.snn.model.spec import snn_from_sizes
    >>> spec = snn_from_sizes([64, 24, 24, 4], max_activity=0.25, input_sparse_size=8, batch_size=6, n_timesteps=3)
    >>> est = estimate_training_step(spec, load_machine("bow", tiles_per_ipu=64), activity_source="saturated")
    >>> est.neurons_per_tile, est.cycles_per_step == sum(est.breakdown_cycles.values())
    (2, True)
    """
    _check_values(locals())  # every argument's kind, the engine, partitioner and energy scope: before any work
    if activity is not None:
        warnings.warn("activity= is renamed activity_source= (the source of the spike counts)", DeprecationWarning, stacklevel=2)
        activity_source = activity
    check_batch(spec, machine)
    tl = TimelineRequest.of(timeline)
    preflight(spec, machine, neurons_per_tile=neurons_per_tile, allow_oom=allow_oom)
    gpu_pair, gpu_spec = None, None
    if gpu is not None:  # a bad GPU, framework or precision fails before the run
        gpu_spec = load_gpu(gpu, **({"matmul_precision": gpu_precision} if gpu_precision is not None else {}))
        gpu_pair = (estimate_gpu_step(spec, gpu_spec, gpu_framework), estimate_gpu_step(spec, gpu_spec, IDEAL_FRAMEWORK))
    act, label = make_activity(
        spec, activity_source, seed=seed, rate=rate, input_rate=input_rate, input_data=input_data, cache=cache
    )

    given = None if mapping is None else mapping_of_tiles(spec, machine, mapping)

    def lower() -> tuple[NeuronMapping, Program]:
        if given is not None:
            placed = given
        elif partitioner == "contiguous":
            placed = partition_layers(
                spec.layer_sizes[1:], machine.tiles_per_ipu, machine.n_ipus, neurons_per_tile=neurons_per_tile
            )
        else:
            placed = place(spec, machine, act, method=partitioner, seed=seed, neurons_per_tile=neurons_per_tile, unit_neurons=unit_neurons,
                           options=options)  # fmt: skip
        return placed, lower_snn(spec, machine, placed, act, options)

    placement_key = (
        ("mapping", input_value(given))
        if given is not None
        else (partitioner, unit_neurons, seed if partitioner != "contiguous" else 0)
    )
    key = ("snn.program", spec, act, lowering_key(machine), neurons_per_tile, str(placement_key), options or LoweringOptions())
    if cache:
        placed, program = cached(key, lower)
    else:  # nothing kept from or for other calls, the lowering's kept exchanges included
        with kept.bypassed():
            placed, program = lower()
    ledger = memory_ledger(program, machine)
    if ledger.oom_tiles.size and not allow_oom:
        worst = ledger.overflows(1)[0]
        raise TileMemoryError(
            f"{spec.name}: does not fit {machine.name} with {placed.neurons_per_tile} neurons per tile "
            f"({machine.memory_bytes_per_tile:,} B per tile): {ledger.oom_tiles.size} tile(s) over; worst: "
            f"{worst.describe()}. More neurons per tile only add memory per tile: use more IPUs, a smaller "
            "T or B, or allow_oom to simulate anyway",
            report=ledger,
            tile=worst.tile,
            needed_bytes=worst.used_bytes,
        )
    result = simulate(
        program, machine, engine, check_memory_fits=False, max_steps=max_steps or DEFAULT_MAX_STEPS, max_events=max_events,
        timeline=tl or False,
    )  # fmt: skip
    gpu_est, gpu_ideal = gpu_pair or (None, None)
    ihash = training_step_hash(
        spec, machine, activity_source=activity_source, rate=rate, input_rate=input_rate, input_data=input_data, engine=engine,
        neurons_per_tile=neurons_per_tile, partitioner=partitioner, mapping=given, unit_neurons=unit_neurons, seed=seed, gpu=gpu_spec, gpu_framework=gpu_framework,
        allow_oom=allow_oom, options=options, energy_scope=energy_scope,
    )  # fmt: skip
    return SNNEstimate(spec, machine, engine, result, placed, ledger, label, gpu_est, program, gpu_ideal=gpu_ideal, activity=act,
                       input_hash=ihash, seed=getattr(activity_source, "seed", seed), gpu_spec=gpu_spec, energy_scope=energy_scope)  # fmt: skip
