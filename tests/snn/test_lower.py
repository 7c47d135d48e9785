"""The ``fused`` lowering of the SNN training step: superstep structure, exchange bytes per
time step (GSNN PC (exchanges of a time step), read off the Program's Exchange objects) and the memory of a
neuron tile (GSNN PC (tensors of a neuron tile)), on small machines where every number can be worked out by hand.
(The default, call-by-call lowering has its own tests: tests/snn/test_lower_poplar.py.)"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from mimdsim import load_machine
from mimdsim.errors import ConfigError
from mimdsim.memory.ledger import memory_ledger
from mimdsim.partition import partition_layers
from mimdsim.program.ir import Exchange, HostCopy, Program, Repeat, Superstep
from mimdsim.snn.activity import parametric_activity
from mimdsim.snn.estimate import saturated_activity
from mimdsim.snn.layout import build_layout
from mimdsim.snn.lower import LoweringOptions, lower_snn
from mimdsim.snn.spec import SNNSpec, snn_from_sizes

W = 4  # bytes per uint32 id / count, float32 value


def small_spec(**kw) -> SNNSpec:
    """[40 -> 12 -> 8 -> 4], S = (6, 4, 2, 2), B = 6, T = 2: 6 + 4 + 2 tiles at k = 2."""
    data = dict(
        n_inputs=40,
        input_sparse_size=6,
        layers=[{"n_neurons": 12, "sparse_size": 4}, {"n_neurons": 8, "sparse_size": 2}, {"n_neurons": 4, "sparse_size": 2}],
        batch_size=6,
        n_timesteps=2,
    )
    data.update(kw)
    return SNNSpec.model_validate(data)


def lowered(spec, machine, act=None, **opt):
    mapping = partition_layers(spec.layer_sizes[1:], machine.tiles_per_ipu, machine.n_ipus)
    act = act if act is not None else parametric_activity(spec, 0.3, 0)
    program = lower_snn(spec, machine, mapping, act, LoweringOptions(**({"lowering": "fused"} | opt)))
    return program, build_layout(spec, machine, mapping), mapping


def exchange_of(program: Program, step: str) -> Exchange:
    """The exchange of the first static step named ``step`` (a loop body's step comes before the t = 0 body's)."""
    for s in program.iter_static():
        if isinstance(s, Superstep) and s.name == step:
            assert s.exchange is not None, step
            return s.exchange
    raise KeyError(step)


def received(ex: Exchange, n_tiles: int) -> np.ndarray:
    """Bytes each tile receives in ``ex`` (a multicast counts once per destination)."""
    ex = ex.expanded()
    per_dst = np.repeat(ex.nbytes, np.diff(ex.dst_ptr))
    return np.bincount(ex.dst, weights=per_dst, minlength=n_tiles).astype(np.int64)


def total(ex: Exchange) -> int:
    return int(received(ex, int(ex.dst.max()) + 1 if ex.dst.size else 1).sum())


@pytest.fixture(scope="module")
def small():
    spec = small_spec()
    machine = load_machine("bow", tiles_per_ipu=128)
    program, lay, _mapping = lowered(spec, machine)
    return spec, machine, program, lay


# ------------------------------------------------------------------ structure
def _kinds(program: Program) -> list[str]:
    """Every executed step's name, repeats expanded."""
    out: list[str] = []

    def walk(steps: tuple) -> None:
        for s in steps:
            if isinstance(s, Repeat):
                for _ in range(s.count):
                    walk(s.body)
            else:
                out.append(s.name)

    walk(program.body)
    return out


