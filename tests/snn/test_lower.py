"""Checks of the SNN lowering that hold for every op version and pipeline: bad inputs are refused,
and the memory options change only memory. (The program call by call: tests/snn/test_lower_poplar.py;
the 2022-09-12 op: tests/snn/test_program_versions.py; the passes: tests/program/test_passes.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from mimdsim import load_machine
from mimdsim.errors import ConfigError
from mimdsim.memory.ledger import memory_ledger
from mimdsim.partition import partition_layers
from mimdsim.snn.activity.counts import parametric_activity
from mimdsim.snn.lowering.lower import LoweringOptions, lower_snn
from mimdsim.snn.model.spec import SNNSpec


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
    return lower_snn(spec, machine, mapping, act, LoweringOptions(**opt))


@pytest.mark.parametrize("version", ["final", "2022-09-12"])
def test_memory_options_change_only_memory(version: str) -> None:
    spec = small_spec(program_version=version)
    machine = load_machine("bow", tiles_per_ipu=32)
    act = parametric_activity(spec, 0.3, 0)
    p1 = lowered(spec, machine, act=act)
    p2 = lowered(spec, machine, act=act, code_bytes_per_tile=0, vertex_state_bytes=0)
    m1, m2 = memory_ledger(p1, machine), memory_ledger(p2, machine)
    np.testing.assert_array_equal(m1.tile_bytes - m2.tile_bytes - 24 * 1024, m1.kind_bytes["vertex_state"])
    assert [s.name for s in p1.iter_static()] == [s.name for s in p2.iter_static()]


def test_unknown_passes_are_refused_with_the_allowed_names() -> None:
    with pytest.raises(ConfigError, match=r"passes: 'merge_copy' is not a pipeline \(as-issued, poplar, fused\) or a pass"):
        LoweringOptions(passes="merge_copy")
    assert LoweringOptions(passes="replicate_offsets,merge_copies,local_compute").passes == "poplar"


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
    other = small_spec(
        layers=[{"n_neurons": 12, "sparse_size": 4}, {"n_neurons": 8, "sparse_size": 2}, {"n_neurons": 4, "sparse_size": 4}]
    )
    with pytest.raises(ConfigError, match=r"activity: sparse_sizes: trace has \(6, 4, 2, 4\)"):
        lower_snn(spec, machine, mapping, parametric_activity(other, 0.1, 0))
    with pytest.raises(ConfigError, match=r"activity: batch_size: trace has 12"):
        lower_snn(spec, machine, mapping, parametric_activity(small_spec(batch_size=12), 0.1, 0))
