"""The SNN benchmark model files (models/snn/): they load, match the paper's sizes and map.

Sizes are checked against the tables of GSNN runfiles and BS @ 3e05811 (benchmark configurations) at the precision they are
printed there; the mapping checks use the contiguous partitioner only (no simulation),
except one small multi-IPU smoke estimate.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
from pathlib import Path

import pytest

from mimdsim import load_machine
from mimdsim.partition import partition_layers
from mimdsim.snn import load_snn_model
from mimdsim.studies import estimate_training_step

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "models" / "snn"
FILES = sorted(MODELS.glob("*.toml"))


def _load_generate():
    spec = importlib.util.spec_from_file_location("snn_models_generate", MODELS / "generate.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look the module up while the class is built
    spec.loader.exec_module(mod)
    return mod


gen = _load_generate()


def _load(name: str):
    return load_snn_model(MODELS / f"{name}.toml")


def _m(x: float, digits: int) -> float:
    """Round to ``digits`` decimals as the paper's tables print them."""
    return round(x, digits)


def _machine(hints):
    return load_machine(hints.machine, **({"n_ipus": hints.n_ipus} if hints.n_ipus else {}))


def test_generated_files_are_up_to_date():
    rendered = gen.render_all()
    assert sorted(rendered) == sorted(p.name for p in FILES if p.name not in gen.HAND_WRITTEN)
    for name, text in rendered.items():
        assert (MODELS / name).read_text() == text, f"{name} is stale: run python models/snn/generate.py"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_model_loads(path):
    spec, hints = load_snn_model(path)
    assert spec.name == path.stem
    assert spec.batch_size % 6 == 0  # the lowering's batch rule
    assert hints.machine == "bow"
    k = hints.neurons_per_tile or 2
    # hidden widths are multiples of k, so every layer fills its tiles
    assert all(n % k == 0 for n in spec.layer_sizes[1:-1])


def test_split_hidden():
    assert gen.split_hidden(2932, 2, 2) == [1466, 1466]
    assert gen.split_hidden(2932, 4, 2) == [734, 734, 732, 732]
    assert gen.split_hidden(23520, 24, 16) == [992] * 6 + [976] * 18
    with pytest.raises(ValueError):
        gen.split_hidden(2933, 3, 2)


# --- family (a): GSNN runfiles and BS @ 3e05811 (benchmark configurations) (a) ---------------------------------------------


@pytest.mark.parametrize(
    ("hidden", "sizes", "weights_m"),
    [
        (2, [2312, 1466, 1466, 10], 5.55),
        (3, [2312, 978, 978, 976, 10], 4.18),
        (4, [2312, 734, 734, 732, 732, 10], 3.32),
        (5, [2312, 588, 586, 586, 586, 586, 10], 2.74),
    ],
)
def test_family_a_sizes(hidden, sizes, weights_m):
    spec, _ = _load(f"nmnist_a_{hidden}hidden")
    assert list(spec.layer_sizes) == sizes
    assert _m(spec.n_weights / 1e6, 2) == weights_m
    assert (spec.batch_size, spec.n_timesteps, spec.input_sparse_size, spec.optimizer) == (48, 100, 32, "adam")


def test_family_a_sparse_sizes_at_paper_activities():
    # The table's 0.01 column: 14 / 8 / 6 / 4 (first hidden layer), output 2.
    for h, s in zip((2, 3, 4, 5), (14, 8, 6, 4), strict=True):
        spec, _ = _load(f"nmnist_a_{h}hidden")
        assert spec.sparse_sizes[1] == s and spec.sparse_sizes[-1] == 2


# --- family (b): GSNN runfiles and BS @ 3e05811 (benchmark configurations) (b) ---------------------------------------------

# k -> (hidden layers, hidden + output neurons, NMNIST weights (M), SHD weights (M))
B_TABLE = {
    2: (3, 2942, 3.05, 2.60),
    4: (6, 5882, 5.93, 5.48),
    8: (12, 11762, 11.7, 11.2),
    16: (24, 23530, 23.2, 22.8),
    32: (48, 47050, 46.3, 45.9),
}


@pytest.mark.parametrize("k", sorted(B_TABLE))
def test_family_b_sizes(k):
    n_hidden, neurons, w_nmnist, _ = B_TABLE[k]
    spec, hints = _load(f"nmnist_b_k{k}")
    assert len(spec.layers) - 1 == n_hidden
    # the table's "hidden neurons" column counts the 10 output neurons too (2932 + 10 = 2942)
    assert sum(spec.layer_sizes[1:]) == neurons
    digits = 2 if k <= 4 else 1
    assert _m(spec.n_weights / 1e6, digits) == w_nmnist
    assert all(900 <= n <= 1000 for n in spec.layer_sizes[1:-1])  # width about 980
    assert (spec.n_inputs, spec.input_sparse_size, spec.batch_size, spec.n_timesteps, spec.optimizer) == (1152, 32, 24, 10, "sgd")
    assert hints.neurons_per_tile == k


@pytest.mark.parametrize("k", sorted(B_TABLE))
def test_family_b_rule_reproduces_shd_weights(k):
    # only k = 2 has a file (shd_b_k2); the rule must give the table's SHD weights for every k
    (model,) = gen.family_b(gen.SHD, "shd", "shd", (k,))
    digits = 2 if k <= 4 else 1
    assert _m(model.n_weights / 1e6, digits) == B_TABLE[k][3]


