"""GPU baseline: kernel list, presets, roofline costing and the dense benchmark script."""

from __future__ import annotations

import doctest
import importlib.util
import itertools
import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mimdsim.snn.gpu.model as gpu_mod
from mimdsim.errors import ConfigError
from mimdsim.snn.gpu.frameworks import FRAMEWORKS
from mimdsim.snn.gpu.model import GPUSpec, Kernel, estimate_gpu_step, gpu_kernel_list, load_gpu
from mimdsim.snn.model.spec import SNNSpec, snn_from_sizes

REPO = Path(__file__).resolve().parents[2]


def net(sizes: list[int], b: int = 2, t: int = 2, optimizer: str = "adam") -> SNNSpec:
    return snn_from_sizes(sizes, max_activity=0.5, input_sparse_size=1, batch_size=b, n_timesteps=t, optimizer=optimizer)


def unit_gpu(**kw: object) -> GPUSpec:
    """A GPU with round numbers: 100 FLOP/s FP32, 1000 FLOP/s TF32, 10 B/s, 0.5 s per launch."""
    data = dict(
        name="unit",
        fp32_flops_per_s=100.0,
        tf32_flops_per_s=1000.0,
        hbm_bytes_per_s=10.0,
        n_sms=1,
        memory_bytes=1,
        kernel_latency_s=0.5,
        matmul_precision="tf32",
    )
    data.update(kw)
    return GPUSpec.model_validate(data)


# --------------------------------------------------------------------------------------------
# kernel list, by hand for [4, 3, 2], B = 2, T = 2 (M,N = 4,3 then 3,2; C = 2)

TINY_ADAM = [
    # name, phase, flops, bytes, launches
    ("fwd_matmul_l1", "fwd", 2 * 2 * 4 * 3 * 2, 4 * (2 * 4 + 4 * 3 + 2 * 3) * 2, 2),  # 96, 208
    ("fwd_lif_l1", "fwd", 6 * 2 * 3 * 2, 20 * 2 * 3 * 2, 2),  # 72, 240
    ("fwd_matmul_l2", "fwd", 2 * 2 * 3 * 2 * 2, 4 * (2 * 3 + 3 * 2 + 2 * 2) * 2, 2),  # 48, 128
    ("fwd_lif_l2", "fwd", 6 * 2 * 2 * 2, 20 * 2 * 2 * 2, 2),  # 48, 160
    ("fwd_readout_sum", "fwd", 2 * 2 * 2, 4 * (2 * 2 * 2 + 2 * 2), 1),  # 8, 48
    ("fwd_loss_xent", "fwd", 4 * 2 * 2, 4 * (2 * 2 + 2 + 1), 1),  # 16, 28
    ("bwd_loss_grad", "bwd", 5 * 2 * 2, 4 * (2 * 2 * 2 + 2), 1),  # 20, 40
    ("bwd_init_l2", "bwd", 0, 4 * (3 * 2 + 2 * 2), 1),  # 40
    ("bwd_init_l1", "bwd", 0, 4 * (4 * 3 + 2 * 3), 1),  # 72
    ("bwd_dv_l2", "bwd", 12 * 2 * 2 * 2, 20 * 2 * 2 * 2, 2),  # 96, 160
    ("bwd_dw_l2", "bwd", (2 * 2 * 3 * 2 + 3 * 2) * 2, 4 * (2 * 3 + 2 * 2 + 2 * 3 * 2) * 2, 2),  # 60, 176
    ("bwd_dx_l2", "bwd", 2 * 2 * 2 * 3 * 2, 4 * (2 * 2 + 2 * 3 + 2 * 3) * 2, 2),  # 48, 128
    ("bwd_dv_l1", "bwd", 12 * 2 * 3 * 2, 20 * 2 * 3 * 2, 2),  # 144, 240
    ("bwd_dw_l1", "bwd", (2 * 2 * 4 * 3 + 4 * 3) * 2, 4 * (2 * 4 + 2 * 3 + 2 * 4 * 3) * 2, 2),  # 120, 304
    ("update_step", "update", 8, 12, 1),
    ("update_adam_l1", "update", 12 * 12, 28 * 12, 1),
    ("update_adam_l2", "update", 12 * 6, 28 * 6, 1),
]


