"""Measure the dense SNN BPTT training step (the paper's GPU baseline) and compare with the model.

One training step = forward over T time steps of a feed-forward LIF network with a one-step
inter-layer delay, SuperSpike surrogate, sum-over-time readout and softmax cross-entropy;
BPTT in reverse; an SGD or Adam update. The same step that mimdsim.snn.gpu.model costs
analytically (docs/gpu_baseline.md).

Backends:

* ``jax`` (when importable): the paper's loop structure and an ideal program, side by side
  (``--loop scan|unrolled|both``, default both; benchmarks/_dense_snn_jax.py). ``scan`` is a
  Keras-style RNN under XLA -- a compiled while loop forward and backward, the input batch
  copied from the host every step, one threshold -- and is compared with the model's
  ``tf-keras-xla`` profile; ``unrolled`` is one fused XLA program, compared with ``fused``.
* ``torch`` (when importable): autograd with the surrogate as a custom autograd function,
  on CUDA when present (``--device auto``), else CPU; compared with ``fused``.
* ``numpy``: the same step written out by hand (forward and manual BPTT), float32, on CPU.

``--backend auto`` picks jax, then torch, then numpy. ``--matmul-precision tf32|fp32``
sets the backend's matmul precision and the model's. Prints the median ms per step over
``--steps`` measured steps (``--warmup`` steps first, not counted) beside the model's
prediction for ``--gpu`` under the matching framework profile. Example::

    python -m benchmarks.gpu_dense_snn --layers 2312,1466,1466,10 --batch 48 --timesteps 100 \\
        --steps 5 --backend jax --gpu a100 --json

``--model-only`` prints only the predictions (no measurement).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmarks._dense_snn_jax import LOOPS, import_jax, make_jax_trainer

ALPHA = 0.95  # decay (GSNN PC/CC (LIF state update; KU's dense reference is the same))
THETA1 = 1.0  # spike threshold
THETA2 = 0.9  # second threshold: gradient only where V > THETA2 (§1.3)
BETA = 10.0  # SuperSpike steepness
INPUT_SCALE = 10.0  # I enters as 10 (1 - alpha) I
WEIGHT_MUL = 2.0
LR = 1e-3
ADAM_B1, ADAM_B2, ADAM_EPS = 0.9, 0.999, 1e-7  # Keras defaults
JAX_CONSTS = {
    "alpha": ALPHA, "theta1": THETA1, "theta2": THETA2, "beta": BETA, "input_scale": INPUT_SCALE,
    "lr": LR, "adam_b1": ADAM_B1, "adam_b2": ADAM_B2, "adam_eps": ADAM_EPS,
}  # fmt: skip


def _parse_layers(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--layers: {text!r} is not a comma-separated list of integers") from None
    if len(sizes) < 2 or any(n <= 0 for n in sizes):
        raise argparse.ArgumentTypeError(f"--layers: need the input size and at least one layer, all > 0, got {text!r}")
    return sizes


def build_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--layers",
        type=_parse_layers,
        default=[2312, 1466, 1466, 10],
        help="input size, hidden sizes, classes (default 2312,1466,1466,10)",
    )
    p.add_argument("--batch", type=int, default=48)
    p.add_argument("--timesteps", type=int, default=100)
    p.add_argument("--steps", type=int, default=5, help="measured training steps (median reported)")
    p.add_argument("--warmup", type=int, default=2, help="unmeasured steps first (compilation, caches)")
    p.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    p.add_argument("--input-spikes", type=int, default=32, help="spiking inputs per sample and time step (NMNIST sparse size 32)")
    p.add_argument("--backend", choices=["auto", "jax", "torch", "numpy"], default="auto")
    p.add_argument(
        "--loop",
        choices=["scan", "unrolled", "both"],
        default="both",
        help="jax: the paper's while loop (scan), one fused program (unrolled) or both",
    )
    p.add_argument("--device", choices=["auto", "cuda", "cpu"], default="auto", help="torch device")
    p.add_argument(
        "--matmul-precision",
        choices=["tf32", "fp32"],
        default="tf32",
        help="the backend's matmul precision; also the model's setting",
    )
    p.add_argument("--gpu", default="a100", help="GPU preset or TOML file for the prediction (default a100)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model-only", action="store_true", help="print the prediction only")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


# ----------------------------------------------------------------------------------------------
# data and parameters (shared by both backends)


@dataclass
class Problem:
    """Weights, one batch of input spikes and labels, float32."""

    sizes: list[int]
    weights: list[np.ndarray]
    x: np.ndarray  # [T, B, N0], 0/1
    y: np.ndarray  # [B] int64 labels


def make_problem(
    sizes: Sequence[int], batch: int, timesteps: int, input_spikes: int, seed: int, dtype: Any = np.float32
) -> Problem:
    """Random input spikes (``input_spikes`` active inputs per sample and step) and weights as the paper inits them.

    W ~ U(-lim, lim) + 0.001 with lim = sqrt(6 / fan_in) * weight_mul (GSNN PC/CC (LIF state update; KU's dense reference is the same)).
    """
    rng = np.random.default_rng(seed)
    ws = []
    for m, n in itertools.pairwise(sizes):
        lim = np.sqrt(6.0 / m) * WEIGHT_MUL
        ws.append((rng.uniform(-lim, lim, size=(m, n)) + 0.001).astype(dtype))
    n0 = sizes[0]
    k = min(input_spikes, n0)
    x = np.zeros((timesteps, batch, n0), dtype=dtype)
    scores = rng.random((timesteps, batch, n0))
    idx = np.argpartition(scores, n0 - k, axis=-1)[..., n0 - k :] if k > 0 else None
    if idx is not None:
        np.put_along_axis(x, idx, 1.0, axis=-1)
    y = rng.integers(0, sizes[-1], size=batch)
    return Problem(list(sizes), ws, x, y)


# ----------------------------------------------------------------------------------------------
# numpy backend: forward and manual BPTT


def superspike(v: np.ndarray) -> np.ndarray:
    """dS/dV = H(V - theta2) / (beta |V - theta1| + 1)^2."""
    return (v > THETA2) / (BETA * np.abs(v - THETA1) + 1.0) ** 2


def numpy_loss_and_grads(
    weights: Sequence[np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    *,
    spike: Callable[[np.ndarray], np.ndarray] | None = None,
    dspike: Callable[[np.ndarray], np.ndarray] | None = None,
    reset: bool = True,
) -> tuple[float, list[np.ndarray]]:
    """Loss and weight gradients of one batch, by forward pass and hand-written BPTT.

    ``V_t = alpha V_{t-1} (1 - sg(S_{t-1})) + c X_t W``, ``S_t = spike(V_t)``; layer l > 1 gets
    layer l-1's spikes of step t-1. ``spike``/``dspike`` default to the Heaviside step and the
    SuperSpike surrogate; a smooth pair (with ``reset=False``) makes the gradient exact, which
    the tests check against finite differences.
    """
    spike = spike or (lambda v: (v > THETA1).astype(v.dtype))
    dspike = dspike or superspike
    dt = x.dtype
    c = INPUT_SCALE * (1.0 - ALPHA)
    n_t, b = x.shape[0], x.shape[1]
    n_l = len(weights)
    vh = [np.zeros((n_t, b, w.shape[1]), dt) for w in weights]
    sh = [np.zeros((n_t, b, w.shape[1]), dt) for w in weights]

    def layer_input(li: int, t: int) -> np.ndarray:
        if li == 0:
            return np.asarray(x[t])
        if t == 0:
            return np.zeros((b, weights[li].shape[0]), dt)
        return np.asarray(sh[li - 1][t - 1])

    for t in range(n_t):
        for li, w in enumerate(weights):
            v_prev = vh[li][t - 1] if t > 0 else np.zeros_like(vh[li][0])
            s_prev = sh[li][t - 1] if t > 0 else np.zeros_like(sh[li][0])
            keep = (1.0 - s_prev) if reset else 1.0
            vh[li][t] = ALPHA * v_prev * keep + c * (layer_input(li, t) @ w)
            sh[li][t] = spike(vh[li][t])
    logits = sh[-1].sum(axis=0)
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    loss = float(-logp[np.arange(b), y].mean())
    dlogits = np.exp(logp)
    dlogits[np.arange(b), y] -= 1.0
    dlogits /= b

    grads = [np.zeros_like(w) for w in weights]
    dv_carry = [np.zeros((b, w.shape[1]), dt) for w in weights]
    g_above: list[np.ndarray | None] = [None] * n_l  # dL/dS^l_t, from layer li+1 at step t+1
    for t in range(n_t - 1, -1, -1):
        g_next: list[np.ndarray | None] = [None] * n_l
        for li in range(n_l - 1, -1, -1):
            g = dlogits if li == n_l - 1 else g_above[li]
            v_t, s_t = vh[li][t], sh[li][t]
            chain = ALPHA * ((1.0 - s_t) if reset else 1.0) * dv_carry[li]
            dv = chain if g is None else g * dspike(v_t) + chain
            dv_carry[li] = dv
            di = c * dv
            grads[li] += layer_input(li, t).T @ di
            if li > 0:
                g_next[li - 1] = di @ weights[li].T  # dL/dS^{li-1}_{t-1}
        g_above = g_next
    return loss, grads


@dataclass
class NumpyTrainer:
    """Dense training step in numpy: forward, manual BPTT, SGD or Adam."""

    problem: Problem
    optimizer: str
    step_count: int = 0
    m: list[np.ndarray] = field(default_factory=list)
    v: list[np.ndarray] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.m = [np.zeros_like(w) for w in self.problem.weights]
        self.v = [np.zeros_like(w) for w in self.problem.weights]

    def step(self) -> float:
        p = self.problem
        loss, grads = numpy_loss_and_grads(p.weights, p.x, p.y)
        self.step_count += 1
        if self.optimizer == "sgd":
            for w, g in zip(p.weights, grads, strict=True):
                w -= np.float32(LR) * g
            return loss
        t = self.step_count
        lr_t = np.float32(LR * np.sqrt(1 - ADAM_B2**t) / (1 - ADAM_B1**t))
        for w, g, m, v in zip(p.weights, grads, self.m, self.v, strict=True):
            m *= ADAM_B1
            m += (1 - ADAM_B1) * g
            v *= ADAM_B2
            v += (1 - ADAM_B2) * g * g
            w -= lr_t * m / (np.sqrt(v) + ADAM_EPS)
        return loss


# ----------------------------------------------------------------------------------------------
# torch backend: autograd with a custom surrogate


def torch_loss(torch: Any, ws: Sequence[Any], x: Any, y: Any) -> Any:
    """Loss of one batch as a torch autograd graph (same model as :func:`numpy_loss_and_grads`)."""

    class SuperSpike(torch.autograd.Function):  # type: ignore[misc]
        @staticmethod
        def forward(ctx: Any, v: Any) -> Any:
            ctx.save_for_backward(v)
            return (v > THETA1).to(v.dtype)

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            (v,) = ctx.saved_tensors
            return grad * (v > THETA2).to(v.dtype) / (BETA * (v - THETA1).abs() + 1.0) ** 2

    c = INPUT_SCALE * (1.0 - ALPHA)
    n_t, b = x.shape[0], x.shape[1]
    vs = [torch.zeros(b, w.shape[1], device=x.device, dtype=x.dtype) for w in ws]
    ss = [torch.zeros(b, w.shape[1], device=x.device, dtype=x.dtype) for w in ws]
    out = []
    for t in range(n_t):
        prev = list(ss)  # every layer reads the previous step's spikes of the layer below
        for li, w in enumerate(ws):
            inp = x[t] if li == 0 else prev[li - 1]
            vs[li] = ALPHA * vs[li] * (1.0 - prev[li].detach()) + c * (inp @ w)
            ss[li] = SuperSpike.apply(vs[li])
        out.append(ss[-1])
    logits = torch.stack(out).sum(0)
    return torch.nn.functional.cross_entropy(logits, y)


def make_torch_trainer(
    problem: Problem, optimizer: str, device: str, precision: str
) -> tuple[Callable[[], float], Callable[[], None]]:
    """Return (step, synchronize) closures running the dense step with torch autograd."""
    import torch

    if device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
        torch.backends.cudnn.allow_tf32 = precision == "tf32"
    ws = [torch.nn.Parameter(torch.from_numpy(w.copy()).to(device)) for w in problem.weights]
    x = torch.from_numpy(problem.x).to(device)
    y = torch.from_numpy(problem.y).to(device)
    opt = torch.optim.Adam(ws, lr=LR, eps=ADAM_EPS) if optimizer == "adam" else torch.optim.SGD(ws, lr=LR)

    def step() -> float:
        loss = torch_loss(torch, ws, x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(loss.detach())

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    return step, sync


# ----------------------------------------------------------------------------------------------


def _import_torch() -> Any:
    try:
        import torch
    except ImportError:
        return None
    return torch


def _mimdsim() -> tuple[Any, Any, Any]:
    """(estimate_gpu_step, load_gpu, snn_from_sizes), from a checkout if mimdsim is not installed."""
    from mimdsim.snn.gpu.model import estimate_gpu_step, load_gpu
    from mimdsim.snn.model.spec import snn_from_sizes

    return estimate_gpu_step, load_gpu, snn_from_sizes


def predict(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The analytic model's prediction for the same configuration, under every framework profile."""
    estimate_gpu_step, load_gpu, snn_from_sizes = _mimdsim()
    from mimdsim.snn.gpu.frameworks import FRAMEWORKS

    spec = snn_from_sizes(
        args.layers,
        max_activity=0.01,
        input_sparse_size=min(max(args.input_spikes, 1), args.layers[0]),
        batch_size=args.batch,
        n_timesteps=args.timesteps,
        optimizer=args.optimizer,
    )
    gpu = load_gpu(args.gpu, matmul_precision=args.matmul_precision)
    return {fw: estimate_gpu_step(spec, gpu, fw).to_dict() for fw in FRAMEWORKS}


def _trainers(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The runs to time: backend, loop, the model framework they compare with, and a step closure."""
    backend = args.backend
    if backend == "auto":
        backend = "jax" if import_jax() is not None else "torch" if _import_torch() is not None else "numpy"
    if backend in ("jax", "torch") and (import_jax if backend == "jax" else _import_torch)() is None:
        raise SystemExit(f"gpu_dense_snn: --backend {backend}: {backend} is not installed (use --backend numpy)")
    problem = make_problem(args.layers, args.batch, args.timesteps, args.input_spikes, args.seed)
    if backend == "jax":
        runs = []
        for loop in LOOPS if args.loop == "both" else (args.loop,):
            fresh = make_problem(args.layers, args.batch, args.timesteps, args.input_spikes, args.seed)
            step, dev_name, _ = make_jax_trainer(fresh, args.optimizer, loop, args.matmul_precision, JAX_CONSTS)
            framework = "tf-keras-xla" if loop == "scan" else "fused"
            runs.append({"backend": "jax", "loop": loop, "framework": framework, "device_name": dev_name, "step": step})
        return runs
    if backend == "torch":
        torch = _import_torch()
        device = args.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cuda" and not torch.cuda.is_available():
            raise SystemExit("gpu_dense_snn: --device cuda: no CUDA device visible to torch")
        step, sync = make_torch_trainer(problem, args.optimizer, device, args.matmul_precision)
        dev_name = torch.cuda.get_device_name() if device == "cuda" else "cpu"

        def synced() -> float:
            loss = step()
            sync()
            return loss

        return [{"backend": "torch", "loop": "eager", "framework": "fused", "device_name": dev_name, "step": synced}]
    if args.device == "cuda":
        raise SystemExit("gpu_dense_snn: --device cuda needs the torch or the jax backend")
    trainer = NumpyTrainer(problem, args.optimizer)
    return [{"backend": "numpy", "loop": "python", "framework": "fused", "device_name": "cpu", "step": trainer.step}]


def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Warm-up plus measured steps of every run; times in ms."""
    out = []
    for run in _trainers(args):
        step = run.pop("step")
        loss = float("nan")
        for _ in range(args.warmup):
            loss = step()
        times = []
        for _ in range(args.steps):
            t0 = time.perf_counter()
            loss = step()
            times.append(1e3 * (time.perf_counter() - t0))
        med = statistics.median(times)
        out.append({**run, "ms_per_step": med, "ms_per_step_all": times, "samples_per_s": 1e3 * args.batch / med, "loss": loss})
    return out


def _versions() -> dict[str, str]:
    """Versions of the array libraries that ran (for docs/gpu_baseline.md)."""
    import importlib.metadata as md

    out = {"python": sys.version.split()[0], "numpy": np.__version__}
    for name in ("jax", "jaxlib", "torch"):
        with contextlib.suppress(md.PackageNotFoundError):
            out[name] = md.version(name)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, measure (unless ``--model-only``), predict, print; return the exit status."""
    args = build_parser().parse_args(argv)
    for name in ("batch", "timesteps", "steps"):
        if getattr(args, name) < 1:
            build_parser().error(f"--{name} must be at least 1")
    if args.warmup < 0:
        build_parser().error("--warmup must be at least 0")
    result: dict[str, Any] = {
        "layers": args.layers,
        "batch": args.batch,
        "timesteps": args.timesteps,
        "optimizer": args.optimizer,
        "matmul_precision": args.matmul_precision,
        "steps": args.steps,
        "warmup": args.warmup,
    }
    try:
        model = predict(args)  # first, so that a bad --gpu fails before a long measurement
    except ValueError as err:  # mimdsim's ConfigError is a ValueError
        print(f"gpu_dense_snn: {err}", file=sys.stderr)
        return 2
    if not args.model_only:
        result["versions"] = _versions()
        result["measured"] = measure(args)
        for run in result["measured"]:
            run["model_ms_per_step"] = model[run["framework"]]["ms_per_step"]
    result["model"] = model
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"dense SNN BPTT step: layers {args.layers}, B={args.batch}, T={args.timesteps}, {args.optimizer}")
    for m in result.get("measured", []):
        print(
            f"  measured [{m['backend']} {m['loop']} on {m['device_name']}]: {m['ms_per_step']:.3f} ms/step "
            f"(median of {args.steps}), {m['samples_per_s']:.1f} samples/s; model [{m['framework']}] "
            f"{m['model_ms_per_step']:.3f} ms/step"
        )
    for fw, p in model.items():
        extra = ", ".join(f"{k} {v:.2f} ms" for k, v in p["overhead_ms"].items())
        print(
            f"  model [{p['gpu']}, {p['matmul_precision']}, {fw}]: {p['ms_per_step']:.3f} ms/step, "
            f"{p['samples_per_s']:.1f} samples/s, {p['dominant']}-dominated (compute {p['compute_bound_ms']:.2f} ms, "
            f"memory {p['memory_bound_ms']:.2f} ms, launch {p['launch_ms']:.2f} ms{', ' + extra if extra else ''}, "
            f"{p['total_launches']} launches)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
