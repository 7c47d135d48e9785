"""What every lowering of the SNN training step shares.

* :class:`Transfers` (CSR exchanges), :class:`ComputeSetBuilder` (vertex blocks, with
  cycle tables) and :class:`MemoryBuilder` (tensors per tile), all vectorised;
* :class:`LoweringBase`: the spike counts of each time step of a loop, and the vertices of
  the authors' codelets (snn-on-ipu.md §1.5-1.6), costed by :mod:`mimdsim.snn.estimators`
  on the tiles :mod:`mimdsim.snn.layout` gives them. The codelets run on the same tiles
  in every lowering; lowerings differ in the programs around them.

Count-dependent costs are cycle tables with one row per time step of the loop they run in
(``ts``: the time steps, in execution order), so a time loop is one ``Repeat``.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from mimdsim.arch.spec import MachineSpec
from mimdsim.program.ir import ComputeSet, Exchange, Superstep, SyncScope, Tensor, VertexBlock
from mimdsim.snn import estimators as est
from mimdsim.snn.activity import SpikeActivity
from mimdsim.snn.layout import LayerLayout, SNNLayout
from mimdsim.snn.spec import SNNSpec

__all__ = [
    "WORD_BYTES",
    "Transfers",
    "ComputeSetBuilder",
    "MemoryBuilder",
    "LoweringBase",
    "crosses_ipus",
    "tile_groups",
]

WORD_BYTES = 4
"""uint32 spike ids and counts, float32 values (snn-on-ipu.md §1.1)."""


class Transfers:
    """Accumulates transfers (one source, one or more destinations; one message each unless
    given) into CSR arrays."""

    def __init__(self) -> None:
        self.src: list[np.ndarray] = []
        self.nbytes: list[np.ndarray] = []
        self.ndst: list[np.ndarray] = []
        self.dst: list[np.ndarray] = []
        self.messages: list[np.ndarray] = []

    def multicast(self, src: int, dsts: np.ndarray, nbytes: int) -> None:
        """``nbytes`` from ``src`` to every tile of ``dsts`` but itself."""
        self.multicast_many(np.array([src], np.int64), np.array([nbytes], np.int64), dsts)

    def multicast_many(self, srcs: np.ndarray, nbytes: np.ndarray | int, dsts: np.ndarray) -> None:
        """One multicast per source: ``nbytes[i]`` from ``srcs[i]`` to every tile of ``dsts`` but ``srcs[i]``."""
        srcs = np.asarray(srcs, np.int64).reshape(-1)
        nbytes = np.broadcast_to(np.asarray(nbytes, np.int64), srcs.shape)
        dsts = np.asarray(dsts, np.int64).reshape(-1)
        keep = nbytes > 0
        srcs, nbytes = srcs[keep], nbytes[keep]
        if not srcs.size or not dsts.size:
            return
        full = np.tile(dsts, srcs.size)
        mask = full != np.repeat(srcs, dsts.size)
        ndst = mask.reshape(srcs.size, dsts.size).sum(axis=1)
        has = ndst > 0
        self.src.append(srcs[has])
        self.nbytes.append(nbytes[has])
        self.ndst.append(ndst[has])
        self.dst.append(full[mask])
        self.messages.append(np.ones(int(has.sum()), np.int64))

    def unicast(self, src: np.ndarray, dst: np.ndarray, nbytes: np.ndarray | int, messages: np.ndarray | int = 1) -> None:
        """Point-to-point transfers ``src[i] -> dst[i]`` (those from a tile to itself are dropped)."""
        src, dst, nbytes, msgs = np.broadcast_arrays(
            np.asarray(src, np.int64), np.asarray(dst, np.int64), np.asarray(nbytes, np.int64), np.asarray(messages, np.int64)
        )
        keep = (src != dst) & (nbytes > 0)
        if keep.any():
            self.src.append(src[keep].reshape(-1))
            self.nbytes.append(nbytes[keep].reshape(-1))
            self.ndst.append(np.ones(int(keep.sum()), np.int64))
            self.dst.append(dst[keep].reshape(-1))
            self.messages.append(msgs[keep].reshape(-1))

    def __bool__(self) -> bool:
        return bool(self.src)

    def build(self, name: str) -> Exchange:
        if not self.src:
            return Exchange(name, np.zeros(0), np.zeros(1), np.zeros(0), np.zeros(0))
        ptr = np.zeros(sum(a.size for a in self.ndst) + 1, np.int64)
        np.cumsum(np.concatenate(self.ndst), out=ptr[1:])
        return Exchange(
            name, np.concatenate(self.src), ptr, np.concatenate(self.dst), np.concatenate(self.nbytes), np.concatenate(self.messages)
        )


def _frozen(a: np.ndarray) -> np.ndarray:
    """``a`` as read-only int64 (no copy when it already is), so blocks can share it."""
    if a.dtype != np.int64 or not a.flags.c_contiguous:
        a = np.ascontiguousarray(a, np.int64)
    if a.flags.writeable:
        a = a if a.base is None else a.copy()
        a.flags.writeable = False
    return a


_ONES: dict[int, np.ndarray] = {}


def _ones(n: int) -> np.ndarray:
    if n not in _ONES:
        _ONES[n] = _frozen(np.ones(n, np.int64))
    return _ONES[n]


def _vertex_array(values: np.ndarray | list[int]) -> np.ndarray:
    """A vertex list ``[n]`` or a cycle table ``[rows, n]`` as int64."""
    arr = np.asarray(values, np.int64)
    return arr if arr.ndim == 2 else arr.reshape(-1)


def crosses_ipus(ex: Exchange | None, tiles_per_ipu: int) -> bool:
    """Whether some transfer of ``ex`` goes to another IPU (its superstep needs an external sync)."""
    if ex is None or ex.src.size == 0:
        return False
    src_of_dst = np.repeat(ex.src, np.diff(ex.dst_ptr))
    return bool(np.any(src_of_dst // tiles_per_ipu != ex.dst // tiles_per_ipu))


class ComputeSetBuilder:
    """Collects vertex blocks, merging tiles that run identical vertex lists."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.blocks: list[VertexBlock] = []

    def add(
        self,
        codelet: str,
        tiles: np.ndarray,
        cycles: np.ndarray | list[int],
        counts: np.ndarray | list[int] | None = None,
        supervisor: int | np.ndarray = 0,
        *,
        unique: bool = False,
    ) -> None:
        """The same vertex list on every tile of ``tiles`` (a tile listed m times runs it m times).

        ``cycles`` and ``counts`` are a vertex list ``[n]`` or a cycle table ``[rows, n]``
        (one row per iteration of the loop the compute set runs in); ``supervisor`` an
        int or ``[rows]``. ``unique=True`` promises that no tile is listed twice.
        """
        tiles = _frozen(np.asarray(tiles))
        if tiles.size == 0:
            return
        cyc = _frozen(_vertex_array(cycles))
        cnt = _ones(cyc.shape[-1]) if counts is None else _frozen(_vertex_array(counts))
        sup = int(supervisor) if np.ndim(supervisor) == 0 else _frozen(np.asarray(supervisor, np.int64))
        if unique or tiles.size == 1:
            self.blocks.append(VertexBlock(codelet, tiles, cyc, cnt, supervisor_cycles=sup))
            return
        uniq, mult = np.unique(tiles, return_counts=True)
        for m in np.unique(mult).tolist():
            sel = uniq[mult == m]
            reps = (1, m) if cyc.ndim == 2 else m
            cnt_reps = (1, m) if cnt.ndim == 2 else m
            self.blocks.append(VertexBlock(codelet, sel, np.tile(cyc, reps), np.tile(cnt, cnt_reps), supervisor_cycles=sup * m))

    def add_supervisor(self, codelet: str, tiles: np.ndarray, cycles: np.ndarray | list[int] | int) -> None:
        """A supervisor (MultiVertex) of ``cycles`` tile cycles on each tile (one value, or one per tile)."""
        tiles = np.asarray(tiles, np.int64).reshape(-1)
        cyc = np.broadcast_to(np.asarray(cycles, np.int64), tiles.shape)
        for c in np.unique(cyc).tolist():
            self.add(codelet, tiles[cyc == c], [], supervisor=int(c), unique=True)

    def build(self) -> ComputeSet:
        return ComputeSet(self.name, tuple(self.blocks))


