"""NIR graphs (written and read by the real ``nir`` package) as SNN specs: sizes, decay from tau and dt, the
density of a sparse weight matrix, and a one-line refusal for every structure the sparse algorithm cannot run."""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mimdsim.errors import ConfigError
from mimdsim.snn.model.nir import snn_from_nir

nir = pytest.importorskip("nir")


def _lif(n: int, tau: float = 0.02, thr: float = 1.0) -> object:
    return nir.LIF(tau=np.full(n, tau), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.full(n, thr))


def _graph(sizes: list[int], *, w1: np.ndarray | None = None, neuron: object = None, extra_edges: tuple = ()) -> object:
    rng = np.random.default_rng(0)
    nodes: dict[str, object] = {"input": nir.Input(input_type=np.array([sizes[0]]))}
    edges: list[tuple[str, str]] = []
    prev = "input"
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        w = w1 if (i == 0 and w1 is not None) else rng.normal(0, 0.3, (b, a))
        nodes[f"fc{i}"] = nir.Affine(weight=w, bias=np.zeros(b))
        nodes[f"lif{i}"] = neuron if (i == 0 and neuron is not None) else _lif(b)
        edges += [(prev, f"fc{i}"), (f"fc{i}", f"lif{i}")]
        prev = f"lif{i}"
    nodes["output"] = nir.Output(output_type=np.array([sizes[-1]]))
    edges.append((prev, "output"))
    return nir.NIRGraph(nodes=nodes, edges=[*edges, *extra_edges], type_check=False)


def test_a_graph_round_tripped_through_its_file_keeps_its_sizes(tmp_path: Path) -> None:
    path = tmp_path / "net.nir"
    nir.write(str(path), _graph([64, 32, 4]))
    spec = snn_from_nir(path, batch_size=6, n_timesteps=3, max_activity=0.25, input_sparse_size=8)
    assert spec.layer_sizes == (64, 32, 4) and spec.sparse_sizes == (8, 8, 2) and spec.name == "net"
    assert spec.decay == pytest.approx(math.exp(-1e-3 / 0.02)) and spec.threshold == 1.0
    assert snn_from_nir(path, dt=2e-3).decay == pytest.approx(math.exp(-2e-3 / 0.02))
    assert snn_from_nir(path, max_activity=0.5).input_sparse_size == 32  # from the activity when not given


def test_zeros_in_a_weight_matrix_give_the_connection_mask() -> None:
    from mimdsim.snn.model.connectivity import connection_mask

    w = np.zeros((32, 64))
    w[:, :16] = 1.0  # a quarter of the synapses: every neuron fed by inputs 0-15
    w[3, 40] = -2.0
    spec = snn_from_nir(_graph([64, 32, 4], w1=w))
    mask = connection_mask(spec, 0)
    assert mask is not None and mask.shape == (64, 32) and mask.tolist() == (w != 0).T.tolist()
    assert connection_mask(spec, 1) is None  # a dense matrix: no mask


def test_an_instantaneous_cuba_lif_is_a_lif() -> None:
    cuba = nir.CubaLIF(
        tau_syn=np.full(32, 1e-4), tau_mem=np.full(32, 0.02), r=np.ones(32), v_leak=np.zeros(32), v_threshold=np.ones(32)
    )
    assert snn_from_nir(_graph([64, 32, 4], neuron=cuba)).decay == pytest.approx(math.exp(-1e-3 / 0.02))


