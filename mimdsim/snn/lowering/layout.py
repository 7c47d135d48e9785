"""Where the sparse SNN training step puts its work and buffers (GSNN PC (tile mapping)).

Built from an :class:`SNNSpec`, a machine and a neuron mapping; pure data, no costs.
Layer ``l`` (0-based over hidden and output layers) reads spike tensor ``l`` (tensor 0 is
the network input) and writes spike tensor ``l + 1``.

* **Neuron tiles** (GSNN MI, PC): from the mapping; neurons per tile may differ on a layer's
  last tile.
* **Spike-generation slots** (GSNN PC): per IPU, ``sum_l B x 2 x f_l`` slots for the layers on
  that IPU, ordered (layer, batch, threshold, j), slot ``i`` on tile
  ``floor(i x tiles_per_ipu / total)`` of that IPU. With ``W`` worker contexts per tile
  (6 on the IPU; the authors' code reads ``getNumWorkerContexts()``), layer ``l`` splits
  its neurons into ``min(W f_l, N)`` contiguous slices and slot ``j`` holds slices
  ``Wj .. Wj+W-1``. The spread factor ``f_l`` is ``max(w // W + [w mod W >= 2], 1)`` with
  ``w = N // 64 + [N mod 64 > 32]``. The final combine of (layer, b) is on the slot tile
  of (layer, b, threshold 0, j = 0).
* **Sequence buffers**: the input ids ``[T, B, S_0 + 1]``, every layer's output ids and
  counts ``[T, B, S + 2]`` and the loss gradient ``[T, B, S_L]`` are sliceable tensors; each
  batch row ``[T, ...]`` of a buffer is kept whole on one tile (slicing step ``t`` is then a
  local copy), rows spread linearly over the IPU's tiles (tile 0 of IPU 0 excluded).
* **Input-gradient reduction** (GSNN PC `Build_grad`): layers ``l >= 1`` group their tiles in
  groups of ``g = min(B // 2, P_l)`` (the last group takes the remainder); the stage-1
  vertices (group, b, slot) are spread evenly, in that order, over a tile budget
  proportional to ``P_l^0.8 x S_in x B`` among the IPU's layers; the stage-2 result of
  (layer, b) is on the tile of vertex (group 0, b, slot 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mimdsim.arch.spec import MachineSpec
from mimdsim.partition.mapping import NeuronMapping
from mimdsim.program.unique import unique_ints
from mimdsim.snn.model.connectivity import connection_mask
from mimdsim.snn.model.spec import SNNSpec

__all__ = ["spread_factor", "LayerLayout", "SNNLayout", "build_layout", "tile_sources", "tile_incidence"]

DESIRED_SLICE_NEURONS = 64
"""``desired_per_worker_size`` of the paper's dense-to-sparse split (GSNN PC)."""


