"""Mapping files: the tile of every neuron, saved by ``mimdsim partition --save-mapping`` and read by ``--mapping``.

A compressed ``.npz`` (no pickles) with ``kind = "mimdsim-mapping"``, ``format_version = 1``,
``method`` (text), ``tiles_per_ipu`` and ``n_tiles`` (ints) and one int array
``neuron_tiles_<l>`` per layer (hidden and output, in order): the global tile id of each
neuron (``ipu * tiles_per_ipu + tile``). docs/partitioning.md describes it.
"""

from __future__ import annotations

import io
import os
import re
from typing import Any

import numpy as np

from mimdsim.errors import MappingError
from mimdsim.files import read_npz, write_bytes
from mimdsim.partition.mapping import NeuronMapping

__all__ = ["save_mapping", "load_mapping", "MAPPING_KIND"]

MAPPING_KIND = "mimdsim-mapping"
_VERSION = 1


def save_mapping(path: str | os.PathLike[str], mapping: NeuronMapping) -> None:
    """Write ``mapping`` to exactly ``path`` (atomically, :func:`mimdsim.files.write_bytes`)."""
    buf = io.BytesIO()
    arrays: dict[str, Any] = {f"neuron_tiles_{l}": lp.neuron_tile.astype(np.int64) for l, lp in enumerate(mapping.layers)}
    np.savez_compressed(buf, kind=np.str_(MAPPING_KIND), format_version=np.int64(_VERSION), method=np.str_(mapping.method),
                        tiles_per_ipu=np.int64(mapping.tiles_per_ipu), n_tiles=np.int64(mapping.n_tiles), **arrays)  # fmt: skip
    write_bytes(path, buf.getvalue(), what="mapping", compress=False)


def load_mapping(path: str | os.PathLike[str]) -> NeuronMapping:
    """Read a mapping file; a malformed one is a :class:`MappingError` naming the file and the key.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.npz"
    >>> save_mapping(p, NeuronMapping.from_neuron_tiles([np.array([1, 1, 2]), np.array([3])], 8, 16, "mine"))
    >>> m = load_mapping(p)
    >>> m.method, [lp.neuron_tile.tolist() for lp in m.layers]
    ('mine', [[1, 1, 2], [3]])
    """
    data = read_npz(path, "mapping", MappingError)
    kind = data.get("kind")
    if kind is None or kind.shape != () or str(kind) != MAPPING_KIND:
        raise MappingError(f"{path}: kind: {kind!r} is not a mapping file (allowed: {MAPPING_KIND!r})")
    version = data.get("format_version")
    if version is None or version.shape != () or not np.issubdtype(version.dtype, np.integer) or int(version) != _VERSION:
        raise MappingError(f"{path}: format_version: {version!r} is not supported (allowed: {_VERSION})")
    scalars = {}
    for key in ("tiles_per_ipu", "n_tiles"):
        v = data.get(key)
        if v is None or v.shape != () or not np.issubdtype(v.dtype, np.integer) or int(v) < 1:
            raise MappingError(f"{path}: {key}: {v!r} is not a positive integer")
        scalars[key] = int(v)
    layers = sorted(int(m.group(1)) for k in data if (m := re.fullmatch(r"neuron_tiles_(\d+)", k)))
    if layers != list(range(len(layers))) or not layers:
        raise MappingError(f"{path}: neuron_tiles_<l>: expected keys neuron_tiles_0 .. neuron_tiles_<L-1>, got layers {layers}")
    tiles = []
    for l in layers:
        a = data[f"neuron_tiles_{l}"]
        if a.ndim != 1 or not np.issubdtype(a.dtype, np.integer):
            raise MappingError(f"{path}: neuron_tiles_{l}: expected a 1-D integer array (got {a.dtype}, shape {a.shape})")
        tiles.append(a.astype(np.int64))
    return NeuronMapping.from_neuron_tiles(tiles, scalars["tiles_per_ipu"], scalars["n_tiles"], str(data.get("method", "file")))
