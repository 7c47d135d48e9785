"""The programs the ``poplar`` lowering issues, as one-superstep builders: copies, gathers, dynamic slices,
elementwise and cast compute sets, reused between time steps (:class:`PoplarPrograms`; the op's phases build on it:
:mod:`~mimdsim.snn.lowering.poplar_forward`, :mod:`~mimdsim.snn.lowering.poplar_backward`,
:mod:`~mimdsim.snn.lowering.poplar`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from mimdsim.arch.spec import MachineSpec
from mimdsim.partition.mapping import NeuronMapping
from mimdsim.poplibs import estimators as pl
from mimdsim.program.builder import ComputeSetBuilder, ExchangeBuilder
from mimdsim.program.builder_values import one_or_each
from mimdsim.program.exchange import Exchange
from mimdsim.program.ir import ComputeSet, ProgramOp, Superstep
from mimdsim.program.unique import isin_ints, unique_ints
from mimdsim.snn.activity.counts import SpikeActivity
from mimdsim.snn.lowering.common import WORD_BYTES, LoweringBase
from mimdsim.snn.lowering.kernels import copy_runs
from mimdsim.snn.lowering.layout import SNNLayout
from mimdsim.snn.lowering.poplar_tensors import build_poplar_tensors
from mimdsim.snn.model.spec import SNNSpec

if TYPE_CHECKING:
    from mimdsim.snn.lowering.lower import LoweringOptions

__all__ = ["PoplarPrograms", "copy_transfers", "regions"]


def regions(tile: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Start positions of the maximal runs of elements on one tile with consecutive indices.

    >>> regions(np.array([3, 3, 3, 4, 4]), np.array([0, 1, 5, 6, 7])).tolist()
    [0, 2, 3]
    """
    if tile.size == 0:
        return np.zeros(0, np.int64)
    start = np.ones(tile.size, bool)
    start[1:] = (tile[1:] != tile[:-1]) | (index[1:] != index[:-1] + 1)
    return np.flatnonzero(start)


def _run_lengths(starts: np.ndarray, n: int) -> np.ndarray:
    return np.diff(np.append(starts, n))


def copy_transfers(
    tr: ExchangeBuilder,
    src: np.ndarray,
    dst: np.ndarray,
    src_index: np.ndarray,
    dst_index: np.ndarray,
    elem_bytes: int = WORD_BYTES,
) -> tuple[np.ndarray, np.ndarray]:
    """Element ``e`` from tile ``src[e]`` to ``dst[e]``: one message per run of consecutive
    elements between one pair of tiles. Returns the tiles holding both ends of some
    elements and those bytes (their on-tile copy)."""
    r_src, r_dst, r_len, l_tile, l_len = copy_runs(*(np.ascontiguousarray(a, np.int64) for a in (src, dst, src_index, dst_index)))
    tr.unicast(r_src, r_dst, elem_bytes * r_len)
    tiles, inv = unique_ints(l_tile, return_inverse=True)
    return tiles, np.bincount(inv.reshape(-1), weights=elem_bytes * l_len, minlength=tiles.size).astype(np.int64)