@pytest.mark.parametrize(
    ("graph", "message"),
    [
        (lambda: _graph([64, 32, 4], neuron=nir.IF(r=np.ones(32), v_threshold=np.ones(32))), r"node 'lif0' \(IF\): an IF neuron has no leak"),
        (lambda: _graph([64, 32, 4], extra_edges=(("lif1", "fc1"),)), r"node 'fc1': 2 inputs \(a merge\)"),
        (lambda: _graph([64, 32, 4], extra_edges=(("lif0", "output"),)), r"node 'lif0': 2 outputs \(a branch\)"),
        (lambda: _graph([64, 32, 4], neuron=_lif(32, tau=0.05)), r"the layers differ in decay \(tau\) \(lif0 0\.98.*lif1 0\.95"),
        (lambda: _graph([64, 32, 4], neuron=nir.LIF(tau=np.linspace(0.01, 0.02, 32), r=np.ones(32), v_leak=np.zeros(32), v_threshold=np.ones(32))),
         r"node 'lif0': tau differs between neurons \(0\.01 to 0\.02\)"),
        (lambda: _graph([64, 32, 4], neuron=nir.CubaLIF(tau_syn=np.full(32, 5e-3), tau_mem=np.full(32, 0.02), r=np.ones(32),
                                                        v_leak=np.zeros(32), v_threshold=np.ones(32))), r"tau_syn 0\.005 s > dt 0\.001 s"),
        (lambda: _graph([64, 32, 4], neuron=nir.LIF(tau=np.full(32, 0.02), r=np.ones(32), v_leak=np.full(32, 0.1), v_threshold=np.ones(32))),
         r"node 'lif0': v_leak must be 0"),
        (lambda: _graph([64, 32, 4], w1=np.zeros((32, 64))), r"layer 0 \(32 neurons\) has an all-zero weight matrix"),
    ],
)  # fmt: skip
def test_what_the_sparse_algorithm_cannot_run_is_refused_naming_the_node(graph: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        snn_from_nir(graph())  # type: ignore[operator]


def test_bad_files_and_arguments(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="none.nir: file not found"):
        snn_from_nir(tmp_path / "none.nir")
    junk = tmp_path / "junk.nir"
    junk.write_bytes(b"not hdf5")
    with pytest.raises(ConfigError, match="junk.nir: not a readable NIR graph"):
        snn_from_nir(junk)
    with pytest.raises(ConfigError, match="dt must be a positive number"):
        snn_from_nir(_graph([8, 4]), dt=0)
    with pytest.raises(ConfigError, match="expected a nir.NIRGraph or a .nir file"):
        snn_from_nir(42)


def test_the_cli_estimates_a_nir_file(tmp_path: Path) -> None:
    path = tmp_path / "g.nir"
    nir.write(str(path), _graph([64, 32, 4]))
    p = subprocess.run(
        [sys.executable, "-m", "mimdsim", "snn", str(path), "--batch", "6", "--timesteps", "3", "--activity", "0.25", "--input-sparse-size", "8",
         "--set", "tiles_per_ipu=64", "--json"], capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["layers"] == [64, 32, 4]
    bad = tmp_path / "if.nir"
    nir.write(str(bad), _graph([64, 32, 4], neuron=nir.IF(r=np.ones(32), v_threshold=np.ones(32))))
    p = subprocess.run([sys.executable, "-m", "mimdsim", "snn", str(bad)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "(IF): an IF neuron has no leak" in p.stderr


def test_a_convolution_becomes_local_receptive_fields() -> None:
    """Conv2d 2 -> 4 channels, 3 x 3, stride 2, padding 1 on 2 x 8 x 8: a layer of 4 x 4 x 4 = 64 neurons with
    local2d fields of 3 x 3 windows over both input channels; Flatten, then a dense readout."""
    rng = np.random.default_rng(0)
    conv = nir.Conv2d(
        input_shape=(8, 8), weight=rng.normal(0, 1, (4, 2, 3, 3)), stride=2, padding=1, dilation=1, groups=1, bias=np.zeros(4)
    )
    nodes = {"input": nir.Input(input_type=np.array([2, 8, 8])), "conv": conv, "lif0": _lif(64), "flat": nir.Flatten(input_type={"input": np.array([4, 4, 4])}),
             "fc": nir.Linear(weight=rng.normal(0, 1, (10, 64))), "lif1": _lif(10), "output": nir.Output(output_type=np.array([10]))}  # fmt: skip
    edges = [("input", "conv"), ("conv", "lif0"), ("lif0", "flat"), ("flat", "fc"), ("fc", "lif1"), ("lif1", "output")]
    spec = snn_from_nir(nir.NIRGraph(nodes=nodes, edges=edges, type_check=False), max_activity=0.1)
    assert spec.layer_sizes == (128, 64, 10)
    conn = spec.layers[0].connectivity
    assert conn is not None and (conn.in_shape, conn.out_shape, conn.kernel) == ((8, 8, 2), (4, 4, 4), (3, 3))
    from mimdsim.snn.model.connectivity import connection_mask

    mask = connection_mask(spec, 0)
    assert mask is not None and set(mask.sum(axis=0).tolist()) <= {8, 12, 18}  # 3 x 3 x 2 inside, clipped at the border
    grouped = nir.Conv2d(
        input_shape=(8, 8), weight=np.ones((4, 1, 3, 3)), stride=1, padding=1, dilation=1, groups=2, bias=np.zeros(4)
    )
    with pytest.raises(ConfigError, match="grouped convolutions"):
        snn_from_nir(nir.NIRGraph(nodes={**nodes, "conv": grouped}, edges=edges, type_check=False))
    with pytest.raises(ConfigError, match=r"node 'conv': a Conv2d needs an input of shape \[C, H, W\]"):
        snn_from_nir(nir.NIRGraph(nodes={**nodes, "input": nir.Input(input_type=np.array([128]))}, edges=edges, type_check=False))