def test_kernel_list_tiny_by_hand() -> None:
    ks = gpu_kernel_list(net([4, 3, 2]))
    assert [(k.name, k.phase, k.flops, k.bytes, k.launches) for k in ks] == TINY_ADAM
    assert {k.name: k.kind for k in ks if k.kind == "matmul"}.keys() == {
        "fwd_matmul_l1",
        "fwd_matmul_l2",
        "bwd_dw_l2",
        "bwd_dx_l2",
        "bwd_dw_l1",
    }
    assert next(k for k in ks if k.name == "bwd_dw_l1").shape == "[4,2]x[2,3]"
    assert sum(k.launches for k in ks) == 26


def test_kernel_list_sgd_update() -> None:
    ks = gpu_kernel_list(net([4, 3, 2], optimizer="sgd"))
    upd = [(k.name, k.flops, k.bytes) for k in ks if k.phase == "update"]
    assert upd == [("update_step", 1, 8), ("update_sgd_l1", 2 * 12, 12 * 12), ("update_sgd_l2", 2 * 6, 12 * 6)]


def test_matmul_flops_match_dense_formula() -> None:
    """Matmul FLOPs = T * (3 * 2BMN summed over layers - 2BMN of layer 1 + MN per dW accumulate)."""
    sizes, b, t = [50, 40, 30, 10], 8, 7
    ks = gpu_kernel_list(net(sizes, b, t))
    pairs = list(itertools.pairwise(sizes))
    expect = t * sum(3 * 2 * b * m * n + m * n for m, n in pairs) - t * 2 * b * sizes[0] * sizes[1]
    assert sum(k.flops for k in ks if k.kind == "matmul") == expect
    assert all(k.flops_per_launch * k.launches == k.flops for k in ks)


# --------------------------------------------------------------------------------------------
# presets and bad input


@pytest.mark.parametrize(
    ("name", "preset", "bw", "tf32", "sms"),
    [
        ("a100", "a100_40gb", 1555e9, 156e12, 108),
        ("a100_40gb", "a100_40gb", 1555e9, 156e12, 108),
        ("A100-80GB", "a100_80gb", 2039e9, 156e12, 108),
        ("h100", "h100_sxm", 3.35e12, 494.5e12, 132),
    ],
)
def test_presets_load(name: str, preset: str, bw: float, tf32: float, sms: int) -> None:
    g = load_gpu(name)
    assert (g.name, g.hbm_bytes_per_s, g.tf32_flops_per_s, g.n_sms) == (preset, bw, tf32, sms)
    assert g.matmul_precision == "tf32" and g.efficiency == 1.0 and g.kernel_latency_s == 5e-6


def test_preset_overrides_path_and_spec(tmp_path: Path) -> None:
    g = load_gpu("a100", matmul_precision="fp32", kernel_latency_s=1e-6)
    assert g.matmul_flops_per_s == 19.5e12 and g.kernel_latency_s == 1e-6
    assert load_gpu(g) == g
    path = tmp_path / "mine.toml"
    path.write_text(
        'name = "mine"\nfp32_flops_per_s = 1e12\ntf32_flops_per_s = 2e12\nhbm_bytes_per_s = 1e11\n'
        "n_sms = 10\nmemory_bytes = 1000\nkernel_latency_s = 0.0\n"
    )
    mine = load_gpu(path)
    assert (mine.name, mine.matmul_flops_per_s, mine.vector_flops_per_s) == ("mine", 2e12, 1e12)
    assert load_gpu(str(path), efficiency=0.5).bytes_per_s == 5e10


@pytest.mark.parametrize(("field", "value"), [("kernel_latency_s", float("inf")), ("hbm_bytes_per_s", float("nan")),
                                              ("base_power_w", (63.0, float("inf"), 108.0))])  # fmt: skip
def test_a_gpu_of_infinite_or_nan_values_is_refused(field: str, value: object) -> None:
    """Found by fuzzing GPU files: an infinite latency loaded, and the estimate's JSON then failed."""
    with pytest.raises(ConfigError, match=f"{field}.*finite number"):
        load_gpu("a100", **{field: value})


