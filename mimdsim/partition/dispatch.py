"""``partition(graph, machine, method=...)``: one interface over every partitioning method.

Shaped like networkx's algorithm dispatch: ``method`` is a name of :data:`METHODS` or a
callable ``(PartitionProblem) -> part of every unit``. The result is a
:class:`~mimdsim.partition.mapping.NeuronMapping` (the tile of every neuron; IPUs follow).

* ``contiguous`` is the seed paper's mapping (:mod:`mimdsim.partition.contiguous`); it
  places neurons, not units, and ignores the graph.
* Every other method places units at most ``k`` neurons and ``capacity_bytes`` per tile.
  By default (``mix_layers=False``) each layer keeps the tiles ``contiguous`` gives it and
  the method only chooses which of its units go to which of them: in the authors' program
  every tile of a layer receives the layer's whole input id vector, so a tile holding two
  layers receives two. With ``mix_layers=True`` all units share the same number of tiles
  (``sum ceil(N_l / k)``) spread evenly over the fewest IPUs that hold them, layers may
  share tiles and span IPUs, and each layer's net (:class:`WorkloadGraph`) weighs what
  spreading it costs; with several IPUs the method partitions twice (units into IPUs, then
  each IPU's units into its tiles). Tile 0 of IPU 0 is always kept free. A method's result
  is made to respect every tile's capacity by
  :func:`~mimdsim.partition.problem.repair_capacity`.
* ``refine`` (:mod:`mimdsim.partition.refine`) needs ``cost``: a callable from a mapping to the
  simulated step time. It starts from the cheapest of the ``start`` methods' mappings (default
  :data:`DEFAULT_STARTS`: ``metis`` and ``contiguous``, the authors' placement), so it is never
  worse than any of them -- in particular never worse than the placement the authors ran.

The same seed gives the same mapping (``None`` is seed 0).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from mimdsim.arch.spec import MachineSpec
from mimdsim.errors import ConfigError, MappingError
from mimdsim.partition import builtin, external
from mimdsim.partition.contiguous import contiguous_mapping, smallest_fitting_k
from mimdsim.partition.graph import WorkloadGraph
from mimdsim.partition.mapping import NeuronMapping
from mimdsim.partition.problem import PartitionProblem, repair_capacity
from mimdsim.partition.refine import DEFAULT_EVALUATIONS, refine

__all__ = ["METHODS", "Method", "partition", "op_tile_plan", "check_method", "DEFAULT_STARTS"]

DEFAULT_STARTS: tuple[str, ...] = ("metis", "contiguous")
"""The mappings ``refine`` costs first and starts from the cheapest of (a multi-start local search)."""

Method = Callable[[PartitionProblem], np.ndarray]
METHODS: dict[str, Method | None] = {
    "contiguous": None,  # the paper's, by neurons (see the module docstring)
    "round_robin": builtin.round_robin,
    "random": builtin.random_parts,
    "greedy": builtin.greedy,
    "metis": external.metis,
    "hypergraph": external.hypergraph,
    "kahip": external.kahip,
    "kernighan_lin": external.kernighan_lin,
    "spectral": external.spectral,
    "refine": None,  # needs a cost (see the module docstring)
}
"""Every method by name."""


def check_method(method: str | Method) -> None:
    """Raise :class:`ConfigError` unless ``method`` is a callable or a name of :data:`METHODS` (the message lists them)."""
    if isinstance(method, str) and method not in METHODS:
        raise ConfigError(f"partition method: {method!r} is not one of {', '.join(METHODS)}")


def op_tile_plan(n_tiles_needed: int, machine: MachineSpec) -> list[np.ndarray]:
    """The tiles of each IPU used: ``n_tiles_needed`` spread evenly over the fewest IPUs (tile 0 of IPU 0 kept free)."""
    tpi = machine.tiles_per_ipu
    usable = machine.n_tiles - 1
    if n_tiles_needed > usable:
        raise MappingError(f"{n_tiles_needed} tiles needed, the machine has {usable} usable ({n_tiles_needed - usable} over)")
    n_ipus = 1
    while -(-n_tiles_needed // n_ipus) > tpi - 1:  # every IPU as full as IPU 0 can be
        n_ipus += 1
    if n_ipus > machine.n_ipus:
        n_ipus = machine.n_ipus
    per = -(-n_tiles_needed // n_ipus)
    plan = []
    for i in range(n_ipus):
        first = i * tpi + (1 if i == 0 else 0)
        plan.append(np.arange(first, min(first + per, (i + 1) * tpi), dtype=np.int64))
    return plan


def _solve(fn: Method, prob: PartitionProblem) -> np.ndarray:
    prob.check_fits()
    return repair_capacity(prob, fn(prob))


def _unit_tiles(fn: Method, prob: PartitionProblem, plan: list[np.ndarray]) -> np.ndarray:
    """Tile of every unit (``mix_layers``): units into IPUs, then each IPU's units into its tiles."""
    if len(plan) == 1:
        return plan[0][_solve(fn, prob)]
    per_ipu = max(t.size for t in plan)
    top = dataclasses.replace(prob, n_parts=len(plan), capacity_neurons=prob.capacity_neurons * per_ipu,
                              capacity_bytes=prob.capacity_bytes * per_ipu)  # fmt: skip
    ipu_of = _solve(fn, top)
    out = np.empty(prob.n_units, np.int64)
    for i, tiles in enumerate(plan):
        units = np.flatnonzero(ipu_of == i)
        if units.size:
            out[units] = tiles[_solve(fn, prob.sub(units, tiles.size))]
    return out


