"""Fixed connectivity of a layer: which input neurons feed which neurons (a {0, 1} mask).

The model file gives it per layer (docs/snn.md, "Connectivity"):

* **dense** (the paper's): every input feeds every neuron; no mask;
* **random** (``connection_density`` < 1): every weight kept independently with that
  probability, drawn from ``np.random.default_rng([connection_seed, layer])``;
* **local2d** (:class:`Local2D`): neurons on a 2-D grid ``out_shape = [H, W, C]``, each fed by a
  ``kernel = [kh, kw]`` window of the input grid ``in_shape`` over all its channels,
  centred at the neuron's position scaled to the input grid (convolution-like, "same" padding:
  windows are clipped at the border). A grid position ``(y, x, c)`` is neuron
  ``(y W + x) C + c``, the order of NMNIST/DVS event addresses;
* **small_world** (:class:`SmallWorld`): inputs and neurons on one ring; neuron ``j`` is fed by
  the ``neighbours`` inputs nearest ``j n_in / n_out``, each of those links rewired with
  probability ``rewire`` to a uniform random input (Watts and Strogatz, Nature 393, 1998);
* **explicit** (:class:`Explicit`): a given ``[n_in, n_out]`` mask, bit-packed (the zeros of an
  imported weight matrix, :mod:`mimdsim.snn.model.nir`).

``LayerSpec.shuffle_seed`` permutes a layer's neuron ids: neuron ``i`` sits at grid
position ``perm[i]`` (``np.random.default_rng([shuffle_seed, layer]).permutation``), the
"shuffled ids" case where a contiguous mapping scatters neighbours over tiles. The next
layer's local windows follow the grid, so they see the permuted ids. The network input is
never permuted.
"""

from __future__ import annotations

import base64
import binascii
import functools
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, model_validator

from mimdsim.errors import ConfigError

if TYPE_CHECKING:
    from mimdsim.snn.model.spec import SNNSpec

__all__ = ["Local2D", "SmallWorld", "Explicit", "connection_mask", "neuron_positions", "is_sparse_layer"]

_SHAPE = Field(min_length=3, max_length=3)