def test_unknown_preset() -> None:
    with pytest.raises(ConfigError, match=r"unknown GPU preset 'v100'.*a100_40gb"):
        load_gpu("v100")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_gpu(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("edit", "field", "words"),
    [
        (("efficiency = 1.0", "efficiency = 1.0\nclock_hz = 1.4e9"), "clock_hz", "unknown key"),
        (("hbm_bytes_per_s = 1555e9", "hbm_bytes_per_s = -1555e9"), "hbm_bytes_per_s", "greater than 0"),
        (('matmul_precision = "tf32"', 'matmul_precision = "fp16"'), "matmul_precision", "fp32"),
        (("n_sms = 108", ""), "n_sms", "missing required key"),
    ],
)
def test_bad_file_names_file_and_field(tmp_path: Path, edit: tuple[str, str], field: str, words: str) -> None:
    text = (REPO / "models" / "gpus" / "a100_40gb.toml").read_text()
    assert edit[0] in text
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace(edit[0], edit[1], 1))
    with pytest.raises(ConfigError) as info:
        load_gpu(bad)
    msg = str(info.value)
    assert str(bad) in msg and f": {field}: " in msg and words in msg


def test_bad_override_names_field() -> None:
    with pytest.raises(ConfigError, match=r"a100_40gb.toml \(with overrides hbm_bytes_per_s\): hbm_bytes_per_s: "):
        load_gpu("a100", hbm_bytes_per_s=-1.0)


# --------------------------------------------------------------------------------------------
# roofline


def test_roofline_by_hand() -> None:
    g = unit_gpu()
    est = estimate_gpu_step(net([4, 3, 2]), g, "fused")
    by = {k.kernel.name: k for k in est.kernels}
    mm = by["fwd_matmul_l1"]  # 96 flops / 1000 vs 208 B / 10: memory
    assert (mm.compute_s, mm.memory_s, mm.launch_s, mm.bound) == (96 / 1000, 208 / 10, 2 * 0.5, "memory")
    lif = by["fwd_lif_l1"]  # elementwise uses the FP32 rate
    assert lif.compute_s == 72 / 100 and lif.time_s == 240 / 10 + 1.0
    assert est.total_launches == 26 and est.launch_s == 13.0
    assert est.step_s == pytest.approx(sum(k.bytes for k in gpu_kernel_list(net([4, 3, 2]))) / 10 + 13.0)
    assert est.step_s == pytest.approx(est.compute_bound_s + est.memory_bound_s + est.launch_s)
    assert est.dominant == "memory"
    assert est.samples_per_s == pytest.approx(2 / est.step_s)
    assert sum(est.phase_s(p) for p in ("fwd", "bwd", "update")) == pytest.approx(est.step_s)


def test_precision_and_efficiency_pick_the_peak() -> None:
    k = Kernel("mm", "fwd", 1000, 1, 1, "matmul")
    assert unit_gpu().matmul_flops_per_s == 1000 and unit_gpu(matmul_precision="fp32").matmul_flops_per_s == 100
    assert unit_gpu(efficiency=0.5).bytes_per_s == 5.0 and unit_gpu(efficiency=0.5).vector_flops_per_s == 50
    assert k.flops_per_launch == 1000
    spec = net([64, 64, 10], b=32, t=3)
    fast, slow = (estimate_gpu_step(spec, unit_gpu(hbm_bytes_per_s=1e12, matmul_precision=p), "fused") for p in ("tf32", "fp32"))
    assert slow.step_s > fast.step_s and slow.compute_bound_s > fast.compute_bound_s


def test_tiny_net_is_launch_bound_on_presets() -> None:
    for name in ("a100_40gb", "a100_80gb", "h100_sxm"):
        est = estimate_gpu_step(net([4, 3, 2]), name, "fused")
        assert est.dominant == "launch" and est.launch_s > 0.99 * est.step_s


def test_large_batch_is_not_launch_bound() -> None:
    est = estimate_gpu_step(net([2048, 2048, 10], b=4096, t=2), load_gpu("a100", matmul_precision="fp32"), "fused")
    assert est.dominant == "compute"