class MemoryBuilder:
    """Bytes per tile of every named tensor, added up with numpy (no per-tile Python loop)."""

    def __init__(self) -> None:
        self._parts: dict[tuple[str, str], list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)

    def put(self, name: str, tiles: np.ndarray, nbytes: np.ndarray | int, kind: str = "tensor") -> None:
        tiles = np.asarray(tiles, np.int64).reshape(-1)
        nb = np.broadcast_to(np.asarray(nbytes, np.int64), tiles.shape).reshape(-1)
        self._parts[(name, kind)].append((tiles, nb))

    def put_layout(self, name: str, tile_of_element: np.ndarray, element_bytes: int, kind: str = "tensor") -> None:
        """A tensor whose element ``e`` lives on ``tile_of_element[e]``."""
        tiles, counts = np.unique(np.asarray(tile_of_element, np.int64), return_counts=True)
        self.put(name, tiles, counts * element_bytes, kind)

    def tensors(self) -> list[Tensor]:
        out = []
        for (name, kind), parts in self._parts.items():
            tiles = np.concatenate([p[0] for p in parts])
            nb = np.concatenate([p[1] for p in parts])
            uniq, inv = np.unique(tiles, return_inverse=True)
            out.append(Tensor(name, uniq, np.bincount(inv.reshape(-1), weights=nb, minlength=uniq.size).astype(np.int64), kind))  # type: ignore[arg-type]
        return out


