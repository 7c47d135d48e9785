"""End to end: SNN spec -> activity -> mapping -> lowering -> memory -> engine
(mimdsim.studies.estimate.estimate_training_step)."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pytest

from mimdsim import load_machine
from mimdsim.engines.result import RunResult
from mimdsim.errors import ConfigError, TileMemoryError
from mimdsim.memory.ledger import MemoryLedger
from mimdsim.program.ir import Superstep
from mimdsim.snn.activity.counts import functional_activity, parametric_activity
from mimdsim.snn.lowering.lower import LoweringOptions, lower_snn
from mimdsim.snn.model.spec import load_snn_model, snn_from_sizes, sparse_size_for_activity
from mimdsim.studies.estimate import estimate_training_step, make_activity
from tests.invariants import TILE_ARRAYS

REPO = Path(__file__).resolve().parents[2]


def small_spec(**kw):
    base = dict(max_activity=0.25, input_sparse_size=8, batch_size=6, n_timesteps=3)
    base.update(kw)
    return snn_from_sizes([64, 24, 24, 4], **base)


def assert_same(a: RunResult, b: RunResult) -> None:
    assert a.total_cycles == b.total_cycles and a.n_steps_executed == b.n_steps_executed
    for name in TILE_ARRAYS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert [dataclasses.asdict(r) for r in a.supersteps] == [dataclasses.asdict(r) for r in b.supersteps]


# ---------------------------------------------------------------- bad inputs
def test_batch_not_a_multiple_of_six() -> None:
    with pytest.raises(ConfigError, match="batch_size: 8 is not a multiple of num_worker_contexts = 6"):
        estimate_training_step(small_spec(batch_size=8), load_machine("bow", tiles_per_ipu=64))


@pytest.mark.parametrize("a", [0, -0.1, 1.5, float("nan")])
def test_activity_outside_0_1(a: float) -> None:
    with pytest.raises(ConfigError, match="outside"):
        sparse_size_for_activity(100, a)
    with pytest.raises(ConfigError, match="outside"):
        small_spec(max_activity=a)
    with pytest.raises(ConfigError, match="max_activity"):
        load_snn_model(REPO / "models/snn/nmnist_a_2hidden.toml", max_activity=a)


def test_activity_sources_reject_bad_values() -> None:
    spec = small_spec()
    machine = load_machine("bow", tiles_per_ipu=64)
    with pytest.raises(ConfigError, match="rate: 1.5 is outside"):
        estimate_training_step(spec, machine, activity_source="parametric", rate=1.5)
    with pytest.raises(ConfigError, match="needs a firing rate"):
        estimate_training_step(spec, machine, activity_source="parametric")
    with pytest.raises(ConfigError, match="'poisson' is not one of functional, parametric, saturated"):
        make_activity(spec, "poisson")
    with pytest.raises(ConfigError, match="engine"):
        estimate_training_step(spec, machine, activity_source="saturated", engine="gpu")


def test_activity_trace_must_match_the_spec(tmp_path: Path) -> None:
    from mimdsim.snn.activity.trace_v1 import save_activity

    spec = small_spec()
    machine = load_machine("bow", tiles_per_ipu=64)
    other = parametric_activity(small_spec(n_timesteps=4), 0.1, 0)
    with pytest.raises(ConfigError, match="activity: n_timesteps: trace has 4, model 'snn' has 3"):
        estimate_training_step(spec, machine, activity_source=other)
    path = tmp_path / "act.npz"
    save_activity(path, parametric_activity(small_spec(max_activity=0.5), 0.1, 0))
    with pytest.raises(ConfigError, match=r"activity: sparse_sizes: trace has \(8, 12, 12, 2\), model 'snn' has \(8, 6, 6, 2\)"):
        estimate_training_step(spec, machine, activity_source=path)
    # a matching trace is accepted and labelled
    save_activity(path, parametric_activity(spec, 0.1, 0))
    est = estimate_training_step(spec, machine, activity_source=path)
    assert est.activity_source == "trace:act.npz"


# ---------------------------------------------------------------- engines and results
def test_both_engines_agree_on_a_small_snn() -> None:
    spec = small_spec()
    machine = load_machine("bow", tiles_per_ipu=64)
    fast = estimate_training_step(spec, machine, engine="fast")
    des = estimate_training_step(spec, machine, engine="des")
    assert_same(fast.result, des.result)
    assert fast.neurons_per_tile == 2 and fast.activity_source == "functional"
    assert fast.cycles_per_step == sum(fast.breakdown_cycles.values()) > 0
    assert fast.ms_per_step == pytest.approx(fast.cycles_per_step / 1.85e6)
    assert fast.samples_per_s == pytest.approx(6 / (fast.ms_per_step / 1e3))
    assert fast.oom_tiles == [] and fast.breakdown_cycles["global_exchange"] == 0
    d = fast.to_dict()
    assert d["layers"] == [64, 24, 24, 4] and d["sparse_sizes"] == [8, 6, 6, 2] and d["oom_tiles"] == []
    kinds = {k.name: k for k in fast.step_kinds()}
    state_update = next(k for n, k in kinds.items() if n.startswith("fwd.state_update"))
    input_grad = next(k for n, k in kinds.items() if "bwd.input_grad" in n)
    assert state_update.n_executions == 3 and input_grad.n_executions == 2
    assert sum(k.cycles for k in kinds.values()) == fast.cycles_per_step


def test_two_ipus_use_external_syncs_and_links() -> None:
    """Layers of 12 + 12 + 2 tiles at k = 2 do not fit one 16-tile IPU (15 usable): with two
    IPUs k stays 2 and the second hidden layer and the output go to IPU 1."""
    spec = small_spec()
    machine = load_machine("bow", n_ipus=2, tiles_per_ipu=16)
    fast = estimate_training_step(spec, machine, engine="fast")
    des = estimate_training_step(spec, machine, engine="des")
    assert_same(fast.result, des.result)
    assert fast.neurons_per_tile == 2 and fast.mapping.n_ipus_used == 2
    assert [lp.ipu for lp in fast.mapping.layers] == [0, 1, 1]
    # call by call, a program crosses IPUs when its data does: the hand-off copies into layer 1's
    # input buffers, the replication of layer 0's output, the slot gradients back, and every
    # dynamic slice of an IPU-1 tensor (the offset is on tile 0); the state update reads local buffers
    program = lower_snn(spec, machine, fast.mapping, functional_activity(spec, 0), LoweringOptions(passes="as-issued"))
    external = {s.name for s in program.iter_static() if isinstance(s, Superstep) and s.sync == "external"}
    assert {
        "fwd.handoff.ids[l=1]",
        "bwd.replicate.ids[l=1]",
        "bwd.state_grad",
        "fwd.update.ids[l=1]",
        "bwd.slice.state[l=2]",
    } <= external
    assert not {"fwd.update.ids[l=0]", "fwd.dense_flags", "fwd.state_update"} & external
    # with the offsets replicated (poplar) the slices move nothing and sync nothing; the copies still cross
    program = lower_snn(spec, machine, fast.mapping, functional_activity(spec, 0))
    external = {s.name for s in program.iter_static() if isinstance(s, Superstep) and s.sync == "external"}
    assert any("fwd.handoff.ids" in n for n in external) and not any("fwd.update.ids" in n for n in external)
    assert fast.breakdown_cycles["global_exchange"] > 0
    assert fast.result.tile_global_exchange_cycles.max() > 0
    # the same net on one IPU needs k = 4 and no link
    one = estimate_training_step(spec, load_machine("bow", tiles_per_ipu=16))
    assert one.neurons_per_tile == 4 and one.breakdown_cycles["global_exchange"] == 0


def test_step_time_falls_with_activity() -> None:
    """The paper's claim: smaller max activity (smaller S) gives a faster step."""
    machine = load_machine("bow", tiles_per_ipu=128)
    ms = []
    for a in (0.5, 0.2, 0.1, 0.05):
        spec = snn_from_sizes([256, 96, 96, 10], max_activity=a, input_sparse_size=24, batch_size=12, n_timesteps=8)
        ms.append(estimate_training_step(spec, machine, input_rate=0.05).ms_per_step)
    assert all(x > y for x, y in itertools.pairwise(ms)), ms


