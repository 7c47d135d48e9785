"""Networks from the SNN ecosystem: a NIR graph (Neuromorphic Intermediate Representation) as an SNN spec.

snnTorch, Norse, Sinabs, Rockpool, Lava and others export NIR (``nir`` on PyPI: numpy and h5py,
no framework). :func:`snn_from_nir` reads a graph (a ``nir.NIRGraph`` or a ``.nir`` file) and maps
what the authors' sparse algorithm can run: a chain ``Input -> (Affine | Linear -> LIF)+ -> Output``
(``Conv2d`` in place of a weight layer; ``Flatten`` and ``Identity`` pass through), into an :class:`~mimdsim.snn.model.spec.SNNSpec` of the same
sizes:

* each ``Affine`` / ``Linear`` weight ``[out, in]`` gives a layer of ``out`` neurons; the zeros of
  a weight matrix become the layer's connection mask (``explicit`` connectivity,
  :class:`~mimdsim.snn.model.connectivity.Explicit`): the same synapses, pattern and all;
* ``LIF`` gives the decay ``exp(-dt / tau)`` and the threshold ``v_threshold``; the authors' model has
  one decay and one threshold for the whole network and a leak to 0 with a reset to 0, so every
  neuron must share ``tau`` and ``v_threshold``, ``v_leak`` must be 0 and ``v_reset`` (if given) 0;
* ``Conv2d`` over an input of shape ``[C, H, W]`` gives a layer of ``C_out x H_out x W_out``
  neurons with ``local2d`` receptive fields (:class:`~mimdsim.snn.model.connectivity.Local2D`): every
  output position fed by a ``kh x kw`` window of all input channels (the output size from the
  stride and padding; the windows are centred as ``local2d`` centres them, which matches the
  convolution's alignment for "same" padding and approximates it otherwise). Groups and dilation
  are refused;
* ``CubaLIF`` is taken as a ``LIF`` of ``tau_mem`` only when its synaptic filter is instantaneous
  (``tau_syn <= dt``): the sparse algorithm has no synaptic current state;
* anything else (``IF``, without a leak the authors' update has no input term; recurrent edges,
  branches, pooling, other nodes) is refused with one line naming the node and why.

The estimate uses the graph's shape; the functional model draws its own weights (``weight_mul``)
unless given the graph's: ``functional_activity(spec, weights=nir_weights(graph))`` runs *the
user's* trained network, and its activity can be passed to ``estimate_training_step`` as the
activity source.

Needs the optional ``nir`` package (``pip install 'mimdsim[nir]'``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mimdsim.errors import ConfigError, MissingPackageError
from mimdsim.snn.model.connectivity import Explicit
from mimdsim.snn.model.spec import SNNSpec, sparse_size_for_activity

__all__ = ["snn_from_nir", "read_nir", "nir_weights"]

_PASS_THROUGH = ("Flatten", "Identity")
_WEIGHTS = ("Affine", "Linear")
_NEURONS = ("LIF", "CubaLIF")


def read_nir(graph_or_path: Any) -> Any:
    """A ``nir.NIRGraph``: the one given, or the one stored in a ``.nir`` file."""
    if not isinstance(graph_or_path, str | os.PathLike):
        if not hasattr(graph_or_path, "nodes") or not hasattr(graph_or_path, "edges"):
            raise ConfigError(f"NIR: expected a nir.NIRGraph or a .nir file, got {type(graph_or_path).__name__}")
        return graph_or_path
    try:
        import nir
    except ImportError:
        raise MissingPackageError("reading a NIR graph needs the nir package: pip install 'mimdsim[nir]'") from None
    path = Path(graph_or_path)
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    try:
        return nir.read(str(path))
    except Exception as err:  # h5py and nir raise many kinds; the file is what the user gave
        raise ConfigError(f"{path}: not a readable NIR graph ({type(err).__name__}: {err})") from None


def _uniform(node_name: str, field: str, value: Any) -> float:
    arr = np.asarray(value, dtype=np.float64).reshape(-1)
    if arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ConfigError(f"NIR node {node_name!r}: {field} must hold finite numbers")
    if np.ptp(arr) > 1e-9 * max(1.0, float(np.abs(arr).max())):
        raise ConfigError(
            f"NIR node {node_name!r}: {field} differs between neurons ({arr.min():g} to {arr.max():g}); the authors' model has one value "
            "for the whole network"
        )
    return float(arr[0])


def _chain(graph: Any) -> list[tuple[str, Any]]:
    """The graph's nodes from its one input to its one output, refusing branches and cycles."""
    nodes: Mapping[str, Any] = graph.nodes
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    pred: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in graph.edges:
        if a not in nodes or b not in nodes:
            raise ConfigError(f"NIR: edge ({a!r}, {b!r}) names a node the graph does not have")
        succ[a].append(b)
        pred[b].append(a)
    inputs = [n for n, node in nodes.items() if type(node).__name__ == "Input"]
    if len(inputs) != 1:
        raise ConfigError(f"NIR: the graph has {len(inputs)} Input nodes; a feed-forward chain has exactly one")
    out: list[tuple[str, Any]] = []
    name = inputs[0]
    seen: set[str] = set()
    while True:
        if name in seen:
            raise ConfigError(
                f"NIR node {name!r}: a recurrent edge comes back to it; the authors' algorithm runs feed-forward layers only"
            )
        seen.add(name)
        out.append((name, nodes[name]))
        if len(pred[name]) > 1:
            raise ConfigError(f"NIR node {name!r}: {len(pred[name])} inputs (a merge); only a chain of layers can run")
        nxt = succ[name]
        if not nxt:
            break
        if len(nxt) > 1:
            raise ConfigError(f"NIR node {name!r}: {len(nxt)} outputs (a branch); only a chain of layers can run")
        name = nxt[0]
    if type(out[-1][1]).__name__ != "Output":
        raise ConfigError(f"NIR node {out[-1][0]!r}: the chain from the Input ends without an Output node")
    return out


