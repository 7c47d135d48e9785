"""The seed paper's mapping: contiguous neurons per tile, layers packed in order.

GSNN MI `determine_neuron_tileMappings_multiIPU`, PC `alloc_neuronwise_contiguous` (C1 ``determine_neuron_tileMappings_multiIPU``):

* each layer takes ``ceil(N / k)`` consecutive tiles for ``k`` neurons per tile, the
  neurons split contiguously, ``ceil(N / tiles)`` per tile and the remainder on the last;
* layers are packed greedily in order; a layer never spans two IPUs: one that does not
  fit starts at tile 0 of the next IPU;
* tile 0 of IPU 0 is kept free.

The default ``k`` is the smallest even number (from 2) for which the layers fit the tiles.
"""

from __future__ import annotations

import numpy as np

from mimdsim.errors import MappingError
from mimdsim.partition.mapping import LayerPlacement, NeuronMapping

__all__ = ["contiguous_mapping", "smallest_fitting_k"]


def _try_pack(layer_sizes: tuple[int, ...], k: int, tiles_per_ipu: int, n_ipus: int) -> list[tuple[int, int, int]] | None:
    """``[(ipu, first_tile_in_ipu, n_tiles), ...]`` or None if the layers do not fit."""
    out = []
    ipu, offset = 0, 1  # tile 0 of IPU 0 stays free
    for n in layer_sizes:
        need = -(-n // k)
        if offset + need > tiles_per_ipu:
            # does not fit the rest of this IPU: start at tile 0 of the next one (even a
            # layer as wide as a whole IPU, which IPU 0 cannot hold with its tile 0 free)
            ipu, offset = ipu + 1, 0
            if ipu >= n_ipus or need > tiles_per_ipu:
                return None
        out.append((ipu, offset, need))
        offset += need
    return out


def smallest_fitting_k(layer_sizes: tuple[int, ...], tiles_per_ipu: int, n_ipus: int, k_max: int = 4096) -> int:
    """Smallest even neurons-per-tile for which the layers fit the machine's tiles."""
    for k in range(2, k_max + 1, 2):
        if _try_pack(layer_sizes, k, tiles_per_ipu, n_ipus) is not None:
            return k
    raise MappingError(
        f"layers {list(layer_sizes)} do not fit {n_ipus} IPU(s) of {tiles_per_ipu} tiles with up to {k_max} neurons per tile"
    )


def contiguous_mapping(
    layer_sizes: tuple[int, ...], tiles_per_ipu: int, n_ipus: int, *, neurons_per_tile: int | None = None
) -> NeuronMapping:
    """The paper's mapping of layers of ``layer_sizes`` neurons (hidden and output layers).

    Examples
    --------
    >>> m = contiguous_mapping((1466, 1466, 10), 1472, 1)
    >>> [(int(lp.tiles[0]), int(lp.tiles[-1])) for lp in m.layers]   # GSNN MI `determine_neuron_tileMappings_multiIPU`, PC `alloc_neuronwise_contiguous`
    [(1, 733), (734, 1466), (1467, 1471)]
    """
    if neurons_per_tile is not None and neurons_per_tile < 1:
        raise MappingError(f"neurons_per_tile: {neurons_per_tile} must be >= 1")
    k = neurons_per_tile or smallest_fitting_k(layer_sizes, tiles_per_ipu, n_ipus)
    packed = _try_pack(layer_sizes, k, tiles_per_ipu, n_ipus)
    if packed is None:
        need = sum(-(-n // k) for n in layer_sizes)
        raise MappingError(
            f"neurons_per_tile={k}: layers {list(layer_sizes)} need {need} tiles, more than fit "
            f"{n_ipus} IPU(s) of {tiles_per_ipu} tiles (a layer never spans IPUs; tile 0 of IPU 0 is kept free)"
        )
    layers = []
    for li, (n, (ipu, first, n_t)) in enumerate(zip(layer_sizes, packed, strict=True)):
        per = -(-n // n_t)
        local = np.minimum(np.arange(n) // per, n_t - 1)
        layers.append(LayerPlacement(li, ipu, (ipu * tiles_per_ipu + first + local).astype(np.int64)))
    return NeuronMapping(tuple(layers), k, tiles_per_ipu * n_ipus, "contiguous", tiles_per_ipu)
