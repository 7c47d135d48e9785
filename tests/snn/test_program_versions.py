"""The authors' op as of 2022-09-12 (GSNN @ 2b0fe90): its backward state gradient, worked out by hand on a
small net, and everything else the same as the final op."""

from __future__ import annotations

import numpy as np
import pytest

from mimdsim import load_machine, simulate
from mimdsim.errors import ConfigError
from mimdsim.partition import partition_layers
from mimdsim.program.ir import Program, Superstep
from mimdsim.snn.lowering import codelets as est
from mimdsim.snn.lowering.layout import build_layout
from mimdsim.snn.lowering.lower import LoweringOptions, lower_snn
from mimdsim.snn.lowering.poplar_tensors import build_poplar_tensors
from mimdsim.snn.model.spec import SNNSpec
from mimdsim.studies.estimate import estimate_training_step, saturated_activity
from tests.engines.test_equivalence import assert_same_result

W = 4  # bytes per float32 / uint32


def small_spec(**kw: object) -> SNNSpec:
    """[40 -> 12 -> 8 -> 4], S = (6, 4, 2, 2), B = 6, T = 2: layers on tiles 1-6, 7-10 and 11-12 at k = 2."""
    data: dict[str, object] = dict(
        n_inputs=40,
        input_sparse_size=6,
        layers=[{"n_neurons": 12, "sparse_size": 4}, {"n_neurons": 8, "sparse_size": 2}, {"n_neurons": 4, "sparse_size": 2}],
        batch_size=6,
        n_timesteps=2,
        program_version="2022-09-12",
    )
    data.update(kw)
    return SNNSpec.model_validate(data)


MACHINE = load_machine("bow", tiles_per_ipu=32)


def _lowered(spec: SNNSpec, **opt: object) -> Program:
    mapping = partition_layers(spec.layer_sizes[1:], MACHINE.tiles_per_ipu, MACHINE.n_ipus)
    return lower_snn(spec, MACHINE, mapping, saturated_activity(spec), LoweringOptions(passes="as-issued", **opt))  # type: ignore[arg-type]


def _step(program: Program, name: str) -> Superstep:
    return next(s for s in program.iter_static() if isinstance(s, Superstep) and s.name == name)


def test_the_state_gradient_gathers_whole_layer_rows_and_writes_them_back() -> None:
    """Vertex (l, b) sits on tile 1 + 6 l + b (PF@2b0fe90:662-665): layer 0 on tiles 1-6, layer 1 on 7-12,
    layer 2 on 13-18. Each gathers the layer's state and dL/dV rows and both threshold rows, 4 N_l floats,
    from the layer's neuron tiles, less the 4 k floats it holds itself, and sample b's S_l ids, S_l slot
    gradients and one count from wherever Poplar put them; after the compute it sends dL/dV row b back,
    k floats to each neuron tile."""
    spec = small_spec()
    program = _lowered(spec)
    n = MACHINE.n_tiles
    mapping = partition_layers(spec.layer_sizes[1:], MACHINE.tiles_per_ipu, MACHINE.n_ipus)
    te = build_poplar_tensors(spec, MACHINE, build_layout(spec, MACHINE, mapping), [lp.neuron_tile for lp in mapping.layers])
    want = np.zeros(n, np.int64)
    want[1:7] = W * 4 * (12 - 2)  # layer 0: its vertex tiles are its own neuron tiles
    want[7:11] = W * 4 * (8 - 2)  # layer 1: tiles 7-10 hold 2 of its 8 neurons ...
    want[11:13] = W * 4 * 8  # ... tiles 11 and 12 none of them (they are layer 2's neuron tiles)
    want[13:19] = W * 4 * 4  # layer 2: 4 neurons on tiles 11 and 12
    for li, S in enumerate((4, 2, 2)):
        grad = te.out_grad if li == 2 else te.bwd_inp[li + 1]
        for b in range(6):
            v = 1 + 6 * li + b
            elsewhere = (te.out_ids[li][b * S : (b + 1) * S] != v).sum() + (grad[b * S : (b + 1) * S] != v).sum()  # type: ignore[index]
            want[v] += W * (int(elsewhere) + int(te.out_counts[li][2 * b + 1] != v))
    ex = _step(program, "bwd.state_grad").exchange
    assert ex is not None
    np.testing.assert_array_equal(ex.received_bytes(n), want)
    back = _step(program, "bwd.state_grad.out").exchange
    assert back is not None
    want = np.zeros(n, np.int64)
    want[1:7] = 5 * W * 2  # the 6 vertices of layer 0 write k = 2 floats each, less the tile's own
    want[7:11] = 5 * W * 2  # layer 1's vertex tiles 7-10 are among its neuron tiles
    want[11:13] = 6 * W * 2  # layer 2's neuron tiles hold no vertex of layer 2
    np.testing.assert_array_equal(back.received_bytes(n), want)


