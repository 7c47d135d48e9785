"""GPU framework profiles: loop kernel counts and each profile's terms on hand-computed cases."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mimdsim.errors import ConfigError
from mimdsim.snn.gpu.frameworks import FRAMEWORKS, PROFILES, loop_kernel_counts, profile
from mimdsim.snn.gpu.model import GPUSpec, estimate_gpu_step, gpu_kernel_list
from mimdsim.snn.model.spec import SNNSpec, snn_from_sizes


def net(sizes: list[int], b: int = 2, t: int = 2) -> SNNSpec:
    return snn_from_sizes(sizes, max_activity=0.5, input_sparse_size=1, batch_size=b, n_timesteps=t)


def gpu(rate: float) -> GPUSpec:
    """Every peak equal to ``rate`` (FLOP/s and B/s), 0.5 s per launch (used by ``fused`` only)."""
    return GPUSpec(
        name="unit",
        fp32_flops_per_s=rate,
        tf32_flops_per_s=rate,
        hbm_bytes_per_s=rate,
        n_sms=1,
        memory_bytes=1,
        kernel_latency_s=0.5,
    )


@pytest.mark.parametrize("sizes", [[4, 3, 2], [5, 4, 3, 2], [2312, 1466, 1466, 10]])
def test_loop_kernels_per_time_step(sizes: list[int]) -> None:
    """Forward 3 + 5L per iteration (3 + 3L loop kernels, GEMM and LIF per layer); gradient 3 + 5L - 1."""
    spec, n_layers = net(sizes, t=3), len(sizes) - 1
    assert loop_kernel_counts(spec) == {"fwd": 3 + 3 * n_layers, "bwd": 3 + 2 * n_layers}
    ks = gpu_kernel_list(spec, loop_kernels=True)
    per_iter = {ph: sum(k.launches for k in ks if k.in_loop and k.phase == ph) / 3 for ph in ("fwd", "bwd")}
    assert per_iter == {"fwd": 3 + 5 * n_layers, "bwd": 3 + 5 * n_layers - 1}
    once = [k for k in ks if not k.in_loop]
    assert [k.name for k in once] == [k.name for k in gpu_kernel_list(spec) if not k.in_loop]
    assert all(k.launches == 1 for k in once)
    # the loop kernels only move data: the arithmetic is that of the plain list
    assert sum(k.flops for k in ks) - sum(k.flops for k in gpu_kernel_list(spec)) == 3 * 2 * 2


def test_single_threshold_drops_one_flop_per_element() -> None:
    spec = net([4, 3, 2])
    one = {k.name: k for k in gpu_kernel_list(spec, two_thresholds=False)}
    two = {k.name: k for k in gpu_kernel_list(spec)}
    assert one["bwd_dv_l1"].flops == 11 * 2 * 3 * 2 and two["bwd_dv_l1"].flops == 12 * 2 * 3 * 2
    assert one["bwd_dv_l1"].bytes == two["bwd_dv_l1"].bytes


def test_keras_host_bound_by_hand() -> None:
    """A device that is all but free: the host sets the pace. [4,3,2], B = T = 2: 58 launches."""
    p = profile("tf-keras-xla", host_launch_s=1.0, loop_sync_s=10.0, input_copy_bytes_per_s=16.0)
    est = estimate_gpu_step(net([4, 3, 2]), gpu(1e15), p)
    terms = dict(est.overhead)
    assert est.total_launches == 2 * 13 + 2 * 12 + 8
    assert terms["host_enqueue"] == pytest.approx(58.0)
    assert terms["loop_sync"] == 2 * 2 * 10.0  # a round trip per iteration of both loops
    assert terms["input_copy"] == 4 * 2 * 2 * 4 / 16.0  # B T N_in float32 over 16 B/s
    assert est.launch_s == 0.0  # no fixed per-launch latency on top of the host's enqueue
    assert est.step_s == pytest.approx(58 + 40 + 4)
    assert est.dominant == "host_enqueue"


def test_keras_device_bound_by_hand() -> None:
    """A host that enqueues for free: the step is the device time, the syncs and the copy."""
    p = profile("tf-keras-xla", host_launch_s=0.0, loop_sync_s=10.0, input_copy_bytes_per_s=16.0)
    spec = net([4, 3, 2])
    est = estimate_gpu_step(spec, gpu(10.0), p)
    device = sum(max(k.flops, k.bytes) / 10.0 for k in gpu_kernel_list(spec, loop_kernels=True, two_thresholds=False))
    assert dict(est.overhead)["host_enqueue"] == 0.0
    assert est.step_s == pytest.approx(device + 40 + 4)


def test_keras_iteration_is_sync_plus_max_of_host_and_device() -> None:
    """T = 1: one forward and one gradient iteration; host 2 s per launch against the device's time."""
    spec = net([4, 3, 2], t=1)
    p = profile("tf-keras-xla", host_launch_s=2.0, loop_sync_s=0.0, input_copy_bytes_per_s=0.0)
    est = estimate_gpu_step(spec, gpu(10.0), p)
    ks = gpu_kernel_list(spec, loop_kernels=True, two_thresholds=False)
    dev = {k.name: max(k.flops, k.bytes) / 10.0 for k in ks}
    fwd_it = max(2.0 * 13, sum(dev[k.name] for k in ks if k.in_loop and k.phase == "fwd"))
    bwd_it = max(2.0 * 12, sum(dev[k.name] for k in ks if k.in_loop and k.phase == "bwd"))
    outside = sum(max(2.0, dev[k.name]) for k in ks if not k.in_loop)
    assert est.step_s == pytest.approx(fwd_it + bwd_it + outside)