def _dense_layer(node_name: str, node: Any, width: int) -> tuple[str, int, float, dict[str, Any] | None, tuple[int, ...]]:
    """An ``Affine`` / ``Linear`` as a layer; the zeros of its weight matrix as an explicit mask."""
    w = np.asarray(node.weight, dtype=np.float64)
    if w.ndim != 2:
        raise ConfigError(f"NIR node {node_name!r}: a {w.ndim}-d weight; only dense [out, in] matrices map to a layer")
    if w.shape[1] != width:
        raise ConfigError(
            f"NIR node {node_name!r}: weight [{w.shape[0]}, {w.shape[1]}] takes {w.shape[1]} inputs, the layer before has {width}"
        )
    nonzero = w != 0
    density = float(nonzero.mean())
    conn = Explicit.from_mask(nonzero.T).model_dump() if 0 < density < 1 else None
    return node_name, int(w.shape[0]), density, conn, (int(w.shape[0]),)


def _pair(node_name: str, field: str, value: Any) -> tuple[int, int]:
    v = np.asarray(value).reshape(-1)
    if v.size == 1:
        v = np.repeat(v, 2)
    if v.size != 2 or v.dtype.kind not in "iu":
        raise ConfigError(f"NIR node {node_name!r}: {field} {value!r} must be one or two integers")
    return int(v[0]), int(v[1])