def test_superstep_sequence_per_time_step(small) -> None:
    _spec, _machine, program, _lay = small
    fwd = ["state_update", "dense_flags", "rand_offsets", "dense_to_sparse", "tile_combine", "final_combine", "store", "loop"]
    bwd = ["slices", "alpha_mul", "state_grad", "scale", "replicate", "weight_grad", "input_grad", "reduce_stage1", "reduce_stage2", "loop"]
    expected = ["host.input_spikes_and_labels"]
    expected += [f"fwd.{k}" for t in range(2) for k in fwd]
    expected += ["loss", "bwd.zero_grads"]
    expected += [f"bwd.{k}" for k in bwd]
    expected += [f"bwd.{k}" for k in bwd if k not in ("input_grad", "reduce_stage1", "reduce_stage2")]
    expected += ["update.reduce_replicas", "update.optimizer", "host.loss"]
    assert _kinds(program) == expected
    # the time loops stay loops: one static step per kind and loop
    loops = [s for s in program.body if isinstance(s, Repeat)]
    assert [(r.name, r.count, len(r.body)) for r in loops] == [("fwd.time_loop", 2, 8), ("bwd.time_loop", 1, 10)]
    assert isinstance(program.body[0], HostCopy) and isinstance(program.body[-1], HostCopy)
    # one machine, one IPU: every sync is internal
    assert {s.sync for s in program.iter_static() if isinstance(s, Superstep)} == {"internal"}
    assert program.batch_size == 6 and program.metadata["neurons_per_tile"] == 2


def test_superstep_counts_scale_with_t_and_t0_has_no_input_grad() -> None:
    machine = load_machine("bow", tiles_per_ipu=32)
    spec = small_spec(n_timesteps=5)
    program, _, _ = lowered(spec, machine)
    c = Counter(_kinds(program))
    assert c["fwd.state_update"] == 5 and sum(v for k, v in c.items() if k.startswith("fwd.")) == 8 * 5
    # backward: 10 supersteps for t = 4..1, 7 at t = 0 (layer inputs are the initial zeros)
    assert sum(v for k, v in c.items() if k.startswith("bwd.") and k != "bwd.zero_grads") == 10 * 4 + 7
    assert c["bwd.input_grad"] == c["bwd.reduce_stage1"] == c["bwd.reduce_stage2"] == 4
    assert _kinds(program)[-3 - 7 : -3] == [f"bwd.{k}" for k in ("slices", "alpha_mul", "state_grad", "scale", "replicate", "weight_grad", "loop")]
    # a single layer has no input-spike gradient at all
    one = small_spec(layers=[{"n_neurons": 4, "sparse_size": 2}], n_timesteps=3)
    p1, _, _ = lowered(one, machine)
    assert not any("input_grad" in n or "reduce_stage" in n for n in _kinds(p1))
    # forward only, no host I/O
    pf, _, _ = lowered(spec, machine, include_backward=False, include_host_io=False)
    assert _kinds(pf)[-1] == "loss" and not any(n.startswith(("bwd.", "update.", "host.")) for n in _kinds(pf))


def test_input_grad_is_costed_only_on_layers_after_the_first(small) -> None:
    _spec, _machine, program, lay = small
    step = next(s for s in program.iter_static() if s.name == "bwd.input_grad")
    tiles = np.concatenate([b.tiles for b in step.compute.blocks])
    assert set(tiles.tolist()) == set(lay.layers[1].tiles.tolist()) | set(lay.layers[2].tiles.tolist())
    # B vertices per tile (one per batch element)
    assert {b.n_vertices_per_tile for b in step.compute.blocks} == {6}


# ------------------------------------------------------------------ exchange bytes (GSNN PC (exchanges of a time step))
def test_f1_handoff_bytes(small) -> None:
    """F1: every tile of layer l receives 4 B (S_{l-1} + 1) per step, minus rows it holds itself."""
    spec, machine, program, lay = small
    got = received(exchange_of(program, "fwd.state_update"), machine.n_tiles)
    want = np.zeros(machine.n_tiles, np.int64)
    S = spec.sparse_sizes
    for l, L in enumerate(lay.layers):
        src = lay.input_seq_tiles if l == 0 else lay.layers[l - 1].combine_tiles
        for t in L.tiles:
            want[t] = sum(W * (S[l] + 1) for b in range(spec.batch_size) if src[b] != t)
    np.testing.assert_array_equal(got, want)
    # the nominal 4 B (S+1) for tiles that hold no source row: 4*6*7 = 168, 4*6*5 = 120, 4*6*3 = 72
    for l, L in enumerate(lay.layers):
        src = set((lay.input_seq_tiles if l == 0 else lay.layers[l - 1].combine_tiles).tolist())
        clean = [t for t in L.tiles if t not in src]
        assert clean and set(got[clean].tolist()) == {[168, 120, 72][l]}
    # the exchange is static: the same object at every step
    assert exchange_of(program, "fwd.state_update") is exchange_of(program, "fwd.state_update")