def test_saturated_is_the_worst_case_and_parametric_in_between() -> None:
    spec = small_spec(max_activity=0.5)
    machine = load_machine("bow", tiles_per_ipu=64)
    sat = estimate_training_step(spec, machine, activity_source="saturated")
    low = estimate_training_step(spec, machine, activity_source="parametric", rate=0.01, input_rate=0.01)
    mid = estimate_training_step(spec, machine, activity_source="parametric", rate=0.2, input_rate=0.2)
    assert low.cycles_per_step < mid.cycles_per_step < sat.cycles_per_step
    assert sat.activity_source == "saturated" and low.activity_source.startswith("parametric")


# ---------------------------------------------------------------- memory limit (GSNN PC (tensors of a neuron tile))
def test_k16_tile_with_992_inputs_is_over_624_kib_with_adam() -> None:
    """GSNN PC (tensors of a neuron tile): k = 16, M = 992: 4 M k = 63.5 KB; weights + 6 gradient replicas + Adam m, v =
    571,392 B (~570 KB) of the 638,976 B (624 KiB) per tile; with the state history, buffers,
    vertex state and code the tile needs 645,960 B, 6,984 B over. With SGD it fits."""
    spec = snn_from_sizes([992, 992, 992, 10], max_activity=0.05, input_sparse_size=32, batch_size=24, n_timesteps=10)
    machine = load_machine("bow")
    est = estimate_training_step(spec, machine, activity_source="saturated", neurons_per_tile=16, allow_oom=True)
    ledger: MemoryLedger = est.ledger
    tile = int(est.mapping.layers[1].tiles[0])  # a plain neuron tile of the second layer (M = 992)
    items = dict(ledger.items_on(tile))
    assert items["weights"] == 4 * 992 * 16 == 63_488
    assert items["weights"] + items["weight_grad_replicas"] + items["optimizer_state"] == 9 * 63_488 == 571_392
    assert items["state_history"] == 4 * 10 * 24 * 16
    assert ledger.tile_bytes[tile] == 645_960 > machine.memory_bytes_per_tile == 638_976
    assert tile in est.oom_tiles and len(est.oom_tiles) >= 62 * 2
    with pytest.raises(TileMemoryError) as err:
        estimate_training_step(spec, machine, activity_source="saturated", neurons_per_tile=16)
    msg = str(err.value)
    assert "16 neurons per tile" in msg and "638,976 B per tile" in msg
    assert "B over" in msg and "largest: weight_grad_replicas 380,928 B, optimizer_state 126,976 B, weights 63,488 B" in msg
    assert isinstance(err.value.report, MemoryLedger)
    sgd = estimate_training_step(
        spec.model_copy(update={"optimizer": "sgd"}), machine, activity_source="saturated", neurons_per_tile=16
    )
    assert sgd.oom_tiles == [] and sgd.ledger.max_tile_bytes < 638_976
    # the call-by-call program holds the same big items and more state copies: over too
    pop = estimate_training_step(spec, machine, activity_source="saturated", neurons_per_tile=16, allow_oom=True)
    pop_items = dict(pop.ledger.items_on(tile))
    assert pop_items["weights"] + pop_items["weight_grad_replicas"] + pop_items["optimizer_state"] == 571_392
    assert pop_items["states"] == 5 * 4 * 24 * 16 and pop.ledger.tile_bytes[tile] > 638_976
    # k = 32 does not fit even with SGD: weights + 6 replicas alone are 7 x 4 x 992 x 32 = 888,832 B,
    # which the preflight knows from the spec, before any activity or lowering
    with pytest.raises(
        TileMemoryError,
        match=r"at 32 neurons per tile: a tile of layer 1 \(k = 32\) needs at least 944,768 B \(gradient replicas W x 4 x N_in x k = 761,856 B\)",
    ):
        estimate_training_step(
            spec.model_copy(update={"optimizer": "sgd"}), machine, activity_source="saturated", neurons_per_tile=32
        )