def test_one_worker_vertex_per_layer_and_sample_in_software_double() -> None:
    """Saturated activity: every slot is valid, so vertex (l, b) loops over S_l slots at 20 + S (13 + 726)
    thread cycles, and runs alone on its tile: 6 x that + the launch (11) tile cycles."""
    spec = small_spec()
    program = _lowered(spec)
    cs = _step(program, "bwd.state_grad").compute
    assert cs is not None
    cycles = {int(b.tiles[0]): int(np.max(b.worker_cycles)) for b in cs.blocks}
    assert sorted(cycles) == list(range(1, 19)) and all(b.tiles.size == 1 and b.n_vertex_kinds == 1 for b in cs.blocks)
    for tile, S in [(1, 4), (7, 2), (13, 2)]:
        assert cycles[tile] == 20 + S * (13 + 726) == int(est.state_out_grad_cycles(np.array(S)))
    res = simulate(program, MACHINE, "fast")
    rec = next(r for r in res.supersteps if r.name == "bwd.state_grad")
    assert rec.compute_cycles // rec.n_executions == 6 * (20 + 4 * 739) + 11  # layer 0's vertices are the slowest
    assert_same_result(res, simulate(program, MACHINE, "des"))


def test_the_soft_double_cost_is_a_named_option_that_changes_only_that_vertex() -> None:
    spec = small_spec()
    typical, cheap = _lowered(spec), _lowered(spec, soft_double_slot_cycles=est.soft_double_surrogate_cycles("low"))
    a, b = _step(typical, "bwd.state_grad").compute, _step(cheap, "bwd.state_grad").compute
    assert a is not None and b is not None
    assert int(np.max(b.blocks[0].worker_cycles)) == 20 + 4 * (13 + 440)
    names = [s.name for s in typical.iter_static()]
    assert names == [s.name for s in cheap.iter_static()]
    rest = [(s.name, s.compute) for s in typical.iter_static() if isinstance(s, Superstep) and s.name != "bwd.state_grad"]
    assert all(x is not None for x in rest)


def test_only_the_state_gradient_and_the_identity_layer_differ_from_the_final_op() -> None:
    old, new = _lowered(small_spec()), _lowered(small_spec(program_version="final"))
    names_old = [s.name for s in old.iter_static()]
    names_new = [s.name for s in new.iter_static()]
    identity = {"loss.identity_matmul", "loss.identity_matmul_grad", "loss.identity_weight_grad"}
    assert [n for n in names_new if n not in identity] == [n for n in names_old if n != "bwd.state_grad.out"]
    assert identity <= set(names_new) and not identity & set(names_old)
    assert old.metadata["program_version"] == "2022-09-12" and new.metadata["program_version"] == "final"


def test_deeper_is_faster_with_the_2022_op_and_the_version_is_recorded() -> None:
    """The old state gradient costs with the layer's width: the same 24 neurons in 2 layers of 12 cost more
    per step than in 4 layers of 6 (under every pipeline)."""
    wide = small_spec(
        layers=[{"n_neurons": 24, "sparse_size": 4}, {"n_neurons": 24, "sparse_size": 4}, {"n_neurons": 4, "sparse_size": 2}]
    )
    deep = small_spec(layers=[*[{"n_neurons": 12, "sparse_size": 2}] * 4, {"n_neurons": 4, "sparse_size": 2}])
    m = load_machine("bow", tiles_per_ipu=64)
    for passes in ("as-issued", "poplar"):
        sg = {}
        for name, spec in (("wide", wide), ("deep", deep)):
            e = estimate_training_step(spec, m, activity_source="saturated", options=LoweringOptions(passes=passes))
            sg[name] = sum(k.cycles for k in e.step_kinds() if "bwd.state_grad" in k.name)
            assert e.to_dict()["program_version"] == "2022-09-12"
        assert sg["wide"] > sg["deep"], passes


def test_a_layer_whose_state_gradient_tiles_do_not_exist_is_refused() -> None:
    spec = small_spec(batch_size=12)
    m = load_machine("bow", tiles_per_ipu=32)  # layer 2's vertices would need tiles 25-36
    mapping = partition_layers(spec.layer_sizes[1:], 32, 1)
    with pytest.raises(ConfigError, match=r"program_version 2022-09-12: the state gradient of layer 2 goes on tiles 25\.\.36"):
        lower_snn(spec, m, mapping, saturated_activity(spec))