def test_cuda_graph_by_hand() -> None:
    p = profile("cuda-graph", graph_launch_s=15.0, graph_node_s=1.0, input_copy_bytes_per_s=16.0)
    spec = net([4, 3, 2])
    est = estimate_gpu_step(spec, gpu(10.0), p)
    device = sum(max(k.flops, k.bytes) / 10.0 for k in gpu_kernel_list(spec, loop_kernels=True, two_thresholds=False))
    assert dict(est.overhead) == {"graph_launch": 15.0 + 58 * 1.0, "input_copy": 4.0}
    assert est.step_s == pytest.approx(device + 73 + 4)


def test_fused_is_the_roofline_plus_latency() -> None:
    spec = net([4, 3, 2])
    est = estimate_gpu_step(spec, gpu(10.0), "fused")
    assert est.overhead == () and est.total_launches == 26
    assert est.step_s == pytest.approx(sum(max(k.flops, k.bytes) / 10.0 for k in gpu_kernel_list(spec)) + 26 * 0.5)


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 200), min_size=2, max_size=5),
    b=st.integers(1, 64),
    t=st.integers(1, 40),
    fw=st.sampled_from(FRAMEWORKS),
)
def test_every_profile_at_least_its_device_time(sizes: list[int], b: int, t: int, fw: str) -> None:
    est = estimate_gpu_step(net(sizes, b, t), "a100", fw)
    device = sum(k.roofline_s for k in est.kernels)
    assert est.step_s >= device
    assert est.step_s == pytest.approx(device + est.launch_s + sum(v for _, v in est.overhead))
    assert est.to_dict()["framework"] == fw


def test_paper_family_a_profiles() -> None:
    """The 2-hidden NMNIST net (B = 48, T = 100) on the A100 preset: values quoted in docs/gpu_baseline.md."""
    spec = snn_from_sizes([2312, 1466, 1466, 10], max_activity=0.01, input_sparse_size=32, batch_size=48, n_timesteps=100)
    ms = {fw: round(estimate_gpu_step(spec, "a100", fw).ms_per_step, 2) for fw in FRAMEWORKS}
    assert ms == {"tf-keras-xla": 30.43, "cuda-graph": 10.82, "fused": 12.63}
    d = estimate_gpu_step(spec, "a100").to_dict()
    assert d["framework"] == "tf-keras-xla" and d["overhead_ms"]["loop_sync"] == pytest.approx(3.0)
    assert d["overhead_ms"]["input_copy"] == pytest.approx(48 * 100 * 2312 * 4 / 16e9 * 1e3)


def test_profile_errors() -> None:
    with pytest.raises(ConfigError, match="'tf-keras' is not one of tf-keras-xla, cuda-graph, fused"):
        profile("tf-keras")
    with pytest.raises(ConfigError, match="'sync_s' is not a profile field"):
        profile("fused", sync_s=1.0)
    assert set(PROFILES) == set(FRAMEWORKS)


def test_training_estimate_reports_both_speedups() -> None:
    from mimdsim import load_machine
    from mimdsim.studies.estimate import estimate_training_step

    spec = snn_from_sizes([64, 24, 24, 4], max_activity=0.25, input_sparse_size=8, batch_size=6, n_timesteps=3)
    machine = load_machine("bow", tiles_per_ipu=64)
    est = estimate_training_step(spec, machine, activity_source="saturated", gpu="a100")
    assert est.gpu is not None and est.gpu_ideal is not None
    assert (est.gpu.framework, est.gpu_ideal.framework) == ("tf-keras-xla", "fused")
    assert est.speedup_vs_gpu == pytest.approx(est.gpu.ms_per_step / est.ms_per_step)
    assert est.speedup_vs_gpu_ideal == pytest.approx(est.gpu_ideal.ms_per_step / est.ms_per_step)
    fused = estimate_training_step(spec, machine, activity_source="saturated", gpu="a100", gpu_framework="fused")
    assert fused.speedup_vs_gpu == pytest.approx(fused.speedup_vs_gpu_ideal)
    with pytest.raises(ConfigError, match="matmul_precision"):
        estimate_training_step(spec, machine, activity_source="saturated", gpu="a100", gpu_precision="bf16")