def tile_groups(lay: LayerLayout) -> list[tuple[np.ndarray, int, int]]:
    """The layer's tiles grouped by (neurons on the tile, connected input neurons)."""
    out = []
    keys = np.stack([lay.tile_neurons, lay.tile_sources], axis=1)
    uniq, inv = np.unique(keys, axis=0, return_inverse=True)
    for g, (k, src) in enumerate(uniq):
        tiles = lay.tiles[inv.reshape(-1) == g]
        tiles.flags.writeable = False  # shared by every step's blocks without copies
        out.append((tiles, int(k), int(src)))
    return out


class LoweringBase:
    """Spike counts per time step and the authors' codelets, for one spec, machine, layout and activity."""

    def __init__(self, spec: SNNSpec, machine: MachineSpec, layout: SNNLayout, act: SpikeActivity) -> None:
        self.spec, self.machine, self.layout, self.act = spec, machine, layout, act
        self.B, self.T = spec.batch_size, spec.n_timesteps
        self.L = len(spec.layers)
        self.W = machine.num_worker_contexts
        self.groups = [tile_groups(lay) for lay in layout.layers]
        self.slots_unique = [np.unique(lay.slot_tiles).size == lay.slot_tiles.size for lay in layout.layers]
        self._segments: dict[int, tuple[np.ndarray, ...]] = {}

    # ---- spike counts: [len(ts), B] for the time steps ts of one loop ----------------
    def true_out(self, li: int, ts: np.ndarray) -> np.ndarray:
        return self.act.true_counts[li + 1][ts].astype(np.int64)

    def valid_out(self, li: int, ts: np.ndarray) -> np.ndarray:
        return self.act.valid_counts[li + 1][ts].astype(np.int64)

    def _delayed(self, counts: tuple[np.ndarray, ...], li: int, ts: np.ndarray) -> np.ndarray:
        """Layer ``li``'s input counts at steps ``ts`` (one-step delay for li >= 1; zeros at t = 0)."""
        if li == 0:
            return counts[0][ts].astype(np.int64)
        out = np.zeros((ts.size, self.B), np.int64)
        late = ts >= 1
        out[late] = counts[li][ts[late] - 1]
        return out

    def true_in(self, li: int, ts: np.ndarray) -> np.ndarray:
        """True input ids layer ``li`` sums at steps ``ts``."""
        return self._delayed(self.act.true_counts, li, ts)

    def valid_in(self, li: int, ts: np.ndarray) -> np.ndarray:
        return self._delayed(self.act.valid_counts, li, ts)

    def superstep(self, name: str, exchange: Exchange | None, cs: ComputeSetBuilder | ComputeSet | None) -> Superstep:
        """A superstep whose sync is external iff its exchange crosses IPUs."""
        scope: SyncScope = "external" if crosses_ipus(exchange, self.machine.tiles_per_ipu) else "internal"
        if isinstance(cs, ComputeSetBuilder):
            cs = cs.build()
        return Superstep(name, scope, exchange, cs)

    # ---- the authors' codelets (costs from mimdsim.snn.estimators) ---------------------
    def add_state_update(self, cs: ComputeSetBuilder, ts: np.ndarray) -> None:
        """``LIFStateUpdateInPlace``: B per neuron tile, each over the true input ids of its sample."""
        for li, lay in enumerate(self.layout.layers):
            n_in = self.true_in(li, ts)
            for tiles, k, src in self.groups[li]:
                ids = -(-n_in * src // lay.n_inputs)  # ids that reach this tile
                cs.add("LIFStateUpdateInPlace", tiles, est.state_update_cycles(ids, k), unique=True)

    def add_dense_flags(self, cs: ComputeSetBuilder) -> None:
        """``DenseSpikesMultiThresh``: k·B per neuron tile."""
        for li in range(self.L):
            for tiles, k, _ in self.groups[li]:
                cs.add("DenseSpikesMultiThresh", tiles, [est.dense_flags_cycles()], [k * self.B], unique=True)

    def add_spike_generation(
        self, d2s: ComputeSetBuilder, comb1: ComputeSetBuilder, comb2: ComputeSetBuilder, ts: np.ndarray
    ) -> None:
        """Dense-to-sparse (stage 1), per-tile combine (stage 2) and the final combine of every layer.

        Only counts are known, so the ids of a (batch, threshold) are taken as spread
        evenly over the layer's neurons: a slice of ``len`` neurons holds
        ``ceil(count x len / N)`` of them (capped at ``min(S, len)``). Each vertex position
        uses the longest slice of that position over the slots (slices differ by <= 1).
        The final combine vertices (one per batch element) are costed the same way, with
        the batch's largest counts.
        """
        for li, lay in enumerate(self.layout.layers):
            n, s, f = lay.n_neurons, lay.sparse_size, lay.spread
            lens = np.diff(lay.slice_bounds)
            slot_lens = [lens[slice(*lay.slot_slices(j))] for j in range(f)]
            width = max(x.size for x in slot_lens)
            pos_len = np.zeros(width, np.int64)
            for x in slot_lens:
                pos_len[: x.size] = np.maximum(pos_len[: x.size], x)
            true, valid = self.true_out(li, ts), self.valid_out(li, ts)
            uniq = self.slots_unique[li]
            for thr, counts in ((0, true), (1, valid - true)):
                # NOTE: every slot of a (layer, threshold) is costed with the batch's largest
                # count: the slot tile with that count sets the compute phase's time anyway,
                # and one block per (layer, threshold) keeps the program small (the per-tile
                # mean of these few-hundred-cycle vertices is overstated by <= 2 cycles a hit).
                c = counts.max(axis=1, keepdims=True)
                hits = np.minimum(-(-c * pos_len // n), np.minimum(s, pos_len))
                tiles = lay.slot_tiles[:, thr, :].reshape(-1)
                d2s.add("DenseToSparseSpikes", tiles, est.dense_to_sparse_cycles(pos_len, hits), unique=uniq)
                comb1.add(
                    "LIFOutSpikesCombine_singleThresh",
                    tiles,
                    est.tile_combine_cycles(width, np.minimum(s, hits.sum(axis=1, keepdims=True))),
                    unique=uniq,
                )
            # the final combine of every batch element is costed with the largest counts too
            # (one vertex per combine tile; the slowest sets the phase)
            comb2.add(
                "LIFOutSpikesMultiThreshsCombine",
                lay.combine_tiles,
                est.final_combine_cycles(f, true.max(axis=1, keepdims=True), valid.max(axis=1, keepdims=True)),
                unique=uniq,
            )

    def add_state_grad(self, cs: ComputeSetBuilder, ts: np.ndarray) -> None:
        """``calcLIFStateGrad_stateWise``: B per neuron tile, scanning the layer's valid output slots."""
        for li, lay in enumerate(self.layout.layers):
            valid = self.valid_out(li, ts)
            for tiles, k, _ in self.groups[li]:
                cs.add("calcLIFStateGrad", tiles, est.state_grad_cycles(valid, valid * k / lay.n_neurons), unique=True)

    def add_weight_grad(self, cs: ComputeSetBuilder, ts: np.ndarray) -> None:
        """``LIFWeightsGrad``: one vertex per worker context (its own gradient replica), B/W samples each."""
        per_thread = self.B // self.W
        for li, lay in enumerate(self.layout.layers):
            n_true_in = self.true_in(li, ts)
            for tiles, k, src in self.groups[li]:
                ids = -(-n_true_in * src // lay.n_inputs)
                wcyc = np.stack(
                    [est.weight_grad_cycles(ids[:, w * per_thread : (w + 1) * per_thread], k) for w in range(self.W)], axis=1
                )
                cs.add("LIFWeightsGrad", tiles, wcyc, unique=True)

    def add_input_grad(self, cs: ComputeSetBuilder, ts: np.ndarray) -> None:
        """``LIFInpSpikesGrad``: B per tile of the layers after the first, over their valid input slots."""
        for li, lay in enumerate(self.layout.layers):
            if li == 0:
                continue
            n_valid_in = self.valid_in(li, ts)
            for tiles, k, src in self.groups[li]:
                vids = -(-n_valid_in * src // lay.n_inputs)
                cs.add("LIFInpSpikesGrad", tiles, est.input_grad_cycles(vids, k), unique=True)

    def stage1_segments(self, lay: LayerLayout) -> tuple[np.ndarray, ...]:
        """Static part of stage 1: runs of vertices on one tile as (tile, group size, batch,
        first slot, end slot, group) arrays, plus the distinct tiles and each run's index among them."""
        key = id(lay)
        if key not in self._segments:
            assert lay.stage1_tile is not None
            assert lay.group_of_tile is not None
            g_sizes = np.bincount(lay.group_of_tile, minlength=lay.n_groups)
            n_g, n_b, n_s = lay.stage1_tile.shape
            flat = lay.stage1_tile.reshape(n_g * n_b, n_s)
            # a run starts where the tile changes within a (group, batch) row, or at slot 0
            starts = np.ones(flat.shape, bool)
            starts[:, 1:] = flat[:, 1:] != flat[:, :-1]
            row, s_lo = np.nonzero(starts)
            nxt = np.append(s_lo[1:], n_s)
            last = np.append(row[1:] != row[:-1], True)
            s_hi = np.where(last, n_s, nxt)
            tile = flat[row, s_lo]
            uniq_tiles, inv = np.unique(tile, return_inverse=True)
            self._segments[key] = (tile, g_sizes[row // n_b], row % n_b, s_lo, s_hi, row // n_b, uniq_tiles, inv.reshape(-1))
        return self._segments[key]

    def add_reduce_stage1(self, cs: ComputeSetBuilder, ts: np.ndarray) -> None:
        """``CustomSparseReduceStage1``: one per (group, b, slot) of every layer after the first, active when slot < valid.

        On each stage-1 tile the active vertices are listed (larger groups first) before
        the skipped ones; the order only affects how they share the worker contexts. Tiles
        whose counts agree in every row share a block.
        """
        for li, lay in enumerate(self.layout.layers):
            if li == 0:
                continue
            n_valid_in = self.valid_in(li, ts)
            _, gsize, b, s_lo, s_hi, _, uniq_tiles, inv = self.stage1_segments(lay)
            rows = n_valid_in.shape[0]
            n_t = uniq_tiles.size
            active = np.clip(n_valid_in[:, b] - s_lo, 0, s_hi - s_lo)  # [rows, segments]
            idle = (s_hi - s_lo) - active
            g_values = np.unique(gsize)[::-1]
            idx = (np.arange(rows)[:, None] * n_t + inv[None, :]).reshape(-1)

            def per_tile(weights: np.ndarray, idx: np.ndarray = idx, rows: int = rows, n_t: int = n_t) -> np.ndarray:
                return np.bincount(idx, weights=weights.reshape(-1), minlength=rows * n_t).reshape(rows, n_t)

            cols = [per_tile(active * (gsize == g)) for g in g_values] + [per_tile(idle)]
            table = np.stack(cols, axis=2).astype(np.int64)  # [rows, tiles, kinds]
            by_tile = table.transpose(1, 0, 2).reshape(n_t, -1)
            _, first, tile_row = np.unique(by_tile, axis=0, return_index=True, return_inverse=True)
            costs = np.array(
                [est.reduce_stage1_cycles(int(g), True) for g in g_values] + [est.reduce_stage1_cycles(0, False)], np.int64
            )
            for r, f in enumerate(first.tolist()):
                cs.add("CustomSparseReduceStage1", uniq_tiles[tile_row.reshape(-1) == r], costs, table[:, f, :], unique=True)