def test_f2_flag_bytes(small) -> None:
    """F2: N_l x B x 2 x 4 B of flags per layer, each (b, thr, j) slot tile gets its slices' flags."""
    spec, machine, program, lay = small
    ex = exchange_of(program, "fwd.dense_to_sparse")
    want = np.zeros(machine.n_tiles, np.int64)
    local = 0
    for L in lay.layers:
        neuron_tile = np.repeat(L.tiles, L.tile_neurons)
        for j in range(L.spread):
            a, z = L.slot_slices(j)
            tiles_of_slice = neuron_tile[L.slice_bounds[a] : L.slice_bounds[z]]
            for dst in L.slot_tiles[:, :, j].reshape(-1):
                want[dst] += W * int((tiles_of_slice != dst).sum())
                local += W * int((tiles_of_slice == dst).sum())
    np.testing.assert_array_equal(received(ex, machine.n_tiles), want)
    nominal = sum(L.n_neurons * spec.batch_size * 2 * W for L in lay.layers)
    assert nominal == (12 + 8 + 4) * 6 * 8
    assert total(ex) == nominal - local
    # every neuron tile sends each of its flags to the B x 2 slot tiles of its slice
    sent = np.bincount(ex.src, weights=ex.nbytes * ex.fanout(), minlength=machine.n_tiles)
    for L in lay.layers:
        for t, k in zip(L.tiles, L.tile_neurons, strict=True):
            assert sent[t] <= W * k * spec.batch_size * 2


def test_f3_f4_partial_lists_and_store(small) -> None:
    """F3: per (layer, b) 2 f (S + 1) x 4 B to the combine tile; F4: 4 (S + 2) B to the sequence row."""
    spec, machine, program, lay = small
    f3 = received(exchange_of(program, "fwd.final_combine"), machine.n_tiles)
    f4 = received(exchange_of(program, "fwd.store"), machine.n_tiles)
    w3 = np.zeros(machine.n_tiles, np.int64)
    w4 = np.zeros(machine.n_tiles, np.int64)
    for L in lay.layers:
        S = L.sparse_size
        for b in range(spec.batch_size):
            comb = L.combine_tiles[b]
            w3[comb] += W * (S + 1) * int((L.slot_tiles[b].reshape(-1) != comb).sum())
            if L.seq_tiles[b] != comb:
                w4[L.seq_tiles[b]] += W * (S + 2)
    np.testing.assert_array_equal(f3, w3)
    np.testing.assert_array_equal(f4, w4)
    # f = 1 everywhere here, so each (layer, b) is 2 (S + 1) x 4 B before locality: 40, 24, 24;
    # the combine tile is slot (b, thr 0, j 0) itself, so at least that half stays local
    assert total(exchange_of(program, "fwd.final_combine")) <= 6 * (40 + 24 + 24) - 6 * (20 + 12 + 12)


def test_b1_b2_backward_broadcasts(small) -> None:
    """B1: 4 B (2 S_l + 2) per tile (ids + 2 counts + slot gradients); B2: 4 B (S_{l-1} + 2), layer 0: + 1."""
    spec, machine, program, lay = small
    b1 = received(exchange_of(program, "bwd.state_grad"), machine.n_tiles)
    b2 = received(exchange_of(program, "bwd.replicate"), machine.n_tiles)
    w1 = np.zeros(machine.n_tiles, np.int64)
    w2 = np.zeros(machine.n_tiles, np.int64)
    S = spec.sparse_sizes
    last = len(lay.layers) - 1
    for l, L in enumerate(lay.layers):
        gsrc = lay.loss_tiles if l == last else lay.layers[l + 1].stage2_tiles
        isrc = lay.input_seq_tiles if l == 0 else lay.layers[l - 1].seq_tiles
        for t in L.tiles:
            for b in range(spec.batch_size):
                w1[t] += W * (S[l + 1] + 2) * (L.seq_tiles[b] != t) + W * S[l + 1] * (gsrc[b] != t)
                w2[t] += W * (S[l] + (1 if l == 0 else 2)) * (isrc[b] != t)
    np.testing.assert_array_equal(b1, w1)
    np.testing.assert_array_equal(b2, w2)
    # nominal values on tiles holding none of the sources: 4*6*(2*4+2) = 240, 4*6*6 = 144, 4*6*6 = 144
    for l, L in enumerate(lay.layers):
        gsrc = lay.loss_tiles if l == last else lay.layers[l + 1].stage2_tiles
        clean = [t for t in L.tiles if t not in set(L.seq_tiles.tolist()) | set(gsrc.tolist())]
        if clean:
            assert set(b1[clean].tolist()) == {[240, 144, 144][l]}
    # B2 at t = 0 is the same static exchange
    assert exchange_of(program, "bwd.replicate") is exchange_of(program, "bwd.replicate")


