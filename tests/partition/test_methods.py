"""One suite over every partitioning method: a true partition of all units, no tile over capacity,
the same seed gives the same mapping, and every mapping lowers and simulates equally on both engines."""

from __future__ import annotations

import numpy as np
import pytest

from mimdsim import load_machine
from mimdsim.engines import simulate
from mimdsim.errors import ConfigError, MappingError, MissingPackageError
from mimdsim.partition import METHODS, NeuronMapping, PartitionProblem, partition
from mimdsim.snn.activity.counts import parametric_activity
from mimdsim.snn.lowering.lower import lower_snn
from mimdsim.snn.model.connectivity import Local2D
from mimdsim.snn.model.spec import LayerSpec, SNNSpec
from mimdsim.snn.model.workload import workload_graph
from mimdsim.studies.placement import place, step_seconds

SPEC = SNNSpec(
    name="tiny_local", n_inputs=8 * 8 * 2, input_sparse_size=12, batch_size=6, n_timesteps=4,
    layers=[
        LayerSpec(n_neurons=128, sparse_size=24, connectivity=Local2D(in_shape=(8, 8, 2), out_shape=(8, 8, 2), kernel=(3, 3)), shuffle_seed=1),
        LayerSpec(n_neurons=64, sparse_size=12, connectivity=Local2D(in_shape=(8, 8, 2), out_shape=(4, 4, 4), kernel=(2, 2)), shuffle_seed=2),
        LayerSpec(n_neurons=4, sparse_size=2),
    ],
)  # fmt: skip
MACHINE = load_machine("bow", tiles_per_ipu=64)
TWO_IPUS = load_machine("bow", tiles_per_ipu=16, n_ipus=4)
K = 8
ACT = parametric_activity(SPEC, 0.3, seed=0)


def _place(method: str, machine=MACHINE, **kw) -> NeuronMapping:
    return place(SPEC, machine, ACT, method=method, neurons_per_tile=K, max_evaluations=4, **kw)


def _check_true_partition(m: NeuronMapping, machine) -> None:
    m.check(SPEC.layer_sizes[1:])
    every = np.concatenate(m.neuron_tiles())
    assert every.size == sum(SPEC.layer_sizes[1:])  # every neuron placed exactly once
    assert every.min() >= 1 and every.max() < machine.n_tiles  # tile 0 of IPU 0 is kept free
    assert np.bincount(every).max() <= K  # no tile over its neuron capacity


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_partitions_within_capacity_and_is_deterministic(method: str) -> None:
    m = _place(method)
    _check_true_partition(m, MACHINE)
    again = _place(method)
    assert all(np.array_equal(a, b) for a, b in zip(m.neuron_tiles(), again.neuron_tiles(), strict=True))
    # each layer keeps the tiles the paper's mapping gives it (the default, mix_layers=False)
    paper = _place("contiguous")
    for lp, ref in zip(m.layers, paper.layers, strict=True):
        assert set(np.unique(lp.neuron_tile)) <= set(ref.tiles.tolist())


@pytest.mark.parametrize("method", list(METHODS))
def test_every_mapping_lowers_and_both_engines_agree(method: str) -> None:
    prog = lower_snn(SPEC, MACHINE, _place(method), ACT)
    assert simulate(prog, MACHINE, "des").total_cycles == simulate(prog, MACHINE, "fast").total_cycles


@pytest.mark.parametrize("method", ["round_robin", "greedy", "metis", "hypergraph"])
def test_mixed_layers_span_ipus_and_share_tiles(method: str) -> None:
    m = _place(method, TWO_IPUS, mix_layers=True)
    _check_true_partition(m, TWO_IPUS)
    assert m.n_ipus_used >= 2
    prog = lower_snn(SPEC, TWO_IPUS, m, ACT)
    des, fast = simulate(prog, TWO_IPUS, "des"), simulate(prog, TWO_IPUS, "fast")
    assert des.total_cycles == fast.total_cycles


def test_lowering_takes_tiles_with_several_layers_and_layers_over_ipus() -> None:
    """A hand-made mapping: every tile holds neurons of all three layers, layer 0 spans two IPUs."""
    tiles = [1 + np.arange(128) % 24, 1 + np.arange(64) % 24, np.array([1, 2, 3, 20])]
    m = NeuronMapping.from_neuron_tiles(tiles, 16, TWO_IPUS.n_tiles, "mixed")
    assert m.n_ipus_used == 2 and m.layers[0].ipu == 0 and m.layers[2].ipu == 0
    prog = lower_snn(SPEC, TWO_IPUS, m, ACT)
    des, fast = simulate(prog, TWO_IPUS, "des"), simulate(prog, TWO_IPUS, "fast")
    assert des.total_cycles == fast.total_cycles
    # a tile with three layers receives all three layers' input vectors: more than with one
    alone = lower_snn(SPEC, TWO_IPUS, _place("contiguous", TWO_IPUS), ACT)
    assert simulate(alone, TWO_IPUS, "fast").total_cycles != fast.total_cycles