sizes_st = st.lists(st.integers(1, 300), min_size=2, max_size=5)


@settings(max_examples=60, deadline=None)
@given(
    sizes=sizes_st,
    b=st.integers(1, 64),
    t=st.integers(1, 50),
    grow=st.integers(1, 40),
    which=st.integers(0, 10),
    opt=st.sampled_from(["adam", "sgd"]),
    prec=st.sampled_from(["tf32", "fp32"]),
    fw=st.sampled_from(FRAMEWORKS),
)
def test_time_monotone_in_t_b_width(
    sizes: list[int], b: int, t: int, grow: int, which: int, opt: str, prec: str, fw: str
) -> None:
    g = load_gpu("a100", matmul_precision=prec)
    base = estimate_gpu_step(net(sizes, b, t, opt), g, fw).step_s * (1 - 1e-12)  # host-bound: equal up to round-off
    assert estimate_gpu_step(net(sizes, b, t + grow, opt), g, fw).step_s >= base
    assert estimate_gpu_step(net(sizes, b + grow, t, opt), g, fw).step_s >= base
    wider = list(sizes)
    wider[which % len(sizes)] += grow
    assert estimate_gpu_step(net(wider, b, t, opt), g, fw).step_s >= base


def test_family_a_on_a100_is_launch_dominated() -> None:
    """The paper's family (a) nets (B=48, T=100): values quoted in docs/gpu_baseline.md."""
    got = []
    for sizes in (
        [2312, 1466, 1466, 10],
        [2312, 978, 978, 976, 10],
        [2312, 734, 734, 732, 732, 10],
        [2312, 588, 586, 586, 586, 586, 10],
    ):
        est = estimate_gpu_step(net(sizes, 48, 100), "a100_40gb", "fused")
        got.append(round(est.ms_per_step, 2))
        assert est.dominant == "launch"
        assert est.total_launches == 100 * (5 * (len(sizes) - 1) - 1) + 3 + 2 * (len(sizes) - 1) + 1
    assert got == [12.63, 13.99, 15.74, 17.74]


def test_module_doctests() -> None:
    assert doctest.testmod(gpu_mod).failed == 0


# --------------------------------------------------------------------------------------------
# benchmark script


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return importlib.import_module("benchmarks.gpu_dense_snn")


def _bench_argv(backend: str, *extra: str) -> list[str]:
    return ["--layers", "12,8,4", "--batch", "3", "--timesteps", "4", "--steps", "3", "--warmup", "1",
            "--backend", backend, "--gpu", "a100", "--input-spikes", "3", "--json", *extra]  # fmt: skip


def test_benchmark_numpy_json(bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(_bench_argv("numpy")) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["layers"], out["batch"], out["timesteps"], out["steps"]) == ([12, 8, 4], 3, 4, 3)
    (m,) = out["measured"]
    assert (m["backend"], m["loop"], m["device_name"], m["framework"]) == ("numpy", "python", "cpu", "fused")
    assert len(m["ms_per_step_all"]) == 3 and m["ms_per_step"] > 0 and np.isfinite(m["loss"])
    assert set(out["model"]) == set(FRAMEWORKS) and out["versions"]["numpy"] == np.__version__
    for fw in FRAMEWORKS:
        expect = estimate_gpu_step(net([12, 8, 4], 3, 4), "a100", fw)
        assert out["model"][fw]["ms_per_step"] == pytest.approx(expect.ms_per_step)
    assert m["model_ms_per_step"] == out["model"]["fused"]["ms_per_step"]
    assert out["model"]["fused"]["dominant"] == "launch"
    assert out["model"]["tf-keras-xla"]["dominant"] == "host_enqueue"


