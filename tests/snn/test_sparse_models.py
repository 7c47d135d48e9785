"""The partitioning-study models of models/snn/sparse/: they load, their connectivity is what their names say,
and they map and fit with the paper's contiguous mapping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mimdsim import load_machine
from mimdsim.memory.ledger import memory_ledger
from mimdsim.partition import partition_layers
from mimdsim.snn.activity.counts import parametric_activity
from mimdsim.snn.lowering.lower import lower_snn
from mimdsim.snn.model.connectivity import Local2D, SmallWorld, connection_mask
from mimdsim.snn.model.spec import load_snn_model
from mimdsim.studies.preflight import preflight

SPARSE = Path(__file__).resolve().parents[2] / "models" / "snn" / "sparse"
FILES = sorted(SPARSE.glob("*.toml"))


def test_the_study_models_are_there() -> None:
    assert [p.stem for p in FILES] == [
        "nmnist_sparse_local", "nmnist_sparse_local_shuffled", "nmnist_sparse_local_shuffled_4ipu", "nmnist_sparse_random1",
        "nmnist_sparse_random10", "nmnist_sparse_random5", "nmnist_sparse_smallworld_shuffled",
    ]  # fmt: skip


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_model_loads_and_its_name_says_its_connectivity(path: Path) -> None:
    spec, _ = load_snn_model(path)
    assert spec.name == path.stem and "sparse" in spec.name and spec.batch_size % 6 == 0
    hidden = spec.layers[:-1]
    assert spec.layers[-1].connectivity is None and spec.layers[-1].connection_density == 1.0  # dense readout
    if "local" in spec.name:
        assert all(isinstance(lay.connectivity, Local2D) for lay in hidden)
    if "smallworld" in spec.name:
        assert all(isinstance(lay.connectivity, SmallWorld) for lay in hidden)
    if "random" in spec.name:
        density = int(spec.name.removeprefix("nmnist_sparse_random")) / 100
        assert all(lay.connection_density == density for lay in hidden)
        mask = connection_mask(spec, 0)
        assert abs(mask.mean() - density) < 0.1 * density
    assert all(lay.shuffle_seed is not None for lay in hidden) == ("shuffled" in spec.name)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_model_maps_and_fits_with_contiguous(path: Path) -> None:
    spec, hints = load_snn_model(path)
    machine = load_machine(hints.machine, **({"n_ipus": hints.n_ipus} if hints.n_ipus else {}))
    mapping = partition_layers(
        spec.layer_sizes[1:], machine.tiles_per_ipu, machine.n_ipus, neurons_per_tile=hints.neurons_per_tile
    )
    ledger = memory_ledger(lower_snn(spec, machine, mapping, parametric_activity(spec, 0.02, seed=0)), machine)
    assert ledger.oom_tiles.size == 0


def test_the_four_ipu_model_puts_one_layer_per_ipu() -> None:
    spec, hints = load_snn_model(SPARSE / "nmnist_sparse_local_shuffled_4ipu.toml")
    mapping = partition_layers(spec.layer_sizes[1:], 1472, hints.n_ipus or 1, neurons_per_tile=hints.neurons_per_tile)
    assert [lp.ipu for lp in mapping.layers] == [0, 1, 2, 3, 3, 3]
    assert np.all(connection_mask(spec, 1).sum(axis=0) == 90)  # 3x3 windows over 10 channels
    preflight(spec, load_machine("bow", n_ipus=4), neurons_per_tile=hints.neurons_per_tile)  # fits by the sizes alone