@pytest.mark.slow
def test_family_b_k16_and_k32() -> None:
    """Family (b) style, T = 10, B = 24, NMNIST 24x24x2 input: 24 hidden layers of 976 pick k = 16
    (61 tiles each + 1 output tile) and fit with SGD, not with Adam; 48 hidden layers of 960
    pick k = 32 and do not fit even with SGD (7 x 4 M k = 860,160 B of weights and replicas)."""
    machine = load_machine("bow")

    def spec(layers: int, width: int, optimizer: str):
        return snn_from_sizes(
            [1152] + [width] * layers + [10],
            max_activity=0.05,
            input_sparse_size=32,
            batch_size=24,
            n_timesteps=10,
            optimizer=optimizer,
        )

    k16 = estimate_training_step(spec(24, 976, "sgd"), machine, activity_source="parametric", rate=0.02)
    assert k16.neurons_per_tile == 16 and k16.oom_tiles == []
    assert k16.ledger.max_tile_bytes <= 638_976
    # the preflight refuses both from the spec alone, before any activity or lowering: Adam's two extra [M, k]
    # buffers push the k = 16 tile over; at k = 32 the 6 replicas of 4 x 1152 x 32 B alone are 884,736 B
    with pytest.raises(
        TileMemoryError,
        match=r"a tile of layer 1 \(k = 16\) needs at least 691,520 B \(gradient replicas W x 4 x N_in x k = 442,368 B\)",
    ):
        estimate_training_step(spec(24, 976, "adam"), machine, activity_source="parametric", rate=0.02)
    with pytest.raises(
        TileMemoryError,
        match=r"a tile of layer 1 \(k = 32\) needs at least 1,088,128 B \(gradient replicas W x 4 x N_in x k = 884,736 B\)",
    ):
        estimate_training_step(spec(48, 960, "sgd"), machine, activity_source="parametric", rate=0.02)


# ---------------------------------------------------------------- the paper's net, once
def test_paper_two_hidden_net_estimate() -> None:
    spec, hints = load_snn_model(REPO / "models/snn/nmnist_a_2hidden.toml")
    est = estimate_training_step(spec, load_machine(hints.machine))
    assert spec.sparse_sizes == (32, 14, 14, 2) and est.neurons_per_tile == 2
    assert [(int(lp.tiles[0]), int(lp.tiles[-1])) for lp in est.mapping.layers] == [(1, 733), (734, 1466), (1467, 1471)]
    assert est.oom_tiles == [] and est.ledger.max_tile_bytes < 638_976
    b = est.breakdown_cycles
    assert sum(b.values()) == est.cycles_per_step and b["global_exchange"] == 0 and b["host_exchange"] > 0
    # call by call, the many one-word regions of the sequence tensors make the exchange as large as the compute
    assert b["compute"] > 0.3 * est.cycles_per_step and b["exchange"] > 0.3 * est.cycles_per_step
    assert 0.1 < est.ms_per_step < 100
