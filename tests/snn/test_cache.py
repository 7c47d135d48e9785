"""What a warm process keeps (mimdsim.snn.activity.cache, mimdsim.program.memo): the same figures as a
cold call, the lowering's machine fields really are the ones listed, the disk cache is keyed
and falls back to recomputing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import mimdsim.snn.activity.counts as activity_module
from mimdsim.arch import load_machine
from mimdsim.arch.spec import MachineSpec
from mimdsim.partition import partition_layers
from mimdsim.program.serialize import program_to_dict
from mimdsim.snn.activity import cache
from mimdsim.snn.lowering.lower import lower_snn
from mimdsim.snn.model.spec import snn_from_sizes
from mimdsim.studies.estimate import estimate_training_step, saturated_activity

SPEC = snn_from_sizes([64, 24, 24, 4], max_activity=0.25, input_sparse_size=8, batch_size=6, n_timesteps=3, name="cache-test")


def _machine(**kw: object) -> MachineSpec:
    return load_machine("bow", tiles_per_ipu=32, **kw)  # type: ignore[arg-type]


def _figures(est: object) -> tuple[object, ...]:
    r = est.result  # type: ignore[attr-defined]
    return (
        r.total_cycles,
        r.tile_compute_cycles.tolist(),
        r.tile_exchange_cycles.tolist(),
        r.tile_sync_cycles.tolist(),
        r.supersteps,
    )


# every machine field the lowering does not read, changed
OTHER_FIELDS = {
    "tile_clock_hz": 1.0e9, "compute_set_overhead_cycles": 7, "worker_launch_cycles": 3, "exchange_bytes_per_cycle": 8,
    "exchange_overhead_cycles": 9, "exchange_message_cycles": 2, "exchange_transit_cycles": 4, "min_ipu_sync_delay": 5,
    "max_ipu_sync_delay": 6, "global_sync_cycles": 70, "global_sync_hop_cycles": 3, "link_bytes_per_s": 3e9,
    "link_latency_cycles": 9, "link_message_cycles": 11, "host_bytes_per_s": 4e9, "ipu_base_power_w": (1.0, 2.0, 3.0),
    "ipu_max_power_w": 99.0, "busy_tile_cycle_pj": (1.0, 1.0, 1.0), "exchange_byte_pj": (2.0, 2.0, 2.0), "link_byte_pj": None, "system_power_w": None, "host_overhead_cycles": 8, "memory_bytes_per_tile": 1 << 20,
    "supports_supertile_send_receive": False, "link_topology": "ladder", "links_per_ipu_pair": 2, "execution_overhead_s": 0.01,
}  # fmt: skip


def test_the_lowering_reads_no_other_machine_field() -> None:
    """Two machines that agree on LOWERING_MACHINE_FIELDS give the same program, so a kept program is right for both."""
    a, b = _machine(), _machine(**OTHER_FIELDS)
    untouched = {"name", "description"}
    assert set(OTHER_FIELDS) | set(cache.LOWERING_MACHINE_FIELDS) | untouched == set(MachineSpec.model_fields)
    act = saturated_activity(SPEC)
    progs = [
        program_to_dict(lower_snn(SPEC, m, partition_layers(SPEC.layer_sizes[1:], m.tiles_per_ipu, m.n_ipus), act))
        for m in (a, b)
    ]
    assert progs[0] == progs[1]


@pytest.mark.parametrize("engine", ["fast", "des"])
def test_re_estimating_on_other_machines_gives_the_cold_figures(engine: str) -> None:
    cache.clear()
    machines = [_machine(), _machine(**OTHER_FIELDS), _machine(exchange_bytes_per_cycle=2), _machine()]
    warm = [_figures(estimate_training_step(SPEC, m, engine=engine)) for m in machines]
    cold = [_figures(estimate_training_step(SPEC, m, engine=engine, cache=False)) for m in machines]
    assert warm == cold
    assert warm[0] != warm[1]  # the what-if changed something


def test_a_kept_program_is_reused_only_for_the_same_lowering_inputs() -> None:
    cache.clear()
    a = estimate_training_step(SPEC, _machine())
    assert estimate_training_step(SPEC, _machine(tile_clock_hz=1e9)).program is a.program
    assert estimate_training_step(SPEC, _machine(memcpy_bytes_per_cycle=4)).program is not a.program
    assert estimate_training_step(SPEC, _machine(), neurons_per_tile=4).program is not a.program


def test_functional_activity_is_read_back_from_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIMDSIM_CACHE_DIR", str(tmp_path))
    cache.clear()
    first = cache.cached_functional_activity(SPEC, 3)
    files = list((tmp_path / "activity").glob("*.npz"))
    assert len(files) == 1
    cache.clear()

    def fail(*_a: object, **_k: object) -> None:
        raise AssertionError("the functional model ran although its activity was on disk")

    monkeypatch.setattr(cache, "functional_activity", fail)
    again = cache.cached_functional_activity(SPEC, 3)
    assert all(np.array_equal(x, y) for x, y in zip(first.true_counts, again.true_counts, strict=True))
    assert all(np.array_equal(x, y) for x, y in zip(first.valid_counts, again.valid_counts, strict=True))
    monkeypatch.setattr(cache, "functional_activity", activity_module.functional_activity)
    cache.clear()
    other = cache.cached_functional_activity(SPEC, 4)  # another seed: another file
    assert len(list((tmp_path / "activity").glob("*.npz"))) == 2 and other is not again


def test_cache_files_are_stored_not_deflated_and_read_back_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache writes its traces without deflating them (a sweep reads one per point); a trace written either way
    reads back to the same arrays, the optional per-neuron counts and spike ids included."""
    import zipfile

    from mimdsim.snn.activity.trace_v1 import load_activity, save_activity

    monkeypatch.setenv("MIMDSIM_CACHE_DIR", str(tmp_path))
    cache.clear()
    act = cache.cached_functional_activity(SPEC, 7)
    (path,) = (tmp_path / "activity").glob("*.npz")
    with zipfile.ZipFile(path) as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_STORED}
    save_activity(tmp_path / "deflated.npz", act)
    with zipfile.ZipFile(tmp_path / "deflated.npz") as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_DEFLATED}
    stored, deflated = load_activity(path), load_activity(tmp_path / "deflated.npz")
    assert act.spike_ids is not None and act.neuron_counts is not None
    for name in ("true_counts", "valid_counts", "neuron_counts", "spike_ids"):
        for x, y, z in zip(getattr(act, name), getattr(stored, name), getattr(deflated, name), strict=True):
            assert np.array_equal(x, y) and np.array_equal(x, z), name
    assert stored.sparse_sizes == deflated.sparse_sizes == act.sparse_sizes


