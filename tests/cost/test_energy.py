"""Energy per step (mimdsim.cost.energy, mimdsim.studies.energy): hand-computed cases, the bounds every estimate keeps,
and the presets' bands on real steps (docs/energy.md)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mimdsim import ProgramBuilder, load_machine, simulate
from mimdsim.cost.energy import EnergyBand, EnergyTriple, gpu_energy_band, ipu_energy_band, ipu_step_energy_j, ratio_band
from mimdsim.errors import ConfigError
from mimdsim.snn.model.spec import snn_from_sizes
from mimdsim.studies.energy import ipu_step_energy, step_energy
from mimdsim.studies.estimate import estimate_training_step


def test_hand_computed_corners() -> None:
    # 2 IPUs x 50 W x 2 ms = 0.2 J; 1e9 busy tile-cycles x 30 pJ = 0.03 J; 1e8 received bytes x 12 pJ = 1.2 mJ;
    # 1e7 link bytes x 25 pJ = 0.25 mJ
    assert ipu_step_energy_j(2e-3, 2, 50, 300, 1e9, 1e8, 1e7, 30, 12, 25) == pytest.approx(0.2 + 0.03 + 0.0012 + 0.00025)
    # machine scope: each IPU's system share on top, for the whole step
    assert ipu_step_energy_j(2e-3, 2, 50, 300, 0, 0, 0, 30, 12, 25, system_w=40) == pytest.approx(2 * 90 * 2e-3)
    band = gpu_energy_band(
        0.01, EnergyTriple(60, 76, 100), 400, 1e9, 1e12, EnergyTriple(30, 50, 100), EnergyTriple(0.5, 1.2, 2.5)
    )
    assert (band.low, band.central, band.high) == pytest.approx((0.6 + 0.03 + 0.5, 0.76 + 0.05 + 1.2, 1.0 + 0.1 + 2.5))
    assert band.watts("central") == pytest.approx(201.0)
    assert ratio_band(EnergyBand(4, 6, 8, 1), EnergyBand(1, 2, 4, 1)) == (1.0, 3.0, 8.0)


def test_triples_are_ordered_and_refused_otherwise() -> None:
    with pytest.raises(ValueError, match="low <= central <= high"):
        EnergyTriple(3, 2, 1)
    with pytest.raises(Exception, match=r"ipu_base_power_w.*low, central, high"):
        load_machine("bow", ipu_base_power_w=(60.0, 50.0, 70.0))
    with pytest.raises(Exception, match="exceeds ipu_max_power_w"):
        load_machine("bow", ipu_max_power_w=80.0)


@settings(max_examples=200, deadline=None)
@given(
    t=st.floats(1e-6, 1.0), n=st.integers(1, 64), base=st.floats(0, 100), span=st.floats(0, 400),
    busy=st.floats(0, 1e15), recv=st.floats(0, 1e15), link=st.floats(0, 1e15),
)  # fmt: skip
def test_the_ipu_band_stays_between_base_and_max_power(
    t: float, n: int, base: float, span: float, busy: float, recv: float, link: float
) -> None:
    band = ipu_energy_band(t, n, EnergyTriple(base * 0.8, base * 0.9, base), base + span, busy, recv, link, EnergyTriple(10, 30, 60),
                           EnergyTriple(5, 12, 30), EnergyTriple(8, 25, 80))  # fmt: skip
    assert band.low <= band.central <= band.high
    assert n * base * 0.8 * t * (1 - 1e-12) <= band.low
    assert band.high <= n * (base + span) * t * (1 + 1e-12)


def _empty_step(machine_name: str = "mk2", n_ipus: int = 2) -> tuple[object, object, object]:
    m = load_machine(machine_name, n_ipus=n_ipus)
    b = ProgramBuilder("idle", batch_size=1)
    b.superstep("nothing")
    p = b.build()
    return m, p, simulate(p, m, "fast")


def test_no_activity_gives_exactly_base_power_times_time() -> None:
    m, p, res = _empty_step()
    t = 1e-3  # any time the step is charged over
    band = ipu_step_energy(res, p, m, t)  # type: ignore[arg-type]
    assert band is not None
    lo, mid, hi = m.ipu_base_power_w  # type: ignore[attr-defined,misc]
    assert (band.low, band.central, band.high) == pytest.approx((2 * lo * t, 2 * mid * t, 2 * hi * t))
    machine = ipu_step_energy(res, p, m, t, "machine")  # type: ignore[arg-type]
    assert machine is not None and machine.central == pytest.approx(2 * (mid + m.system_power_w[1]) * t)  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="energy scope 'rack'"):
        ipu_step_energy(res, p, m, t, "rack")  # type: ignore[arg-type]


def test_a_full_rate_program_on_mk2_lands_near_the_chips_power() -> None:
    """Every tile busy every cycle and receiving 4 B per cycle for 1 ms: 54 W + 1472 x 1.325e9 x 1e-3 x (30 pJ +
    4 x 12 pJ) ~ 206 W central, inside the 200-330 W a GC200 draws at full load; the high corner stops at 300 W."""
    m = load_machine("mk2")
    cycles = int(m.tile_clock_hz * 1e-3)
    b = ProgramBuilder("full rate", batch_size=1)
    ex = b.exchange("all to all")
    tiles = np.arange(m.tiles_per_ipu)
    ex.send_many(tiles, np.roll(tiles, 1), 4 * cycles)
    b.superstep("work", exchange=ex, compute=b.compute_set("work").add("V", range(m.tiles_per_ipu), supervisor_cycles=cycles))
    p = b.build()
    res = simulate(p, m, "fast", check_memory_fits=False)
    band = ipu_step_energy(res, p, m, 1e-3)
    assert band is not None
    assert 200 <= band.watts("central") <= 330
    assert band.watts("high") == pytest.approx(300.0)  # the cap


def test_an_snn_estimate_reports_both_bands_and_the_ratio() -> None:
    spec = snn_from_sizes([64, 24, 24, 4], max_activity=0.25, input_sparse_size=8, batch_size=6, n_timesteps=3)
    m = load_machine("bow", tiles_per_ipu=64, n_ipus=2)
    est = estimate_training_step(spec, m, activity_source="saturated", gpu="a100")
    e = est.energy()
    assert e.ipu is not None and e.gpu is not None and e.ratio is not None
    t = est.seconds_per_step
    assert 2 * 46.0 * t <= e.ipu.low <= e.ipu.central <= e.ipu.high <= 2 * 300.0 * t  # both allocated IPUs, one used
    assert e.gpu.low >= 63.0 * est.gpu.step_s  # type: ignore[union-attr]
    rec = est.record().to_dict()
    assert rec["energy_scope"] == "chip" and rec["ipu_energy_central_j"] == pytest.approx(e.ipu.central)
    assert rec["gpu_ipu_energy_ratio_low"] == pytest.approx(e.gpu.low / e.ipu.high)
    assert rec["gpu_ipu_energy_ratio_robust"] == (e.ratio[0] > 1 or e.ratio[2] < 1)
    machine = estimate_training_step(spec, m, activity_source="saturated", energy_scope="machine")
    assert machine.energy().ipu.central > e.ipu.central and machine.input_hash != est.input_hash  # type: ignore[union-attr]
    assert machine.record().to_dict()["gpu_energy_central_j"] is None  # no GPU asked for
    with pytest.raises(ConfigError, match="energy_scope: 'board'"):
        estimate_training_step(spec, m, energy_scope="board")


def test_a_machine_without_energy_parameters_reports_none() -> None:
    spec = snn_from_sizes([64, 24, 24, 4], max_activity=0.25, input_sparse_size=8, batch_size=6, n_timesteps=3)
    m = load_machine("bow", tiles_per_ipu=64, ipu_base_power_w=None)
    est = estimate_training_step(spec, m, activity_source="saturated")
    assert est.energy().ipu is None and est.record().to_dict()["ipu_energy_central_j"] is None
    assert step_energy(est.result, None, m, 1.0).ipu is None
