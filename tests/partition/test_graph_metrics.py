"""The workload graph, the capacity repair and the placement metrics, hand-checked on small cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mimdsim import load_machine
from mimdsim.errors import MappingError
from mimdsim.partition import NeuronMapping, PartitionProblem
from mimdsim.partition.mapping_file import load_mapping, save_mapping
from mimdsim.partition.problem import repair_capacity
from mimdsim.program.traffic import exchange_totals
from mimdsim.snn.activity.counts import parametric_activity
from mimdsim.snn.model.connectivity import Local2D, connection_mask
from mimdsim.snn.model.spec import LayerSpec, SNNSpec
from mimdsim.snn.model.workload import neuron_rates, workload_graph
from mimdsim.studies.estimate import estimate_training_step
from mimdsim.studies.placement_metrics import graph_metrics, placement_metrics

# 2x2x1 input, 2x2x1 neurons, 1x2 windows: neurons 0, 1 see inputs {0, 1}; neurons 2, 3 see {2, 3}
ROWS = SNNSpec(n_inputs=4, input_sparse_size=2, batch_size=6, n_timesteps=3, layers=[
    LayerSpec(n_neurons=4, sparse_size=2, connectivity=Local2D(in_shape=(2, 2, 1), out_shape=(2, 2, 1), kernel=(1, 2)))])  # fmt: skip
ACT = parametric_activity(ROWS, 0.5, seed=1)


def _mapping(tiles: list[int]) -> NeuronMapping:
    return NeuronMapping.from_neuron_tiles([np.array(tiles)], 8, 8, "hand")


def test_the_hand_case_graph() -> None:
    assert connection_mask(ROWS, 0).astype(int).tolist() == [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]]
    g = workload_graph(ROWS, ACT)
    rate = neuron_rates(ROWS, ACT)[0]
    assert g.net_ptr.tolist() == [0, 2, 4, 6, 8] and g.net_units.tolist() == [0, 1, 0, 1, 2, 3, 2, 3]
    assert np.allclose(g.net_weight, rate)
    u, v, w = g.edges()
    assert list(zip(u.tolist(), v.tolist(), strict=True)) == [(0, 1), (2, 3)]
    assert np.allclose(w, [rate[0] + rate[1], rate[2] + rate[3]])
    assert np.allclose(g.unit_compute, 1 + np.array([rate[0] + rate[1]] * 2 + [rate[2] + rate[3]] * 2))
    # memory (the lowering's neuron tensors): T B state history, 6 B states, 5 thresholds and decay, 2 B dense
    # flags, and per input 4 B x (weight + index + 6 replicas + 2 Adam moments)
    assert g.unit_memory_bytes.tolist() == [4 * (3 * 6 + 6 * 6 + 5 + 2 * 6) + 4 * 2 * (1 + 1 + 6 + 2)] * 4
    nxg = g.to_networkx()
    assert nxg.number_of_nodes() == 4 and nxg.number_of_edges() == 2 and nxg.nodes[0]["layer"] == 0


def test_the_hand_case_metrics() -> None:
    g = workload_graph(ROWS, ACT)
    rate = neuron_rates(ROWS, ACT)[0]
    spikes = rate * ROWS.n_timesteps * ROWS.batch_size
    local = graph_metrics(ROWS, g, _mapping([1, 1, 2, 2]), ACT)
    scattered = graph_metrics(ROWS, g, _mapping([1, 2, 1, 2]), ACT)
    assert (local["fanin_total"], local["fanin_max"], scattered["fanin_total"], scattered["fanin_max"]) == (4, 2, 8, 4)
    assert local["edge_cut"] == 0 and scattered["edge_cut"] == pytest.approx(rate.sum())
    assert local["comm_volume_bytes"] == round(4 * spikes.sum())  # each input spike reaches one tile
    assert scattered["comm_volume_bytes"] == round(8 * spikes.sum())  # ... or two


def test_dense_layers_count_every_input_on_every_tile() -> None:
    spec = SNNSpec(n_inputs=5, input_sparse_size=2, batch_size=6, n_timesteps=1, layers=[LayerSpec(n_neurons=3, sparse_size=2)])
    act = parametric_activity(spec, 0.5, seed=0)
    g = workload_graph(spec, act)
    assert g.n_nets == 0
    got = graph_metrics(spec, g, NeuronMapping.from_neuron_tiles([np.array([1, 1, 2])], 8, 8, "x"), act)
    assert (got["fanin_total"], got["fanin_max"]) == (10, 5)


def test_placement_metrics_of_an_estimate() -> None:
    machine = load_machine("bow", tiles_per_ipu=16)
    spec = ROWS.model_copy(update={"layers": (*ROWS.layers, LayerSpec(n_neurons=2, sparse_size=2))})
    act = parametric_activity(spec, 0.5, seed=1)
    mapping = NeuronMapping.from_neuron_tiles([np.array([1, 1, 2, 2]), np.array([3, 3])], 16, 16, "hand")
    est = estimate_training_step(spec, machine, activity_source=act, mapping=mapping)
    m = placement_metrics(spec, workload_graph(spec, act), est, act, 0.5)
    received, cross = exchange_totals(est.program, 16, 16)
    assert m.method == "hand" and m.max_tile_receive_bytes == received.max() and m.inter_ipu_bytes == cross == 0
    assert m.n_tiles_used == 3 and m.n_ipus_used == 1 and m.partition_seconds == 0.5
    assert m.min_memory_headroom_bytes == machine.memory_bytes_per_tile - est.ledger.max_tile_bytes
    assert m.compute_imbalance >= 1.0 and m.ms_per_step == est.ms_per_step
    assert sum(m.breakdown_cycles.values()) == est.cycles_per_step


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 3), min_size=1, max_size=30), n_parts=st.integers(1, 8), cap=st.integers(3, 12), data=st.data()
)
def test_repair_respects_every_capacity(sizes, n_parts, cap, data) -> None:
    size = np.array(sizes, np.int64)
    mem = size * 10
    parts = np.array(data.draw(st.lists(st.integers(0, n_parts - 1), min_size=size.size, max_size=size.size)), np.int64)
    z = np.zeros(0, np.int64)
    p = PartitionProblem(size, mem, size.astype(float), np.zeros(size.size, np.int64), np.zeros(1, np.int64), z, np.zeros(0), n_parts,
                         cap, 10 * cap)  # fmt: skip
    try:
        out = repair_capacity(p, parts)
    except MappingError:
        assert size.sum() > n_parts * cap - (size.max() - 1) * n_parts  # only when packing is tight
        return
    load = np.bincount(out, weights=size, minlength=n_parts)
    assert load.max() <= cap
    fine = np.bincount(parts, weights=size, minlength=n_parts) <= cap
    assert np.array_equal(out[fine[parts]], parts[fine[parts]])  # units of parts within capacity stay


def test_mapping_files_round_trip_and_refuse_bad_files(tmp_path) -> None:
    m = NeuronMapping.from_neuron_tiles([np.array([3, 1, 2]), np.array([1])], 4, 8, "mine")
    path = tmp_path / "m.npz"
    save_mapping(path, m)
    back = load_mapping(path)
    assert (
        back.method == "mine" and back.tiles_per_ipu == 4 and [lp.neuron_tile.tolist() for lp in back.layers] == [[3, 1, 2], [1]]
    )
    np.savez(tmp_path / "bad.npz", kind=np.str_("mimdsim-mapping"), format_version=np.int64(1), tiles_per_ipu=np.int64(4),
             n_tiles=np.int64(8), neuron_tiles_1=np.array([1]))  # fmt: skip
    with pytest.raises(MappingError, match="bad.npz: neuron_tiles_<l>: expected keys neuron_tiles_0"):
        load_mapping(tmp_path / "bad.npz")
    with pytest.raises(MappingError, match="missing.npz: file not found"):
        load_mapping(tmp_path / "missing.npz")
    np.savez(tmp_path / "far.npz", kind=np.str_("mimdsim-mapping"), format_version=np.int64(1), tiles_per_ipu=np.int64(4),
             n_tiles=np.int64(8), neuron_tiles_0=np.array([9]))  # fmt: skip
    with pytest.raises(MappingError, match="outside 0..7"):
        load_mapping(tmp_path / "far.npz")