def test_benchmark_jax_runs_both_loops(bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("jax")
    assert bench.main(_bench_argv("jax")) == 0
    out = json.loads(capsys.readouterr().out)
    runs = {m["loop"]: m for m in out["measured"]}
    assert set(runs) == {"scan", "unrolled"}
    assert runs["scan"]["framework"] == "tf-keras-xla" and runs["unrolled"]["framework"] == "fused"
    assert runs["scan"]["model_ms_per_step"] == out["model"]["tf-keras-xla"]["ms_per_step"]
    assert all(m["ms_per_step"] > 0 and np.isfinite(m["loss"]) for m in runs.values())
    assert "jax" in out["versions"]


@pytest.mark.parametrize("loop", ["scan", "unrolled"])
def test_jax_step_matches_numpy(bench: ModuleType, loop: str) -> None:
    """One SGD step of either JAX loop equals the numpy BPTT step (scan: the one-threshold surrogate)."""
    pytest.importorskip("jax")
    from benchmarks import _dense_snn_jax as jx

    p = bench.make_problem([10, 6, 4], batch=3, timesteps=5, input_spikes=4, seed=1)
    w0 = [w.copy() for w in p.weights]
    step, _, weights = jx.make_jax_trainer(p, "sgd", loop, "fp32", bench.JAX_CONSTS)
    one = None if loop == "unrolled" else (lambda v: 1.0 / (bench.BETA * np.abs(v - bench.THETA1) + 1.0) ** 2)
    loss_np, grads = bench.numpy_loss_and_grads(w0, p.x, p.y, dspike=one)
    assert step() == pytest.approx(loss_np, rel=1e-5)
    for w_jax, w, g in zip(weights(), w0, grads, strict=True):
        np.testing.assert_allclose(w_jax, w - np.float32(bench.LR) * g, rtol=1e-5, atol=1e-7)


def test_benchmark_text_model_only_and_bad_gpu(bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--layers", "12,8,4", "--model-only", "--gpu", "h100", "--matmul-precision", "fp32"]) == 0
    text = capsys.readouterr().out
    assert "model [h100_sxm, fp32, tf-keras-xla]" in text and "model [h100_sxm, fp32, fused]" in text
    assert "measured" not in text
    assert bench.main(["--model-only", "--gpu", "v100"]) == 2
    assert "unknown GPU preset" in capsys.readouterr().err


def test_numpy_bptt_matches_finite_differences(bench: ModuleType) -> None:
    """With a smooth spike function and no reset the hand-written BPTT is an exact gradient."""
    p = bench.make_problem([5, 4, 3, 2], batch=2, timesteps=4, input_spikes=2, seed=3, dtype=np.float64)
    p.weights = [w * 0.3 for w in p.weights]

    def spike(v: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-4.0 * (v - 1.0)))

    def dspike(v: np.ndarray) -> np.ndarray:
        s = spike(v)
        return 4.0 * s * (1.0 - s)

    def loss(ws: list[np.ndarray]) -> float:
        return bench.numpy_loss_and_grads(ws, p.x, p.y, spike=spike, dspike=dspike, reset=False)[0]

    _, grads = bench.numpy_loss_and_grads(p.weights, p.x, p.y, spike=spike, dspike=dspike, reset=False)
    rng = np.random.default_rng(0)
    eps = 1e-6
    for li, w in enumerate(p.weights):
        for _ in range(4):
            i, j = rng.integers(w.shape[0]), rng.integers(w.shape[1])
            plus = [x.copy() for x in p.weights]
            minus = [x.copy() for x in p.weights]
            plus[li][i, j] += eps
            minus[li][i, j] -= eps
            assert grads[li][i, j] == pytest.approx((loss(plus) - loss(minus)) / (2 * eps), rel=1e-5, abs=1e-9)


def test_torch_backend_matches_numpy(bench: ModuleType) -> None:
    torch = pytest.importorskip("torch")
    p = bench.make_problem([10, 6, 4], batch=3, timesteps=5, input_spikes=4, seed=1, dtype=np.float64)
    loss_np, grads_np = bench.numpy_loss_and_grads(p.weights, p.x, p.y)
    ws = [torch.tensor(w, requires_grad=True) for w in p.weights]
    loss = bench.torch_loss(torch, ws, torch.tensor(p.x), torch.tensor(p.y))
    loss.backward()
    assert float(loss.detach()) == pytest.approx(loss_np, rel=1e-9)
    for w, g in zip(ws, grads_np, strict=True):
        np.testing.assert_allclose(w.grad.numpy(), g, rtol=1e-7, atol=1e-10)