def partition(
    graph: WorkloadGraph,
    machine: MachineSpec,
    *,
    method: str | Method = "contiguous",
    seed: int | None = None,
    neurons_per_tile: int | None = None,
    capacity_bytes: int | None = None,
    cost: Callable[[NeuronMapping], float] | None = None,
    start: str | Method | Sequence[str | Method] = DEFAULT_STARTS,
    max_evaluations: int = DEFAULT_EVALUATIONS,
    mix_layers: bool = False,
) -> NeuronMapping:
    """Place ``graph``'s units on ``machine``'s tiles with ``method`` (see the module docstring).

    ``capacity_bytes`` bounds each tile's unit memory (default: the tile's memory).

    Raises
    ------
    ConfigError
        An unknown method (the message lists them), ``refine`` without ``cost``.
    MissingPackageError
        The method's optional package is not installed (the message names the extra).
    MappingError
        The graph fits under no placement (the message says by how much).
    """
    sizes = graph.layer_sizes
    k = neurons_per_tile or smallest_fitting_k(sizes, machine.tiles_per_ipu, machine.n_ipus)
    check_method(method)
    if method == "contiguous":
        mapping = contiguous_mapping(sizes, machine.tiles_per_ipu, machine.n_ipus, neurons_per_tile=k)
        mapping.check(sizes)
        return mapping
    if k % graph.unit_neurons:
        raise ConfigError(
            f"unit_neurons: {graph.unit_neurons} does not divide neurons_per_tile {k} (units could not fill a tile)"
        )
    cap_bytes = capacity_bytes or machine.memory_bytes_per_tile
    if method == "refine":
        if cost is None:
            raise ConfigError("partition method 'refine' needs cost= (a callable from a mapping to the simulated step time)")
        starts = [start] if isinstance(start, str) or callable(start) else list(start)
        if not starts or any(s == "refine" for s in starts):
            raise ConfigError("refine: start must be one or more other methods")
        firsts = [partition(graph, machine, method=s, seed=seed, neurons_per_tile=k, capacity_bytes=capacity_bytes, mix_layers=mix_layers)
                  for s in starts]  # fmt: skip
        first = firsts[0] if len(firsts) == 1 else min(firsts, key=cost)  # the cheapest start; ties keep the order given
        unit_tile = _unit_tiles_of(graph, first)
        tiles = np.unique(unit_tile)
        rprob = PartitionProblem.of_graph(graph, tiles.size, k, cap_bytes, seed or 0, layer_nets=mix_layers)
        res = refine(rprob, np.searchsorted(tiles, unit_tile), lambda parts: cost(_mapping(graph, tiles[parts], machine, "refine")),
                     same_layer=not mix_layers, max_evaluations=max_evaluations)  # fmt: skip
        return _mapping(graph, tiles[res.parts], machine, f"refine({first.method})")
    fn = METHODS[method] if isinstance(method, str) else method
    assert fn is not None
    name = method if isinstance(method, str) else getattr(method, "__name__", "custom")
    if mix_layers:
        n_tiles_needed = sum(-(-n // k) for n in sizes)
        prob = PartitionProblem.of_graph(graph, n_tiles_needed, k, cap_bytes, seed or 0, layer_nets=True)
        return _mapping(graph, _unit_tiles(fn, prob, op_tile_plan(n_tiles_needed, machine)), machine, f"{name}+mix")
    paper = contiguous_mapping(sizes, machine.tiles_per_ipu, machine.n_ipus, neurons_per_tile=k)
    prob = PartitionProblem.of_graph(graph, 1, k, cap_bytes, seed or 0)
    first_unit = graph.layer_first_unit()
    unit_tile = np.empty(graph.n_units, np.int64)
    for l, lp in enumerate(paper.layers):
        units = np.arange(first_unit[l], first_unit[l + 1])
        tiles = lp.tiles
        unit_tile[units] = tiles[_solve(fn, prob.sub(units, tiles.size))]
    return _mapping(graph, unit_tile, machine, name)


def _unit_tiles_of(graph: WorkloadGraph, mapping: NeuronMapping) -> np.ndarray:
    """Tile of every unit of a mapping whose units are each on one tile (refine's start)."""
    out = np.empty(graph.n_units, np.int64)
    for l, lp in enumerate(mapping.layers):
        units = graph.unit_of_neuron(l)
        out[units] = lp.neuron_tile
        if np.any(out[units] != lp.neuron_tile):
            raise MappingError(f"refine: the start mapping splits a unit of layer {l} over tiles")
    return out


def _mapping(graph: WorkloadGraph, unit_tile: np.ndarray, machine: MachineSpec, name: str) -> NeuronMapping:
    mapping = NeuronMapping.from_neuron_tiles(graph.neuron_tiles(unit_tile), machine.tiles_per_ipu, machine.n_tiles, name)
    mapping.check(graph.layer_sizes)
    return mapping