def test_b3_reduction_bytes(small) -> None:
    """B3: 4 P_l B S_{l-1} B of partials in total, each stage-1 vertex gets 4 B from every tile
    of its group; B3b: 4 B per (group, b, slot) to the stage-2 tile."""
    spec, machine, program, lay = small
    b3 = exchange_of(program, "bwd.reduce_stage1")
    b3b = exchange_of(program, "bwd.reduce_stage2")
    w3 = np.zeros(machine.n_tiles, np.int64)
    w3b = np.zeros(machine.n_tiles, np.int64)
    local = 0
    nominal = 0
    for L in lay.layers[1:]:
        nominal += W * L.tiles.size * spec.batch_size * L.input_sparse_size
        for g in range(L.n_groups):
            members = L.tiles[L.group_of_tile == g]
            for b in range(spec.batch_size):
                for s in range(L.input_sparse_size):
                    v = L.stage1_tile[g, b, s]
                    w3[v] += W * int((members != v).sum())
                    local += W * int((members == v).sum())
                    if v != L.stage2_tiles[b]:
                        w3b[L.stage2_tiles[b]] += W
    np.testing.assert_array_equal(received(b3, machine.n_tiles), w3)
    np.testing.assert_array_equal(received(b3b, machine.n_tiles), w3b)
    assert nominal == 4 * 4 * 6 * 4 + 4 * 2 * 6 * 2
    assert total(b3) == nominal - local
    # g = min(B/2, P) = 3: layer 1 (4 tiles) is one group of 4, layer 2 (2 tiles) one group of 2
    assert [L.n_groups for L in lay.layers[1:]] == [1, 1]


def test_loss_gather_bytes(small) -> None:
    spec, _machine, program, lay = small
    ex = exchange_of(program, "loss")
    last = lay.layers[-1]
    want = sum(W * spec.n_timesteps * (last.sparse_size + 2) for b in range(6) if last.seq_tiles[b] != lay.loss_tiles[b])
    assert total(ex) == want


def test_paper_net_exchange_spot_checks() -> None:
    """GSNN PC (exchanges of a time step)'s worked numbers for [2312, 1466, 1466, 10], B = 48, act 0.01 (S = 32, 14, 14, 2)."""
    spec = snn_from_sizes([2312, 1466, 1466, 10], max_activity=0.01, input_sparse_size=32, batch_size=48, n_timesteps=1)
    machine = load_machine("bow")
    program, lay, _ = lowered(spec, machine, include_backward=True)
    n = machine.n_tiles
    f1 = received(exchange_of(program, "fwd.state_update"), n)
    l0, l1, _out = lay.layers
    clean0 = np.setdiff1d(l0.tiles, lay.input_seq_tiles)
    clean1 = np.setdiff1d(l1.tiles, l0.combine_tiles)
    assert set(f1[clean0].tolist()) == {6336}  # the 32-id input: 4*48*33 = 6.3 KB per tile
    assert set(f1[clean1].tolist()) == {2880}  # S = 14: 4*48*15 = 2.9 KB per tile
    # F2: 1466*48*8 = 563 KB per hidden layer (less the flags whose slot tile is their neuron tile)
    f2 = exchange_of(program, "fwd.dense_to_sparse")
    nominal = (1466 + 1466 + 10) * 48 * 8
    assert 1466 * 48 * 8 == 562_944
    assert 0.99 * nominal < total(f2) <= nominal
    # B3: 733*48*14*4 = 1.97 MB of partials for the second hidden layer (+ 5*48*14*4 for the output)
    # (T = 1: the only backward step is t = 0, which has no input gradient)
    assert not any(s.name.startswith("bwd.reduce_stage1") for s in program.iter_static())
    spec2 = spec.model_copy(update={"n_timesteps": 2})
    program2, _, _ = lowered(spec2, machine)
    b3 = exchange_of(program2, "bwd.reduce_stage1")
    assert 733 * 48 * 14 * 4 == 1_970_304
    nominal = 1_970_304 + 5 * 48 * 14 * 4
    assert 0.99 * nominal < total(b3) <= nominal
    # B1 on a clean tile of the first hidden layer: 4*48*(2*14+2) = 5760
    b1 = received(exchange_of(program2, "bwd.state_grad"), n)
    clean = np.setdiff1d(l0.tiles, np.concatenate([l0.seq_tiles, l1.stage2_tiles]))
    assert set(b1[clean].tolist()) == {5760}