def spread_factor(n_neurons: int, n_workers: int = 6) -> int:
    """Spike-generation tiles per (batch, threshold) of a layer of ``n_neurons``.

    >>> spread_factor(1466), spread_factor(10)   # GSNN PC `determine_layerwise_tile_spread_factor`, `determine_tile_mapping`: f = 4 and 1
    (4, 1)
    """
    w = n_neurons // DESIRED_SLICE_NEURONS + (1 if n_neurons % DESIRED_SLICE_NEURONS > 32 else 0)
    return max(w // n_workers + (1 if w % n_workers >= 2 else 0), 1)


@dataclass(frozen=True, eq=False)
class LayerLayout:
    """Placement of one layer's work."""

    index: int
    ipu: int
    n_neurons: int
    n_inputs: int
    sparse_size: int
    input_sparse_size: int
    tiles: np.ndarray  # the layer's neuron tiles, ascending
    tile_neurons: np.ndarray  # neurons on each of those tiles
    tile_sources: np.ndarray  # input neurons connected to each tile (n_inputs when dense)
    spread: int
    slice_bounds: np.ndarray  # [n_slices + 1] neuron bounds of the dense-to-sparse slices
    slot_tiles: np.ndarray  # [B, 2, spread] spike-generation tile of each slot
    combine_tiles: np.ndarray  # [B] final-combine tile of each batch element
    seq_tiles: np.ndarray  # [B] tile holding the output sequence row of each batch element
    group_of_tile: np.ndarray | None  # [P] stage-1 group of each neuron tile (layers >= 1)
    n_groups: int
    stage1_tile: np.ndarray | None  # [n_groups, B, S_in] tile of each stage-1 vertex
    stage2_tiles: np.ndarray | None  # [B] tile of the stage-2 result of each batch element
    workers: int = 6  # dense-to-sparse slices per slot: the tile's worker contexts

    @property
    def dense(self) -> bool:
        return bool(np.all(self.tile_sources == self.n_inputs))

    def slot_slices(self, j: int) -> tuple[int, int]:
        """First and one-past-last slice index held by slot ``j``."""
        n = self.slice_bounds.size - 1
        return min(self.workers * j, n), min(self.workers * j + self.workers, n)


@dataclass(frozen=True, eq=False)
class SNNLayout:
    """Placement of the whole training step."""

    layers: tuple[LayerLayout, ...]
    input_seq_tiles: np.ndarray  # [B] tile of each batch element's input sequence row
    loss_tiles: np.ndarray  # [B] tile of each batch element's loss (and loss-gradient row)
    counter_tile: int  # tile running the counted loop's bookkeeping


def _spread_rows(n_rows: int, first_tile: int, n_avail: int) -> np.ndarray:
    return first_tile + (np.arange(n_rows, dtype=np.int64) * n_avail) // max(n_rows, 1)


def tile_incidence(mask: np.ndarray, neuron_tile: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(tiles, inc)``: the layer's tiles (ascending) and ``inc[i, j]``, whether input ``i`` feeds a neuron on ``tiles[j]``.

    >>> t, inc = tile_incidence(np.array([[1, 0, 0], [0, 0, 1]], bool), np.array([7, 3, 7]))
    >>> t.tolist(), inc.astype(int).tolist()
    ([3, 7], [[0, 1], [0, 1]])
    """
    order = np.argsort(neuron_tile, kind="stable")
    tiles, starts = unique_ints(neuron_tile[order], return_index=True)
    return tiles, np.logical_or.reduceat(mask[:, order], starts, axis=1) if order.size else np.zeros((mask.shape[0], 0), bool)


def tile_sources(spec: SNNSpec, layer: int, neuron_tile: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(tiles, sources)``: layer ``layer``'s tiles and the input neurons connected to each (its fan-in)."""
    mask = connection_mask(spec, layer)
    if mask is None:
        tiles = unique_ints(neuron_tile)
        return tiles, np.full(tiles.size, spec.layer_sizes[layer], np.int64)
    tiles, inc = tile_incidence(mask, neuron_tile)
    return tiles, inc.sum(axis=0).astype(np.int64)


def build_layout(spec: SNNSpec, machine: MachineSpec, mapping: NeuronMapping) -> SNNLayout:
    """Place slots, sequence buffers and reduction vertices for ``spec`` on ``machine``."""
    tpi = machine.tiles_per_ipu
    n_workers = machine.num_worker_contexts
    b_size = spec.batch_size
    sizes = spec.layer_sizes
    sparse = spec.sparse_sizes
    n_layers = len(spec.layers)
    ipus = [lp.ipu for lp in mapping.layers]

    # sequence-buffer rows per IPU: input (on layer 0's IPU), each layer's output, loss grad
    rows: dict[int, list[tuple[str, int, int]]] = {}
    rows.setdefault(ipus[0], []).extend(("in", -1, b) for b in range(b_size))
    for li in range(n_layers):
        rows.setdefault(ipus[li], []).extend(("out", li, b) for b in range(b_size))
    rows.setdefault(ipus[-1], []).extend(("loss", -1, b) for b in range(b_size))
    row_tile: dict[tuple[str, int, int], int] = {}
    for ipu, items in rows.items():
        first = ipu * tpi + (1 if ipu == 0 else 0)
        avail = tpi - (1 if ipu == 0 else 0)
        for item, tile in zip(items, _spread_rows(len(items), first, avail), strict=True):
            row_tile[item] = int(tile)

    # spike-generation slots per IPU
    slot_tiles: dict[int, np.ndarray] = {}
    for ipu in sorted(set(ipus)):
        on_ipu = [li for li in range(n_layers) if ipus[li] == ipu]
        total = sum(b_size * 2 * spread_factor(sizes[li + 1], n_workers) for li in on_ipu)
        tiles = ipu * tpi + (np.arange(total, dtype=np.int64) * tpi) // total
        offset = 0
        for li in on_ipu:
            f = spread_factor(sizes[li + 1], n_workers)
            n = b_size * 2 * f
            slot_tiles[li] = tiles[offset : offset + n].reshape(b_size, 2, f)
            offset += n

    # stage-1 budgets per IPU
    budget: dict[int, tuple[int, int]] = {}
    for ipu in sorted(set(ipus)):
        on_ipu = [li for li in range(n_layers) if ipus[li] == ipu and li >= 1]
        if not on_ipu:
            continue
        weights = np.array([mapping.layers[li].n_tiles ** 0.8 * sparse[li] * b_size for li in on_ipu])
        first = ipu * tpi + (1 if ipu == 0 else 0)
        avail = tpi - (1 if ipu == 0 else 0)
        shares = np.maximum(np.floor(avail * weights / weights.sum()).astype(np.int64), 1)
        start = first
        for li, share in zip(on_ipu, shares, strict=True):
            budget[li] = (start, int(min(share, first + avail - start)))
            start = min(start + int(share), first + avail - 1)

    layers = []
    for li in range(n_layers):
        lp = mapping.layers[li]
        n, n_in = sizes[li + 1], sizes[li]
        tiles = lp.tiles
        counts = lp.neurons_per_tile()
        sources = tile_sources(spec, li, lp.neuron_tile)[1]
        f = spread_factor(n, n_workers)
        n_slices = min(n_workers * f, n)
        bounds = (np.arange(n_slices + 1, dtype=np.int64) * n) // n_slices
        s_in = sparse[li]
        group_of_tile = stage1 = stage2 = None
        n_groups = 0
        if li >= 1:
            p = tiles.size
            g = max(min(b_size // 2, p), 1)
            n_groups = max(p // g, 1)
            group_of_tile = np.minimum(np.arange(p) // g, n_groups - 1)
            start, n_budget = budget[li]
            n_v = n_groups * b_size * s_in
            stage1 = (start + (np.arange(n_v, dtype=np.int64) * n_budget) // n_v).reshape(n_groups, b_size, s_in)
            stage2 = stage1[0, :, 0].copy()
        slots = slot_tiles[li]
        layers.append(
            LayerLayout(
                index=li,
                ipu=lp.ipu,
                n_neurons=n,
                n_inputs=n_in,
                sparse_size=sparse[li + 1],
                input_sparse_size=s_in,
                tiles=tiles,
                tile_neurons=counts,
                tile_sources=sources,
                spread=f,
                slice_bounds=bounds,
                slot_tiles=slots,
                combine_tiles=slots[:, 0, 0].copy(),
                seq_tiles=np.array([row_tile[("out", li, b)] for b in range(b_size)], np.int64),
                group_of_tile=group_of_tile,
                n_groups=n_groups,
                stage1_tile=stage1,
                stage2_tiles=stage2,
                workers=n_workers,
            )
        )
    return SNNLayout(
        layers=tuple(layers),
        input_seq_tiles=np.array([row_tile[("in", -1, b)] for b in range(b_size)], np.int64),
        loss_tiles=np.array([row_tile[("loss", -1, b)] for b in range(b_size)], np.int64),
        counter_tile=0,
    )
