"""Structured connectivity (local 2-D receptive fields, small world, shuffled ids) and its model-file form."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mimdsim.errors import ConfigError
from mimdsim.snn.model.connectivity import Local2D, SmallWorld, connection_mask, neuron_positions
from mimdsim.snn.model.spec import LayerSpec, SNNSpec, load_snn_model


def _spec(n_in: int, n_out: int, **layer) -> SNNSpec:
    return SNNSpec(
        n_inputs=n_in,
        input_sparse_size=1,
        batch_size=6,
        n_timesteps=1,
        layers=[LayerSpec(n_neurons=n_out, sparse_size=1, **layer)],
    )


@settings(max_examples=40, deadline=None)
@given(hi=st.integers(1, 9), wi=st.integers(1, 9), ci=st.integers(1, 3), ho=st.integers(1, 9), wo=st.integers(1, 9),
       co=st.integers(1, 3), data=st.data())  # fmt: skip
def test_local2d_every_neuron_sees_one_full_window_near_its_position(hi, wi, ci, ho, wo, co, data) -> None:
    kh, kw = data.draw(st.integers(1, hi)), data.draw(st.integers(1, wi))
    conn = Local2D(in_shape=(hi, wi, ci), out_shape=(ho, wo, co), kernel=(kh, kw))
    mask = connection_mask(_spec(hi * wi * ci, ho * wo * co, connectivity=conn), 0)
    assert mask.shape == (hi * wi * ci, ho * wo * co)
    assert (mask.sum(axis=0) == kh * kw * ci).all()  # windows are clipped inside the grid, never cut
    for j in range(ho * wo * co):
        y, x = divmod(j // co, wo)
        src = np.flatnonzero(mask[:, j]) // ci
        ys, xs = np.divmod(src, wi)
        assert ys.max() - ys.min() == kh - 1 and xs.max() - xs.min() == kw - 1  # one rectangle
        # centred at the neuron's position scaled to the input grid, as near as rounding and the border allow
        for lo_, hi_, pos, n_in, n_out, k in ((ys.min(), ys.max(), y, hi, ho, kh), (xs.min(), xs.max(), x, wi, wo, kw)):
            target = np.clip((pos + 0.5) * n_in / n_out - 0.5, (k - 1) / 2, n_in - 1 - (k - 1) / 2)
            assert abs((lo_ + hi_) / 2 - target) <= 0.5 + 1e-9


def test_local2d_hand_case() -> None:
    """4x4x1 input, 2x2x1 neurons, 2x2 windows: the four quadrants."""
    conn = Local2D(in_shape=(4, 4, 1), out_shape=(2, 2, 1), kernel=(2, 2))
    mask = connection_mask(_spec(16, 4, connectivity=conn), 0)
    assert [np.flatnonzero(mask[:, j]).tolist() for j in range(4)] == [
        [0, 1, 4, 5],
        [2, 3, 6, 7],
        [8, 9, 12, 13],
        [10, 11, 14, 15],
    ]


def test_shuffled_ids_permute_the_grid_mask() -> None:
    conn = Local2D(in_shape=(6, 6, 2), out_shape=(6, 6, 1), kernel=(3, 3))
    plain = _spec(72, 36, connectivity=conn)
    two = SNNSpec(n_inputs=72, input_sparse_size=1, batch_size=6, n_timesteps=1, layers=[
        LayerSpec(n_neurons=36, sparse_size=1, connectivity=conn, shuffle_seed=7),
        LayerSpec(n_neurons=36, sparse_size=1, connectivity=Local2D(in_shape=(6, 6, 1), out_shape=(6, 6, 1), kernel=(3, 3)), shuffle_seed=8)])  # fmt: skip
    perm1, perm2 = neuron_positions(two, 1), neuron_positions(two, 2)
    assert sorted(perm1.tolist()) == list(range(36)) and not np.array_equal(perm1, np.arange(36))
    grid0 = connection_mask(plain, 0)
    assert np.array_equal(connection_mask(two, 0), grid0[:, perm1])  # the input is never permuted
    grid1 = connection_mask(_spec(36, 36, connectivity=Local2D(in_shape=(6, 6, 1), out_shape=(6, 6, 1), kernel=(3, 3))), 0)
    assert np.array_equal(connection_mask(two, 1), grid1[np.ix_(perm1, perm2)])  # layer 2 sees layer 1's permuted ids


def test_small_world_without_rewiring_is_a_ring_lattice() -> None:
    mask = connection_mask(_spec(20, 10, connectivity=SmallWorld(neighbours=4, rewire=0.0)), 0)
    for j in range(10):
        centre = round(j * 20 / 10)
        assert np.flatnonzero(mask[:, j]).tolist() == sorted((centre + d) % 20 for d in (-2, -1, 0, 1))
    rewired = connection_mask(_spec(20, 10, connectivity=SmallWorld(neighbours=4, rewire=1.0, seed=3)), 0)
    assert (rewired.sum(axis=0) <= 4).all() and not np.array_equal(rewired, mask)


def test_masks_are_read_only_and_cached() -> None:
    spec = _spec(30, 20, connection_density=0.3)
    m = connection_mask(spec, 0)
    assert m is connection_mask(spec, 0) and not m.flags.writeable


def test_bad_connectivity() -> None:
    with pytest.raises(
        ConfigError,
        match=r"layers\[0\].connectivity: in_shape \[4, 4, 1\] x out_shape \[2, 2, 1\] does not match the layer's 16 inputs and 5 neurons",
    ):
        connection_mask(_spec(16, 5, connectivity=Local2D(in_shape=(4, 4, 1), out_shape=(2, 2, 1), kernel=(2, 2))), 0)
    with pytest.raises(ValueError, match="either connection_density < 1"):
        LayerSpec(n_neurons=4, sparse_size=1, connection_density=0.5, connectivity=SmallWorld(neighbours=2, rewire=0.0))
    with pytest.raises(ValueError, match="larger than the input grid"):
        Local2D(in_shape=(2, 2, 1), out_shape=(2, 2, 1), kernel=(3, 1))


MODEL = """
name = "m"
n_inputs = 16
input_sparse_size = 2
max_activity = 0.5
batch_size = 6
n_timesteps = 2
[[layers]]
n_neurons = 4
connectivity = { kind = "local2d", in_shape = [4, 4, 1], out_shape = [2, 2, 1], kernel = [2, 2] }
shuffle_seed = 3
[[layers]]
n_neurons = 3
"""


def test_model_file_layers_without_sparse_sizes(tmp_path) -> None:
    path = tmp_path / "m.toml"
    path.write_text(MODEL)
    spec, _ = load_snn_model(path)
    assert spec.sparse_sizes == (2, 2, 2)  # 2*floor(0.5*4/2) = 2, the output at least 2
    assert spec.layers[0].connectivity == Local2D(in_shape=(4, 4, 1), out_shape=(2, 2, 1), kernel=(2, 2))
    assert spec.layers[0].shuffle_seed == 3
    spec2, _ = load_snn_model(path, max_activity=1.0)
    assert spec2.sparse_sizes == (2, 4, 2)
    path.write_text(MODEL.replace('kind = "local2d"', 'kind = "hexagonal"'))
    with pytest.raises(ConfigError, match="connectivity"):
        load_snn_model(path)
    path.write_text(MODEL.replace("max_activity = 0.5\n", ""))
    with pytest.raises(ConfigError, match="max_activity: required when"):
        load_snn_model(path)