def test_a_damaged_cache_file_is_recomputed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIMDSIM_CACHE_DIR", str(tmp_path))
    cache.clear()
    want = cache.cached_functional_activity(SPEC, 5)
    (path,) = (tmp_path / "activity").glob("*.npz")
    path.write_bytes(b"not an npz")
    cache.clear()
    got = cache.cached_functional_activity(SPEC, 5)
    assert all(np.array_equal(x, y) for x, y in zip(want.true_counts, got.true_counts, strict=True))
    assert path.stat().st_size > 100  # rewritten


def test_the_disk_cache_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIMDSIM_CACHE_DIR", "off")
    cache.clear()
    assert cache.cache_dir() is None
    cache.cached_functional_activity(SPEC, 6)
    monkeypatch.setenv("MIMDSIM_CACHE_DIR", str(tmp_path))
    assert cache.cache_dir() == tmp_path and not (tmp_path / "activity").exists()


def test_the_disk_key_changes_with_every_spec_field() -> None:
    paths = {cache._disk_path(SPEC, 0, None)}
    for change in ({"batch_size": 12}, {"n_timesteps": 4}, {"weight_mul": 4.0}, {"second_threshold": 0.5}, {"decay": 0.9}):
        paths.add(cache._disk_path(SPEC.model_copy(update=change), 0, None))
    paths.add(cache._disk_path(SPEC, 1, None))
    paths.add(cache._disk_path(SPEC, 0, 0.02))
    assert len(paths) == 8


def test_lru_keeps_the_most_recent() -> None:
    lru = cache._LRU(2)
    made: list[int] = []
    for key in (1, 2, 1, 3, 2):
        lru.get(key, lambda key=key: made.append(key) or key)
    assert made == [1, 2, 3, 2]  # 1 was used again before 3 came, so 2 went first


@pytest.mark.parametrize("engine", ["fast", "des"])
def test_an_estimate_leaves_no_program_object_to_the_garbage_collector(engine: str) -> None:
    """Everything an estimate made and dropped (pass intermediates, walks over the program, its record and saved form)
    is freed by reference counting: none of it sits in a reference cycle that, with the relaxed collector thresholds
    of a sweep, would keep the arrays alive for many points (a 100-point sweep peaked at 930 MB instead of 260 MB)."""
    import gc

    from mimdsim.program.exchange import Exchange
    from mimdsim.program.ir import ComputeSet, Program, Superstep, VertexBlock

    program_types = (VertexBlock, ComputeSet, Exchange, Superstep, Program)
    estimate_training_step(SPEC, _machine(n_ipus=2), engine=engine, cache=False)  # imports, numba: not in the count
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        est = estimate_training_step(SPEC, _machine(n_ipus=2), engine=engine, cache=False)
        est.record().to_dict()
        est.energy()
        program_to_dict(est.program)
        del est
        gc.collect()
        left = [type(o).__name__ for o in gc.garbage if isinstance(o, program_types)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if enabled:
            gc.enable()
    assert left == []