class PoplarPrograms(LoweringBase):
    """The op's tensors, options and one-superstep programs (see the module docstring)."""

    def __init__(
        self,
        spec: SNNSpec,
        machine: MachineSpec,
        layout: SNNLayout,
        act: SpikeActivity,
        options: LoweringOptions,
        mapping: NeuronMapping,
    ) -> None:
        super().__init__(spec, machine, layout, act)
        self.options = options
        self.vertex_state_bytes = options.vertex_state_bytes
        self.code_bytes_per_tile = options.code_bytes_per_tile
        self.version = spec.program_version
        self.soft_double_cycles = options.soft_double_slot_cycles
        self.tens = build_poplar_tensors(spec, machine, layout, [lp.neuron_tile for lp in mapping.layers])
        # the final scripts' one-IPU Keras model has a trainable identity layer after the op (MI:407); the
        # 2022-09-12 run's model summary has none (transpose -> op -> user op -> transpose)
        self.identity_layer = mapping.n_ipus_used == 1 and self.version == "final"
        self._shared: dict[str, Superstep] | None = None
        self._built: dict[tuple[object, ...], Superstep] = {}

    # ---- exchanges -------------------------------------------------------------------
    def gather(
        self, tr: ExchangeBuilder, tile: np.ndarray, index: np.ndarray, dst_tiles: np.ndarray, elem_bytes: int = WORD_BYTES
    ) -> None:
        """Every region of the elements (``tile[e]``, ``index[e]``) multicast to ``dst_tiles`` (a vertex input read by all of them)."""
        starts = regions(tile, index)
        tr.multicast_many(tile[starts], elem_bytes * _run_lengths(starts, tile.size), dst_tiles)

    copy_transfers = staticmethod(copy_transfers)

    def offsets(self, tiles: np.ndarray) -> ExchangeBuilder:
        """The loop counter (or itime), 4 B from tile 0 to every vertex tile of a dynamic slice."""
        tr = ExchangeBuilder()
        tr.multicast(self.tens.counter_tile, unique_ints(tiles), WORD_BYTES, replicable=True)
        return tr

    # ---- programs --------------------------------------------------------------------
    def reused(self, name: str, key: tuple[object, ...], make: Callable[[], Superstep]) -> Superstep:
        """``make()`` once per ``key``: programs with the same vertices on the same tiles and the
        same transfers (a slice of one tensor in the forward and backward loops, the two
        multiplies of one layer) share their compute set and exchange objects, which the
        engines then cost once; each keeps its own name."""
        first = self._built.get(key)
        if first is None:
            first = self._built[key] = make()
            return first
        return Superstep(name, first.sync, first.exchange, first.compute, first.op)

    def execute(
        self,
        name: str,
        tr: ExchangeBuilder | Exchange | None,
        cs: ComputeSetBuilder | ComputeSet | None,
        op: ProgramOp = "execute",
    ) -> Superstep:
        """``Execute(cs)``: one superstep, its exchange carrying the vertices' remote inputs (a builder is frozen
        under ``name``; an exchange, :func:`~mimdsim.snn.lowering.kept.kept_exchange`'s, is taken as it is)."""
        ex = tr if isinstance(tr, Exchange) else tr.freeze(name) if tr else None
        return self.superstep(name, ex, cs, op)

    def copy(self, name: str, tr: ExchangeBuilder, local_tiles: np.ndarray, local_bytes: np.ndarray) -> Superstep:
        """``Copy``: exchange the remote elements, copy the local ones on their tiles."""
        cs = ComputeSetBuilder(name)
        mcp = self.machine.memcpy_bytes_per_cycle
        cs.add_supervisor_by("poplar.OnTileCopy", local_tiles, lambda b: pl.on_tile_copy_tile_cycles(b, mcp), local_bytes)
        return self.execute(name, tr, cs if cs.blocks else None, "copy")

    def layout_copy(self, name: str, src: np.ndarray, dst: np.ndarray, src_index: np.ndarray | None = None) -> Superstep:
        """``Copy`` of a tensor from layout ``src`` to layout ``dst`` (tile of each element)."""
        tr = ExchangeBuilder()
        idx = np.arange(src.size, dtype=np.int64) if src_index is None else src_index
        tiles, nbytes = self.copy_transfers(tr, src, dst, idx, np.arange(dst.size, dtype=np.int64))
        return self.copy(name, tr, tiles, nbytes)

    def local_copy(self, name: str, tiles: np.ndarray, nbytes: np.ndarray | int) -> Superstep:
        """A ``Copy`` (or a zeroing) whose both ends are on the same tiles."""
        tiles = np.asarray(tiles, np.int64).reshape(-1)
        return self.copy(name, ExchangeBuilder(), tiles, one_or_each(nbytes, tiles.shape))

    def broadcast_copy(self, name: str, tile: np.ndarray, index: np.ndarray, dst_tiles: np.ndarray) -> Superstep:
        """``Copy`` of a tensor into one replica per destination tile (``replicate_and_alloc_tensor``)."""
        tr = ExchangeBuilder()
        self.gather(tr, tile, index, dst_tiles)
        holders, n_elems = unique_ints(tile, return_counts=True)
        keep = isin_ints(holders, dst_tiles)
        return self.copy(name, tr, holders[keep], WORD_BYTES * n_elems[keep])

    def dynamic_slice(self, name: str, col_tiles: np.ndarray, region_per_column: int = 1) -> Superstep:
        """``dynamicSlice`` / ``dynamicUpdate`` of row ``t`` of a sliceable tensor: one
        ``DynamicSlice1D`` per tile over the columns it holds, the offset sent from tile 0."""

        def make() -> Superstep:
            tiles, cols = unique_ints(col_tiles, return_counts=True)
            return self._slice(name, tiles, cols * region_per_column)

        return self.reused(name, ("dynamic_slice", id(col_tiles), region_per_column), make)

    def _slice(self, name: str, tiles: np.ndarray, region: np.ndarray) -> Superstep:
        cs = ComputeSetBuilder(name)
        cs.add_supervisor_by("popops.DynamicSlice1D", tiles, lambda r: pl.dynamic_slice_1d_tile_cycles(r, 1, self.W), region)
        return self.execute(name, self.offsets(tiles), cs)

    def _state_slice(self, name: str, li: int) -> Superstep:
        """The dynamic slice or update of row ``t`` of layer ``li``'s state history ``[T, B, k]`` per tile."""
        lay = self.layout.layers[li]
        return self.reused(name, ("state_slice", li), lambda: self._slice(name, lay.tiles, self.B * lay.tile_neurons))

    def _elementwise(self, name: str, li: int, per_neuron: int, in_place: bool) -> Superstep:
        def make() -> Superstep:
            cs = ComputeSetBuilder(name)
            for tiles, k, _ in self.groups[li]:
                cs.add_supervisor(
                    "popops.BinaryOp1D", tiles, pl.binary_op_1d_tile_cycles(per_neuron * k, in_place=in_place, n_workers=self.W)
                )
            return self.execute(name, None, cs)

        return self.reused(name, ("elementwise", li, per_neuron, in_place), make)

    def _scalar_op(self, name: str) -> Superstep:
        """A ``BroadcastScalar1D[InPlace]<ADD|SUBTRACT, unsigned>`` on the loop counter's tile."""

        def make() -> Superstep:
            cs = ComputeSetBuilder(name)
            cs.add_supervisor(
                "popops.BroadcastScalar1D",
                np.array([self.tens.counter_tile]),
                pl.broadcast_scalar_1d_tile_cycles(1, n_workers=self.W),
            )
            return self.execute(name, None, cs)

        return self.reused(name, ("scalar_op",), make)

    def _cast(self, name: str, col_tiles: np.ndarray, rows: int) -> Superstep:
        """``popops::cast`` float <-> unsigned: one ``Cast1D`` per tile over its elements (a clone keeps the mapping)."""

        def make() -> Superstep:
            tiles, cols = unique_ints(col_tiles, return_counts=True)
            cs = ComputeSetBuilder(name)
            cs.add_supervisor_by("popops.Cast1D", tiles, lambda c: pl.cast_1d_tile_cycles(c * rows, self.W), cols)
            return self.execute(name, None, cs)

        return self.reused(name, ("cast", id(col_tiles), rows), make)

    def _cols_local_copy(self, name: str, col_tiles: np.ndarray, rows: int) -> Superstep:
        def make() -> Superstep:
            tiles, cols = unique_ints(col_tiles, return_counts=True)
            return self.local_copy(name, tiles, WORD_BYTES * cols * rows)

        return self.reused(name, ("cols_local_copy", id(col_tiles), rows), make)

    def _neuron_copy(self, name: str, li: int, per_neuron_bytes: int) -> Superstep:
        """A ``Copy`` (or zeroing) of ``per_neuron_bytes`` per neuron of layer ``li``, on its tiles."""
        return self.reused(
            name,
            ("neuron_copy", li, per_neuron_bytes),
            lambda: self.local_copy(name, *self._neuron_tiles_bytes(li, per_neuron_bytes)),
        )

    def _neuron_tiles_bytes(self, li: int, per_neuron_bytes: int) -> tuple[np.ndarray, np.ndarray]:
        lay = self.layout.layers[li]
        return lay.tiles, per_neuron_bytes * lay.tile_neurons