# ------------------------------------------------------------------ memory of a neuron tile (GSNN PC (tensors of a neuron tile))
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_neuron_tile_memory_matches_the_table(optimizer: str) -> None:
    """Item by item for M = 20 inputs, k = 2, B = 6, T = 3, S_in = 4 (layer 0) and M = 8 (layer 1)."""
    spec = SNNSpec.model_validate(
        dict(
            n_inputs=20,
            input_sparse_size=4,
            layers=[{"n_neurons": 8, "sparse_size": 2}, {"n_neurons": 4, "sparse_size": 2}],
            batch_size=6,
            n_timesteps=3,
            optimizer=optimizer,
        )
    )
    machine = load_machine("bow", tiles_per_ipu=32)
    program, lay, _ = lowered(spec, machine, act=saturated_activity(spec))
    ledger = memory_ledger(program, machine)
    B, T, k = 6, 3, 2
    for l, (M, s_in, s_out) in enumerate([(20, 4, 2), (8, 2, 2)]):
        items = dict(ledger.items_on(int(lay.layers[l].tiles[0])))
        want = {
            "weights": 4 * M * k,  # [M, k]
            "weight_grad_replicas": 24 * M * k,  # [6, M, k]
            "state": 4 * B * k,  # V [B, k]
            "state_history": 4 * T * B * k,  # [T, B, k]
            "state_grad": 2 * 4 * B * k,  # dL/dV + copy
            "thresholds": 2 * 4 * k,  # [2, k]
            "decay": 2 * 4 * k,  # alpha and 10 (1 - alpha)
            "dense_flags": 4 * k * B * 2,  # [k, B, 2] uint32
            "input_ids": 4 * B * (s_in + 1),  # F1's destination
            "input_ids_replica": 4 * B * (s_in + (1 if l == 0 else 2)),  # B2's destination
            "output_slots": 4 * B * (2 * s_out + 2),  # B1's destination
        }
        if optimizer == "adam":
            want["optimizer_state"] = 8 * M * k  # m, v
        if l >= 1:
            want["input_grad_partials"] = 4 * B * s_in  # [B, S_in]
        else:
            assert "input_grad_partials" not in items
        if optimizer == "sgd":
            assert "optimizer_state" not in items
        for name, nbytes in want.items():
            assert items[name] == nbytes, name
        assert items["code"] == 24 * 1024
    assert (ledger.tile_bytes > 0).sum() == 32  # code on every tile of the IPU


def test_memory_options_change_only_memory() -> None:
    spec = small_spec()
    machine = load_machine("bow", tiles_per_ipu=32)
    act = parametric_activity(spec, 0.3, 0)
    p1, _, _ = lowered(spec, machine, act=act)
    p2, _, _ = lowered(spec, machine, act=act, code_bytes_per_tile=0, vertex_state_bytes=0)
    m1, m2 = memory_ledger(p1, machine), memory_ledger(p2, machine)
    np.testing.assert_array_equal(m1.tile_bytes - m2.tile_bytes - 24 * 1024, m1.kind_bytes["vertex_state"])
    assert [s.name for s in p1.iter_static()] == [s.name for s in p2.iter_static()]