def test_refine_is_never_worse_than_its_start() -> None:
    for start in ("contiguous", "random", "metis"):
        first = _place(start)
        refined = _place("refine", start=start)
        assert refined.method == f"refine({start})"
        _check_true_partition(refined, MACHINE)
        assert step_seconds(SPEC, MACHINE, refined, ACT) <= step_seconds(SPEC, MACHINE, first, ACT)


def test_refine_starts_from_the_cheapest_start_and_crosses_plateaus() -> None:
    from mimdsim.partition.refine import refine
    from mimdsim.snn.model.workload import workload_graph as wg

    starts = {m: step_seconds(SPEC, MACHINE, _place(m), ACT) for m in ("contiguous", "random", "metis")}
    multi = _place("refine", start=list(starts))
    assert multi.method == f"refine({min(starts, key=starts.__getitem__)})"  # the cheapest of the three
    assert step_seconds(SPEC, MACHINE, multi, ACT) <= min(starts.values())
    # a plateau: the cost falls only once more units have moved than any one batch moves; strict descent, which
    # throws away every equal batch, never gets there; sideways moves add the batches up
    graph = wg(SPEC, ACT, n_workers=MACHINE.num_worker_contexts)
    prob = PartitionProblem.of_graph(graph, 24, K, MACHINE.memory_bytes_per_tile, 0)
    start = np.random.default_rng(0).permutation((np.arange(prob.n_units) * 24) // prob.n_units)
    moved = [0]

    def cost(parts: np.ndarray) -> float:
        moved[0] = max(moved[0], int((parts != start).sum()))
        return 0.5 if (parts != start).sum() > 64 else 1.0

    res = refine(prob, start, cost, same_layer=False, max_evaluations=12)
    assert res.start_cost == 1.0 and res.cost == 0.5 and res.accepted == 1 and moved[0] > 64


def test_a_callable_method() -> None:
    def by_layer_order(p: PartitionProblem) -> np.ndarray:
        return (np.arange(p.n_units) * p.n_parts) // p.n_units

    m = place(SPEC, MACHINE, ACT, method=by_layer_order, neurons_per_tile=K)
    assert m.method == "by_layer_order"
    _check_true_partition(m, MACHINE)


def test_repair_moves_units_off_an_overfull_tile() -> None:
    def all_on_one(p: PartitionProblem) -> np.ndarray:
        return np.zeros(p.n_units, np.int64)

    m = place(SPEC, MACHINE, ACT, method=all_on_one, neurons_per_tile=K)
    _check_true_partition(m, MACHINE)


# ---------------------------------------------------------------- bad input
def test_unknown_method_lists_the_methods() -> None:
    with pytest.raises(ConfigError, match="'nope' is not one of contiguous, round_robin, .*refine"):
        _place("nope")


def test_refine_needs_a_cost() -> None:
    g = workload_graph(SPEC, ACT)
    with pytest.raises(ConfigError, match="needs cost="):
        partition(g, MACHINE, method="refine", neurons_per_tile=K)


def test_a_graph_that_fits_no_placement_says_by_how_much() -> None:
    g = workload_graph(SPEC, ACT)
    small = load_machine("bow", tiles_per_ipu=8)
    with pytest.raises(MappingError, match=r"over\)"):
        partition(g, small, method="metis", neurons_per_tile=K, mix_layers=True)
    with pytest.raises(MappingError, match=r"B over\)"):
        partition(g, MACHINE, method="greedy", neurons_per_tile=K, capacity_bytes=1200)
    with pytest.raises(MappingError, match=r"more than a tile's 500 B \(528 over\)"):
        partition(g, MACHINE, method="greedy", neurons_per_tile=K, capacity_bytes=500)


def test_unit_size_must_divide_the_tile() -> None:
    with pytest.raises(ConfigError, match="does not divide"):
        partition(workload_graph(SPEC, ACT, unit_neurons=3), MACHINE, method="greedy", neurons_per_tile=K)


@pytest.mark.parametrize(
    ("method", "module"), [("metis", "pymetis"), ("hypergraph", "mtkahypar"), ("kahip", "kahip"), ("spectral", "scipy.sparse")]
)
def test_a_missing_package_names_the_extra(method: str, module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, module, None)  # import fails
    with pytest.raises(
        MissingPackageError, match=rf"needs the Python package '{module.split('.')[0]}': pip install 'mimdsim\[partition\]'"
    ):
        _place(method)


def test_hypergraph_with_many_parts_is_deterministic_too() -> None:
    """From 64 parts Mt-KaHyPar runs its LARGE_K preset (one thread, seeded)."""
    from mimdsim.partition.external import LARGE_K_PARTS, hypergraph

    g = workload_graph(SPEC, ACT)
    prob = PartitionProblem.of_graph(g, LARGE_K_PARTS, 4, 1 << 20, seed=3)
    first = hypergraph(prob)
    assert np.bincount(first, minlength=LARGE_K_PARTS).size == LARGE_K_PARTS
    assert np.array_equal(first, hypergraph(prob))