def test_shd_b_k2_file():
    spec, hints = _load("shd_b_k2")
    assert list(spec.layer_sizes) == [700, 974, 974, 974, 20]
    assert _m(spec.n_weights / 1e6, 2) == 2.60
    assert (spec.input_sparse_size, spec.batch_size, spec.n_timesteps, hints.neurons_per_tile) == (48, 24, 10, 2)


# --- family (c): GSNN runfiles and BS @ 3e05811 (benchmark configurations) (c) ---------------------------------------------

# n_ipu -> (layers incl. output, hidden neurons (k), weights (M)) for k = 2, NMNIST
C_TABLE = {1: (4, 2.9, 3.0), 2: (7, 5.9, 5.9), 4: (13, 11.8, 11.7), 8: (25, 23.5, 23.2), 16: (49, 47.1, 46.3)}


@pytest.mark.parametrize("n", sorted(C_TABLE))
def test_family_c_sizes(n):
    layers, hidden_k, weights_m = C_TABLE[n]
    spec, hints = _load(f"nmnist_c_{n}ipu")
    assert len(spec.layers) == layers
    assert _m(sum(spec.layer_sizes[1:-1]) / 1e3, 1) == hidden_k
    assert _m(spec.n_weights / 1e6, 1) == weights_m
    assert (hints.n_ipus, hints.neurons_per_tile) == (n, 2)
    assert (spec.n_inputs, spec.input_sparse_size, spec.batch_size, spec.n_timesteps) == (1152, 32, 24, 10)


@pytest.mark.parametrize(
    ("k", "layers", "hidden_k", "max_weights_m"),
    [
        (4, (7, 13, 25, 49, 97), (5.9, 11.8, 23.5, 47.1, 94.1), 92.5),
        (8, (13, 25, 49, 97, 193), (11.8, 23.5, 47.1, 94.1, 188.3), 184.8),
    ],
)
def test_family_c_rule_for_larger_k(k, layers, hidden_k, max_weights_m):
    # no files for k = 4, 8; the per-IPU rule must still give the table's rows
    for n, n_layers, hk in zip(gen.C_IPUS, layers, hidden_k, strict=True):
        hidden = [w for g in gen.hidden_per_ipu(n, 3 * k // 2, k, 10) for w in g]
        assert len(hidden) + 1 == n_layers
        assert _m(sum(hidden) / 1e3, 1) == hk
    hidden = [w for g in gen.hidden_per_ipu(16, 3 * k // 2, k, 10) for w in g]
    sizes = [1152, *hidden, 10]
    weights = sum(a * b for a, b in itertools.pairwise(sizes))
    assert _m(weights / 1e6, 1) == max_weights_m


# --- other datasets -------------------------------------------------------------------


def test_shd_a_2hidden():
    spec, _hints = _load("shd_a_2hidden")
    assert list(spec.layer_sizes) == [700, 1462, 1460, 20]
    assert (spec.input_sparse_size, spec.batch_size, spec.n_timesteps, spec.dataset) == (48, 48, 100, "shd")


def test_dvsgesture():
    spec, _ = _load("dvsgesture_d_1ipu")
    assert list(spec.layer_sizes) == [4608, 1470, 1076, 384, 11]  # (d)'s DVSGesture sizes at one IPU
    assert (spec.input_sparse_size, spec.batch_size, spec.n_timesteps, spec.dataset) == (96, 48, 50, "dvsgesture")


# --- mapping ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_model_maps(path):
    spec, hints = load_snn_model(path)
    machine = _machine(hints)
    mapping = partition_layers(
        spec.layer_sizes[1:], machine.tiles_per_ipu, machine.n_ipus, neurons_per_tile=hints.neurons_per_tile
    )
    assert mapping.neurons_per_tile == (hints.neurons_per_tile or 2)
    assert mapping.n_ipus_used == machine.n_ipus
    # the sizes fill IPU 0 exactly: its 1471 usable tiles are all used
    used0 = sum(lp.n_tiles for lp in mapping.layers if lp.ipu == 0)
    assert used0 == machine.tiles_per_ipu - 1


@pytest.mark.parametrize("n", sorted(C_TABLE))
def test_family_c_three_hidden_layers_per_ipu(n):
    spec, hints = _load(f"nmnist_c_{n}ipu")
    machine = _machine(hints)
    mapping = partition_layers(spec.layer_sizes[1:], machine.tiles_per_ipu, machine.n_ipus, neurons_per_tile=2)
    ipus = [lp.ipu for lp in mapping.layers]
    assert ipus[:-1] == [i for i in range(n) for _ in range(3)]  # 3 hidden layers per IPU, in order
    assert ipus[-1] == n - 1  # the output layer on the last IPU
    last = sum(lp.n_tiles for lp in mapping.layers if lp.ipu == n - 1)
    assert last == (1471 if n == 1 else 1472)  # the last IPU is full too


def test_multi_ipu_smoke_estimate():
    spec, hints = _load("nmnist_c_2ipu")
    est = estimate_training_step(spec, _machine(hints), engine="fast", neurons_per_tile=hints.neurons_per_tile)
    assert est.mapping.n_ipus_used == 2
    assert not est.oom_tiles
    assert est.cycles_per_step == sum(est.breakdown_cycles.values())
    assert est.breakdown_cycles["global_exchange"] > 0  # spikes cross the IPU boundary
    assert 0 < est.ms_per_step < 100
