"""The initial weights of the functional model, as the authors' benchmark script draws them (GSNN TB): all layers
from one ``np.random.default_rng(seed)`` in layer order, masked by the layer's connectivity
(:mod:`mimdsim.snn.model.connectivity`); drawn one layer at a time for a forward pass that needs only the counts.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

import numpy as np

from mimdsim.errors import ConfigError
from mimdsim.snn.model.connectivity import connection_mask
from mimdsim.snn.model.spec import SNNSpec

__all__ = ["FLOATS", "float_dtype", "init_weights", "iter_weights", "seeded_weights"]

FLOATS = (np.float32, np.float64)
"""The float types the functional model runs in."""


def float_dtype(dtype: object) -> np.dtype:
    """``dtype`` as a numpy dtype, one of :data:`FLOATS` (a :class:`ConfigError` otherwise)."""
    dt = np.dtype(dtype)  # type: ignore[call-overload]
    if dt.type not in FLOATS:
        raise ConfigError(f"dtype: {dt} is not supported (allowed: float32, float64)")
    return dt


def iter_weights(spec: SNNSpec, seed: int, *, dtype: type = np.float32) -> Iterator[np.ndarray]:
    """The weights of :func:`init_weights`, drawn one layer at a time (the same values).

    A forward pass that only needs spike counts holds one layer's weights at a time
    instead of the whole network's (a 64-IPU model has about 180 M weights).

    >>> from mimdsim.snn.model.spec import snn_from_sizes
    >>> spec = snn_from_sizes([6, 4, 2], max_activity=0.5, input_sparse_size=3, batch_size=1, n_timesteps=1)
    >>> all(np.array_equal(a, b) for a, b in zip(iter_weights(spec, 3), init_weights(spec, 3)))
    True
    """
    dt = float_dtype(dtype)
    rng = np.random.default_rng(seed)
    sizes = spec.layer_sizes
    buf = np.empty(0)
    for l in range(len(spec.layers)):
        lim = np.sqrt(6.0 / sizes[l]) * spec.weight_mul
        low, high = -lim, lim
        shape = (sizes[l], sizes[l + 1])
        if buf.size != shape[0] * shape[1]:
            buf = np.empty(shape)
        buf = buf.reshape(shape)
        # rng.uniform(low, high) is low + (high - low) * U from the same stream, written in
        # place here (the same doubles; no temporary arrays per layer)
        rng.random(out=buf)
        buf *= high - low
        buf += low
        buf += 0.001
        mask = connection_mask(spec, l)
        if mask is not None:
            buf[~mask] = 0.0
        yield buf.astype(dt)


_SEEDED: dict[tuple[object, ...], tuple[np.ndarray, ...]] = {}
_SEEDED_MAX_WEIGHTS = 16_000_000
"""Networks of at most this many weights keep their seeded weights in memory (64 MB in float32)."""
_SEEDED_ENTRIES = 4


def seeded_weights(spec: SNNSpec, seed: int) -> Iterable[np.ndarray]:
    """The weights of :func:`iter_weights` (float32) for a forward pass, read-only.

    The weights do not depend on the sparse sizes, so the points of an activity sweep
    share them: networks of up to 16 M weights keep them in memory (the last 4 such
    networks); larger ones are drawn one layer at a time, as :func:`iter_weights` does.
    """
    sizes = spec.layer_sizes
    n = sum(a * b for a, b in itertools.pairwise(sizes))
    if n > _SEEDED_MAX_WEIGHTS:
        return iter_weights(spec, seed)
    masks = tuple((lay.connection_density, lay.connection_seed, lay.connectivity, lay.shuffle_seed) for lay in spec.layers)
    key = (sizes, seed, spec.weight_mul, masks)
    hit = _SEEDED.get(key)
    if hit is None:
        hit = tuple(iter_weights(spec, seed))
        for w in hit:
            w.flags.writeable = False
        while len(_SEEDED) >= _SEEDED_ENTRIES:
            _SEEDED.pop(next(iter(_SEEDED)))
        _SEEDED[key] = hit
    return hit


def init_weights(spec: SNNSpec, seed: int, *, dtype: type = np.float32) -> list[np.ndarray]:
    """Initial weights ``[N_{l-1}, N_l]`` per layer, as the authors' benchmark script draws them.

    ``W ~ U(-lim, lim) + 0.001`` with ``lim = sqrt(6 / fan_in)·weight_mul`` (fan_in = N_{l-1},
    the dense input width), all layers from one ``np.random.default_rng(seed)`` in layer
    order. Masked weights (see :func:`connection_mask`) are set to 0.
    :func:`iter_weights` draws them one layer at a time.

    >>> from mimdsim.snn.model.spec import snn_from_sizes
    >>> spec = snn_from_sizes([6, 4, 2], max_activity=0.5, input_sparse_size=3, batch_size=1, n_timesteps=1)
    >>> [w.shape for w in init_weights(spec, 0)], init_weights(spec, 0)[0].dtype
    ([(6, 4), (4, 2)], dtype('float32'))
    """
    return list(iter_weights(spec, seed, dtype=dtype))
