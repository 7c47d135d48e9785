"""An snnTorch network end to end (run where torch and snntorch are installed, skipped otherwise): exported to NIR
and estimated by mimdsim, and its recorded spikes used as the activity."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
snn = pytest.importorskip("snntorch")
nir = pytest.importorskip("nir")


def _net() -> object:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(64, 32), snn.Leaky(beta=0.95, init_hidden=True),
        torch.nn.Linear(32, 4), snn.Leaky(beta=0.95, init_hidden=True, output=True),
    )  # fmt: skip


def test_an_snntorch_network_exported_to_nir_is_estimated(monkeypatch: pytest.MonkeyPatch) -> None:
    """snnTorch exports a Leaky of beta as a LIF with tau = dt / (1 - beta) at its dt of 1e-4 s (snnTorch 1.0.0, nir 1.0.8,
    nirtorch 2.6). Its export fails nir's own type inference (the Leaky node's input type is left empty), so that is
    switched off here; and nir.write cannot store its scalar parameters, so the graph is passed in memory."""
    from snntorch.export_nir import export_to_nir

    from mimdsim import load_machine
    from mimdsim.snn import snn_from_nir
    from mimdsim.studies import estimate_training_step

    monkeypatch.setattr(nir.NIRGraph, "infer_types", lambda self: None)
    graph = export_to_nir(_net(), torch.zeros(1, 64))
    spec = snn_from_nir(graph, dt=1e-4, batch_size=6, n_timesteps=10, max_activity=0.25, input_sparse_size=8)
    assert spec.layer_sizes == (64, 32, 4) and spec.decay == pytest.approx(0.95, abs=2e-3)  # exp(-(1 - beta)) ~ beta
    est = estimate_training_step(spec, load_machine("bow", tiles_per_ipu=64))
    assert est.ms_per_step > 0


def test_recorded_snntorch_spikes_are_an_activity() -> None:
    from mimdsim import load_machine
    from mimdsim.snn import activity_from_spikes, snn_from_sizes
    from mimdsim.studies import estimate_training_step

    net = _net()
    T, B = 10, 6
    rng = np.random.default_rng(0)
    x = torch.tensor((rng.random((T, B, 64)) < 0.1).astype(np.float32))
    hidden, out = [], []
    for t in range(T):
        h = net[1](net[0](x[t]))
        spk, _ = net[3](net[2](h))
        hidden.append(h.detach().numpy())
        out.append(spk.detach().numpy())
    spec = snn_from_sizes([64, 32, 4], max_activity=0.25, input_sparse_size=8, batch_size=B, n_timesteps=T)
    act = activity_from_spikes(spec, [x.numpy(), np.stack(hidden), np.stack(out)])
    est = estimate_training_step(spec, load_machine("bow", tiles_per_ipu=64), activity_source=act)
    assert est.activity is act and est.ms_per_step > 0