def _conv_layer(node_name: str, node: Any, shape: tuple[int, ...]) -> tuple[str, int, float, dict[str, Any], tuple[int, ...]]:
    """A ``Conv2d``'s neurons as a ``local2d`` layer: every output position fed by a kernel window of all input channels."""
    w = np.asarray(node.weight)
    if w.ndim != 4:
        raise ConfigError(f"NIR node {node_name!r}: a Conv2d weight must be [C_out, C_in, kh, kw] (got {w.ndim}-d)")
    if len(shape) != 3:
        raise ConfigError(
            f"NIR node {node_name!r}: a Conv2d needs an input of shape [C, H, W], the layer before gives {list(shape)}"
        )
    c_in, h, wd = shape
    c_out, c_w, kh, kw = (int(v) for v in w.shape)
    if int(node.groups) != 1 or c_w != c_in:
        raise ConfigError(
            f"NIR node {node_name!r}: grouped convolutions (groups {node.groups}, {c_w} of {c_in} channels) are not mapped"
        )
    if _pair(node_name, "dilation", node.dilation) != (1, 1):
        raise ConfigError(f"NIR node {node_name!r}: dilated convolutions are not mapped")
    sy, sx = _pair(node_name, "stride", node.stride)
    if isinstance(node.padding, str):
        if node.padding not in ("same", "valid"):
            raise ConfigError(f"NIR node {node_name!r}: padding {node.padding!r} (allowed: same, valid, integers)")
        py, px = ((kh - 1) // 2, (kw - 1) // 2) if node.padding == "same" else (0, 0)
    else:
        py, px = _pair(node_name, "padding", node.padding)
    h_out, w_out = (h + 2 * py - kh) // sy + 1, (wd + 2 * px - kw) // sx + 1
    if h_out < 1 or w_out < 1 or kh > h or kw > wd:
        raise ConfigError(f"NIR node {node_name!r}: a {kh} x {kw} kernel does not fit the {h} x {wd} input")
    conn = {"kind": "local2d", "in_shape": [h, wd, c_in], "out_shape": [h_out, w_out, c_out], "kernel": [kh, kw]}
    return node_name, c_out * h_out * w_out, 1.0, conn, (c_out, h_out, w_out)


def snn_from_nir(
    graph_or_path: Any,
    *,
    dt: float = 1e-3,
    batch_size: int = 48,
    n_timesteps: int = 100,
    max_activity: float = 0.01,
    input_sparse_size: int | None = None,
    name: str | None = None,
) -> SNNSpec:
    """The :class:`SNNSpec` of a NIR graph's chain of layers (see the module docstring).

    ``dt`` (seconds) turns the graph's time constants into the decay per time step; ``max_activity``
    sets every layer's sparse size as for a model file; ``input_sparse_size`` defaults to the sparse
    size ``max_activity`` gives the input (at least 1).

    Raises
    ------
    ConfigError
        A node or structure the sparse algorithm cannot run (the message names the node), bad sizes.
    MissingPackageError
        Reading a ``.nir`` file without the ``nir`` package.
    """
    if not (isinstance(dt, int | float) and 0 < dt < math.inf):
        raise ConfigError(f"NIR: dt must be a positive number of seconds (got {dt!r})")
    graph = read_nir(graph_or_path)
    chain = _chain(graph)
    kinds = [type(node).__name__ for _, node in chain]
    first = chain[0][1]
    dims = np.asarray(
        next(iter(first.input_type.values())) if isinstance(first.input_type, Mapping) else first.input_type
    ).reshape(-1)
    n_inputs = int(np.prod(dims))
    layers: list[tuple[int, float, dict[str, Any] | None]] = []  # (neurons, density, local2d connectivity)
    decays: list[tuple[str, float]] = []
    thresholds: list[tuple[str, float]] = []
    shape: tuple[int, ...] = tuple(int(v) for v in dims) if dims.size in (1, 3) else (n_inputs,)
    pending: tuple[str, int, float, dict[str, Any] | None, tuple[int, ...]] | None = (
        None  # node, neurons, density, conn, out shape
    )
    for (node_name, node), kind in zip(chain[1:-1], kinds[1:-1], strict=True):
        width = int(np.prod(shape))
        if kind in _PASS_THROUGH:
            if kind == "Flatten":
                shape = (width,)
            continue
        if kind in _WEIGHTS or kind == "Conv2d":
            if pending is not None:
                raise ConfigError(
                    f"NIR node {node_name!r}: two weight layers in a row ({pending[0]!r}, {node_name!r}) with no neurons between"
                )
            pending = _conv_layer(node_name, node, shape) if kind == "Conv2d" else _dense_layer(node_name, node, width)
            continue
        if kind in _NEURONS:
            if pending is None:
                raise ConfigError(f"NIR node {node_name!r}: neurons without a weight layer before them")
            if kind == "CubaLIF":
                tau_syn = np.asarray(node.tau_syn, dtype=np.float64)
                if np.any(tau_syn > dt):
                    raise ConfigError(
                        f"NIR node {node_name!r}: CubaLIF with tau_syn {float(tau_syn.max()):g} s > dt {dt:g} s: the sparse algorithm has no "
                        "synaptic current state"
                    )
                tau = _uniform(node_name, "tau_mem", node.tau_mem)
            else:
                tau = _uniform(node_name, "tau", node.tau)
            if tau <= 0:
                raise ConfigError(f"NIR node {node_name!r}: tau {tau:g} must be positive")
            if abs(_uniform(node_name, "v_leak", node.v_leak)) > 0:
                raise ConfigError(f"NIR node {node_name!r}: v_leak must be 0 (the authors' neurons leak to 0)")
            if getattr(node, "v_reset", None) is not None and abs(_uniform(node_name, "v_reset", node.v_reset)) > 0:
                raise ConfigError(f"NIR node {node_name!r}: v_reset must be 0 (the authors' neurons reset to 0)")
            _, n_out, density, conn, out_shape = pending
            if np.asarray(node.v_threshold).size not in (1, n_out):
                raise ConfigError(f"NIR node {node_name!r}: {np.asarray(node.v_threshold).size} thresholds for {n_out} neurons")
            decays.append((node_name, math.exp(-dt / tau)))
            thresholds.append((node_name, _uniform(node_name, "v_threshold", node.v_threshold)))
            layers.append((n_out, density, conn))
            shape = out_shape
            pending = None
            continue
        why = {
            "IF": "an IF neuron has no leak, and the authors' update scales its input by (1 - decay)",
            "SumPool2d": "pooling sums spikes into currents; the sparse algorithm has no such layer",
            "AvgPool2d": "pooling sums spikes into currents; the sparse algorithm has no such layer",
            "Conv1d": "1-D convolutions are not mapped",
        }.get(kind, "not a node the sparse algorithm runs")  # fmt: skip
        raise ConfigError(f"NIR node {node_name!r} ({kind}): {why}")
    if pending is not None:
        raise ConfigError(f"NIR node {pending[0]!r}: a weight layer with no neurons after it")
    if not layers:
        raise ConfigError("NIR: the graph holds no layer of neurons")
    for values, what in ((decays, "decay (tau)"), (thresholds, "v_threshold")):
        vals = [v for _, v in values]
        if max(vals) - min(vals) > 1e-9 * max(1.0, abs(max(vals))):
            names = ", ".join(f"{n} {v:g}" for n, v in values)
            raise ConfigError(f"NIR: the layers differ in {what} ({names}); the authors' model has one for the whole network")
    sizes = [n for n, _, _ in layers]
    s_in = input_sparse_size if input_sparse_size is not None else max(1, sparse_size_for_activity(n_inputs, max_activity))
    layer_specs = []
    for i, (n, density, conn) in enumerate(layers):
        layer: dict[str, Any] = {
            "n_neurons": n,
            "sparse_size": sparse_size_for_activity(n, max_activity, is_output=i == len(layers) - 1),
        }
        if density <= 0:
            raise ConfigError(f"NIR: layer {i} ({sizes[i]} neurons) has an all-zero weight matrix")
        if conn is not None:
            layer["connectivity"] = conn
        layer_specs.append(layer)
    threshold = thresholds[0][1]
    data = {
        "name": name or (Path(graph_or_path).stem if isinstance(graph_or_path, str | os.PathLike) else "nir"),
        "n_inputs": n_inputs, "input_sparse_size": int(s_in), "layers": layer_specs, "batch_size": batch_size,
        "n_timesteps": n_timesteps, "decay": decays[0][1], "threshold": threshold, "second_threshold": min(0.9 * threshold, threshold),
    }  # fmt: skip
    from pydantic import ValidationError

    from mimdsim.arch.load import format_validation_error

    try:
        return SNNSpec.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, "NIR graph")) from None


def nir_weights(graph_or_path: Any) -> list[np.ndarray]:
    """The weight matrices of the graph's chain, ``[inputs, neurons]`` per layer (the functional model's layout).

    >>> import numpy as np, pytest; nir = pytest.importorskip("nir")
    >>> g = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([3])), "fc": nir.Linear(weight=np.ones((2, 3))),
    ...     "lif": nir.LIF(tau=np.full(2, 0.02), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2)),
    ...     "output": nir.Output(output_type=np.array([2]))}, edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")])
    >>> [w.shape for w in nir_weights(g)]
    [(3, 2)]
    """
    graph = read_nir(graph_or_path)
    return [
        np.ascontiguousarray(np.asarray(node.weight, dtype=np.float32).T)
        for _, node in _chain(graph)
        if type(node).__name__ in _WEIGHTS
    ]