class Local2D(BaseModel):
    """2-D local receptive fields (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["local2d"] = "local2d"
    in_shape: tuple[StrictInt, StrictInt, StrictInt] = _SHAPE
    out_shape: tuple[StrictInt, StrictInt, StrictInt] = _SHAPE
    kernel: tuple[StrictInt, StrictInt] = Field(min_length=2, max_length=2)

    @model_validator(mode="after")
    def _positive(self) -> Local2D:
        for name in ("in_shape", "out_shape", "kernel"):
            if any(v < 1 for v in getattr(self, name)):
                raise ValueError(f"{name}: {list(getattr(self, name))} must be positive")
        if self.kernel[0] > self.in_shape[0] or self.kernel[1] > self.in_shape[1]:
            raise ValueError(f"kernel {list(self.kernel)} is larger than the input grid {list(self.in_shape[:2])}")
        return self


class SmallWorld(BaseModel):
    """A ring lattice with random rewiring (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["small_world"] = "small_world"
    neighbours: StrictInt = Field(gt=0, le=1 << 20)
    rewire: StrictFloat = Field(ge=0, le=1, allow_inf_nan=False)
    seed: StrictInt = Field(0, ge=0, lt=2**63)


class Explicit(BaseModel):
    """A given mask ``[n_in, n_out]``: ``bits`` is its ``np.packbits`` (row-major, little bit order), base64.

    >>> m = np.array([[1, 0, 1], [0, 1, 0]], bool)
    >>> Explicit.from_mask(m).mask().tolist() == m.tolist()
    True
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["explicit"] = "explicit"
    shape: tuple[StrictInt, StrictInt] = Field(min_length=2, max_length=2)
    bits: str

    @model_validator(mode="after")
    def _fits(self) -> Explicit:
        if min(self.shape) < 1:
            raise ValueError(f"shape: {list(self.shape)} must be positive")
        try:
            n = len(base64.b64decode(self.bits, validate=True))
        except (binascii.Error, ValueError):
            raise ValueError("bits: not base64") from None
        if n != -(-self.shape[0] * self.shape[1] // 8):
            raise ValueError(
                f"bits: {n} bytes for a {self.shape[0]} x {self.shape[1]} mask (expected {-(-self.shape[0] * self.shape[1] // 8)})"
            )
        return self

    @classmethod
    def from_mask(cls, mask: np.ndarray) -> Explicit:
        m = np.asarray(mask, bool)
        if m.ndim != 2:
            raise ConfigError(f"explicit connectivity: a mask must be [n_in, n_out] (got {m.ndim}-d)")
        return cls(
            shape=(int(m.shape[0]), int(m.shape[1])),
            bits=base64.b64encode(np.packbits(m, axis=None, bitorder="little").tobytes()).decode(),
        )

    def mask(self) -> np.ndarray:
        n_in, n_out = self.shape
        flat = np.unpackbits(np.frombuffer(base64.b64decode(self.bits), np.uint8), count=n_in * n_out, bitorder="little")
        return flat.reshape(n_in, n_out).astype(bool)


def is_sparse_layer(spec: SNNSpec, layer: int) -> bool:
    """Whether layer ``layer`` has a connectivity mask (not all-to-all)."""
    lay = spec.layers[layer]
    return lay.connectivity is not None or lay.connection_density < 1.0


def neuron_positions(spec: SNNSpec, layer: int) -> np.ndarray:
    """Grid position of every neuron id of spike tensor ``layer`` (0: the input, never permuted).

    >>> from mimdsim.snn.model.spec import LayerSpec, SNNSpec
    >>> spec = SNNSpec(n_inputs=4, input_sparse_size=2, batch_size=1, n_timesteps=1,
    ...                layers=[LayerSpec(n_neurons=4, sparse_size=2, shuffle_seed=1)])
    >>> neuron_positions(spec, 0).tolist(), sorted(neuron_positions(spec, 1).tolist())
    ([0, 1, 2, 3], [0, 1, 2, 3])
    """
    n = spec.layer_sizes[layer]
    seed = None if layer == 0 else spec.layers[layer - 1].shuffle_seed
    if seed is None:
        return np.arange(n, dtype=np.int64)
    return np.random.default_rng([seed, layer - 1]).permutation(n).astype(np.int64)


def _local2d_grid(c: Local2D) -> np.ndarray:
    """``[n_in, n_out]`` mask in grid order."""
    hi, wi, ci = c.in_shape
    ho, wo, co = c.out_shape
    kh, kw = c.kernel
    y0 = np.clip(np.round((np.arange(ho) + 0.5) * hi / ho - 0.5 - (kh - 1) / 2).astype(np.int64), 0, hi - kh)
    x0 = np.clip(np.round((np.arange(wo) + 0.5) * wi / wo - 0.5 - (kw - 1) / 2).astype(np.int64), 0, wi - kw)
    mask = np.zeros((hi * wi * ci, ho * wo * co), bool)
    out = np.arange(ho * wo * co).reshape(ho, wo, co)
    for dy in range(kh):
        for dx in range(kw):
            iy, ix = y0[:, None] + dy, x0[None, :] + dx  # [ho, wo]
            for cc in range(ci):
                src = (iy * wi + ix) * ci + cc
                mask[np.broadcast_to(src[:, :, None], out.shape).reshape(-1), out.reshape(-1)] = True
    return mask


def _small_world_grid(c: SmallWorld, n_in: int, n_out: int, layer: int) -> np.ndarray:
    k = min(c.neighbours, n_in)
    centre = np.round(np.arange(n_out) * n_in / n_out).astype(np.int64)
    src = (centre[:, None] + np.arange(k)[None, :] - k // 2) % n_in  # [n_out, k]
    rng = np.random.default_rng([c.seed, layer])
    rewired = rng.random(src.shape) < c.rewire
    src = np.where(rewired, rng.integers(0, n_in, src.shape), src)
    mask = np.zeros((n_in, n_out), bool)
    mask[src.reshape(-1), np.repeat(np.arange(n_out), k)] = True
    return mask


@functools.lru_cache(maxsize=16)
def _mask_cached(spec: SNNSpec, layer: int) -> np.ndarray | None:
    lay = spec.layers[layer]
    n_in, n_out = spec.layer_sizes[layer], lay.n_neurons
    conn = lay.connectivity
    if conn is None:
        if lay.connection_density >= 1.0:
            return None
        rng = np.random.default_rng([lay.connection_seed, layer])
        grid = rng.random((n_in, n_out)) < lay.connection_density
    elif isinstance(conn, Local2D):
        if int(np.prod(conn.in_shape)) != n_in or int(np.prod(conn.out_shape)) != n_out:
            raise ConfigError(
                f"layers[{layer}].connectivity: in_shape {list(conn.in_shape)} x out_shape {list(conn.out_shape)} does not match "
                f"the layer's {n_in} inputs and {n_out} neurons"
            )
        grid = _local2d_grid(conn)
    elif isinstance(conn, Explicit):
        if conn.shape != (n_in, n_out):
            raise ConfigError(
                f"layers[{layer}].connectivity: an explicit {conn.shape[0]} x {conn.shape[1]} mask for {n_in} inputs and {n_out} neurons"
            )
        grid = conn.mask()
    else:
        grid = _small_world_grid(conn, n_in, n_out, layer)
    mask = grid[np.ix_(neuron_positions(spec, layer), neuron_positions(spec, layer + 1))]
    mask.flags.writeable = False
    return mask


def connection_mask(spec: SNNSpec, layer: int) -> np.ndarray | None:
    """The fixed {0, 1} connectivity mask ``[N_{l-1}, N_l]`` (bool, read-only) of layer ``layer``.

    None for a dense layer. Random masks keep every weight independently with probability
    ``connection_density``, drawn from ``np.random.default_rng([connection_seed, layer])``,
    so layers sharing a seed still get different masks and the mask never depends on the
    weight seed.

    >>> from mimdsim.snn.model.spec import LayerSpec, SNNSpec
    >>> spec = SNNSpec(n_inputs=50, input_sparse_size=5, batch_size=1, n_timesteps=1,
    ...                layers=[LayerSpec(n_neurons=40, sparse_size=4, connection_density=0.25)])
    >>> m = connection_mask(spec, 0)
    >>> m.shape, bool(0.2 < m.mean() < 0.3)
    ((50, 40), True)
    >>> local = SNNSpec(n_inputs=16, input_sparse_size=2, batch_size=1, n_timesteps=1, layers=[LayerSpec(
    ...     n_neurons=4, sparse_size=2, connectivity=Local2D(in_shape=(4, 4, 1), out_shape=(2, 2, 1), kernel=(2, 2)))])
    >>> connection_mask(local, 0)[:, 0].nonzero()[0].tolist()   # neuron (0, 0) sees the top-left 2x2 window
    [0, 1, 4, 5]
    """
    if not 0 <= layer < len(spec.layers):
        raise ConfigError(f"layer: {layer} is outside 0..{len(spec.layers) - 1}")
    return _mask_cached(spec, layer)