# ------------------------------------------------------------------ bad inputs
def test_batch_must_be_a_multiple_of_six() -> None:
    spec = small_spec(batch_size=8)
    machine = load_machine("bow", tiles_per_ipu=32)
    mapping = partition_layers(spec.layer_sizes[1:], 32, 1)
    with pytest.raises(ConfigError, match="batch_size: 8 is not a multiple of num_worker_contexts = 6"):
        lower_snn(spec, machine, mapping, parametric_activity(spec, 0.1, 0))


def test_activity_must_match_the_spec() -> None:
    spec = small_spec()
    machine = load_machine("bow", tiles_per_ipu=32)
    mapping = partition_layers(spec.layer_sizes[1:], 32, 1)
    with pytest.raises(ConfigError, match=r"activity: n_timesteps: trace has 3, model 'snn' has 2"):
        lower_snn(spec, machine, mapping, parametric_activity(small_spec(n_timesteps=3), 0.1, 0))
    other = small_spec(layers=[{"n_neurons": 12, "sparse_size": 4}, {"n_neurons": 8, "sparse_size": 2}, {"n_neurons": 4, "sparse_size": 4}])
    with pytest.raises(ConfigError, match=r"activity: sparse_sizes: trace has \(6, 4, 2, 4\)"):
        lower_snn(spec, machine, mapping, parametric_activity(other, 0.1, 0))
    with pytest.raises(ConfigError, match=r"activity: batch_size: trace has 12"):
        lower_snn(spec, machine, mapping, parametric_activity(small_spec(batch_size=12), 0.1, 0))


# ---- sparse connectivity: a spike goes only to the tiles that hold its targets ---------------
def test_sparse_connectivity_sends_and_stores_only_connected_inputs() -> None:
    from mimdsim.engines import simulate
    from mimdsim.snn.functional import connection_mask

    layers = [
        {"n_neurons": 12, "sparse_size": 4, "connection_density": 0.05, "connection_seed": 3},
        {"n_neurons": 8, "sparse_size": 2},
        {"n_neurons": 4, "sparse_size": 2},
    ]
    spec = small_spec(layers=layers)
    dense = small_spec()
    m = load_machine("bow", tiles_per_ipu=16, exchange_overhead_cycles=0)
    program, layout, _ = lowered(spec, m, saturated_activity(spec))
    lay = layout.layers[0]
    mask = connection_mask(spec, 0)
    assert mask is not None
    # sources per tile: input neurons with at least one synapse onto the tile's neurons
    pos = np.searchsorted(lay.tiles, np.repeat(lay.tiles, lay.tile_neurons))
    expect = [int(mask[:, pos == p].any(axis=1).sum()) for p in range(lay.tiles.size)]
    assert lay.tile_sources.tolist() == expect and min(expect) < spec.input_sparse_size
    # F1: each tile of layer 0 receives min(S_in, sources) ids + 1 count per sample (a sample
    # whose input row sits on the tile itself is not exchanged)
    got = received(exchange_of(program, "fwd.state_update"), m.n_tiles)[lay.tiles]
    remote = [int((layout.input_seq_tiles != t).sum()) for t in lay.tiles]
    assert got.tolist() == [W * r * (min(spec.input_sparse_size, s) + 1) for r, s in zip(remote, expect, strict=True)]
    # weights: a row per connected input plus its index
    weights = {t.name: t for t in program.tensors}["weights"]
    per_tile = dict(zip(weights.tiles.tolist(), weights.nbytes.tolist(), strict=True))
    assert [per_tile[int(t)] for t in lay.tiles] == [W * s * k + W * s for s, k in zip(expect, lay.tile_neurons, strict=True)]
    # fewer ids per tile than the dense net: a faster forward state update, and equal engines
    res = {e: simulate(program, m, e) for e in ("des", "fast")}
    assert res["des"].total_cycles == res["fast"].total_cycles
    dense_prog, _, _ = lowered(dense, m, saturated_activity(dense))
    upd = next(r for r in res["fast"].supersteps if r.name == "fwd.state_update")
    dense_upd = next(r for r in simulate(dense_prog, m, "fast").supersteps if r.name == "fwd.state_update")
    assert upd.compute_cycles < dense_upd.compute_cycles
