"""Spike-activity records: how many ids each spike tensor holds at every step and batch element.

The simulator's data-dependent costs (forward row adds, weight-gradient updates, input-spike
gradient dot products, state-gradient scans) are linear in these counts (GSNN PC/PF/CC),
so a :class:`SpikeActivity` is all it needs from the network's numerics.

Spike tensors are numbered input first: tensor 0 is the network input (``S_in`` slots),
tensor ``l + 1`` is layer ``l``'s output. For each one the record holds ``true_counts`` (ids
that are true spikes, i.e. summed in the forward pass and the weight gradient) and
``valid_counts`` (true + gradient-only entries, the ones the backward pass visits); for the
input both are the same.

Three sources:

* :meth:`SpikeActivity.from_run` - counts of a :func:`~mimdsim.snn.reference.functional.run_sparse` run.
* :func:`functional_activity` - the functional model on Poisson input (the simulator default).
* :func:`parametric_activity` - binomial counts at a given firing rate, no network.

Traces are ``.npz`` files (:mod:`mimdsim.snn.activity.trace_v1`: :func:`save_activity` /
:func:`load_activity`, format in ``traces/README.md``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mimdsim.errors import ConfigError, TraceFormatError
from mimdsim.snn.model.spec import SNNSpec
from mimdsim.snn.reference.data import SpikeBatch

if TYPE_CHECKING:
    from mimdsim.snn.reference.functional import SparseRun

__all__ = [
    "SpikeActivity",
    "functional_activity",
    "parametric_activity",
    "DEFAULT_INPUT_RATE",
    "DEFAULT_GRAD_FRACTION",
]

DEFAULT_INPUT_RATE = 0.01  # spikes per input per step: about 23 of NMNIST's 2312 inputs per 1 ms
# Gradient-only entries (θ2 < V <= θ1) per true spike in parametric_activity. Measured with
# functional_activity on the paper's [2312, 1466, 1466, 10] net at init (input_rate 0.005-0.02,
# S = N/10): 1.7-3.4 in the hidden layers, because the membrane spends much time just below θ1.
DEFAULT_GRAD_FRACTION = 2.0


@dataclass(frozen=True, eq=False)
class SpikeActivity:
    """Per-step, per-sample spike counts of every spike tensor of one training step.

    Attributes
    ----------
    true_counts, valid_counts : tuple of ndarray
        One ``[T, B]`` int32 array per spike tensor, input first. ``0 <= true <= valid <= S``
        and, for the input, ``valid == true``. Stored read-only.
    sparse_sizes : tuple of int
        ``S`` of every tensor, input first (``SNNSpec.sparse_sizes``).
    n_timesteps, batch_size : int
        ``T`` and ``B``.
    source : str
        Free text saying how the record was made.
    neuron_counts : tuple of ndarray or None
        Optionally, per tensor, the true spikes of each neuron over the whole step (``[N_k]``
        int64, summing to the tensor's true counts): what a partitioner weighs nets by.
    spike_ids : tuple of ndarray or None
        Optionally, per tensor, the ids of the neurons behind every true spike, step by
        step and sample by sample (``ids`` of time step ``t``, sample ``b`` are the
        ``true_counts[t, b]`` entries after the ``t * B + b`` earlier ones; int32). With
        ``neuron_counts`` too, they count up to it.

    Raises
    ------
    TraceFormatError
        When the arrays are inconsistent (shapes, counts out of range, input valid != true).
    """

    true_counts: tuple[np.ndarray, ...]
    valid_counts: tuple[np.ndarray, ...]
    sparse_sizes: tuple[int, ...]
    n_timesteps: int
    batch_size: int
    source: str = ""
    neuron_counts: tuple[np.ndarray, ...] | None = None
    spike_ids: tuple[np.ndarray, ...] | None = None

    def __post_init__(self) -> None:
        sizes = tuple(int(s) for s in self.sparse_sizes)
        T, B = int(self.n_timesteps), int(self.batch_size)
        if T <= 0 or B <= 0:
            raise TraceFormatError(f"n_timesteps/batch_size: {T}/{B} must be positive")
        if len(sizes) < 2:
            raise TraceFormatError(f"sparse_sizes: {sizes} needs the input and at least one layer")
        if len(self.true_counts) != len(sizes) or len(self.valid_counts) != len(sizes):
            raise TraceFormatError(
                f"true_counts/valid_counts: {len(self.true_counts)}/{len(self.valid_counts)} tensors"
                f" for {len(sizes)} sparse sizes"
            )
        true, valid = [], []
        for k, (tc, vc, s) in enumerate(zip(self.true_counts, self.valid_counts, sizes, strict=True)):
            tc, vc = _counts(tc, f"true_counts[{k}]", T, B), _counts(vc, f"valid_counts[{k}]", T, B)
            if tc.min() < 0 or vc.max() > s or (tc > vc).any():
                raise TraceFormatError(
                    f"counts[{k}]: need 0 <= true <= valid <= S = {s}, got true {tc.min()}..{tc.max()},"
                    f" valid {vc.min()}..{vc.max()}, true > valid at {int((tc > vc).sum())} entries"
                )
            if k == 0 and not np.array_equal(tc, vc):
                raise TraceFormatError("valid_counts[0]: the input tensor's valid counts must equal its true counts")
            true.append(tc)
            valid.append(vc)
        if self.neuron_counts is not None:
            object.__setattr__(self, "neuron_counts", _neuron_counts(self.neuron_counts, true))
        if self.spike_ids is not None:
            object.__setattr__(self, "spike_ids", _spike_ids(self.spike_ids, true, self.neuron_counts))
        object.__setattr__(self, "true_counts", tuple(true))
        object.__setattr__(self, "valid_counts", tuple(valid))
        object.__setattr__(self, "sparse_sizes", sizes)
        object.__setattr__(self, "n_timesteps", T)
        object.__setattr__(self, "batch_size", B)

    @property
    def n_tensors(self) -> int:
        """Number of spike tensors (input + layers)."""
        return len(self.sparse_sizes)

    def mean_counts(self) -> tuple[tuple[float, float], ...]:
        """``(mean true, mean valid)`` count per tensor, over steps and samples."""
        pairs = zip(self.true_counts, self.valid_counts, strict=True)
        return tuple((float(t.mean()), float(v.mean())) for t, v in pairs)

    def check_against(self, spec: SNNSpec) -> None:
        """Raise :class:`ConfigError` naming the first field that disagrees with ``spec``.

        >>> from mimdsim.snn.model.spec import snn_from_sizes
        >>> spec = snn_from_sizes([20, 8, 2], max_activity=0.5, input_sparse_size=4, batch_size=2, n_timesteps=3)
        >>> parametric_activity(spec, 0.1, seed=0).check_against(spec)
        """
        mine = {"sparse_sizes": self.sparse_sizes, "n_timesteps": self.n_timesteps, "batch_size": self.batch_size}
        theirs = {"sparse_sizes": spec.sparse_sizes, "n_timesteps": spec.n_timesteps, "batch_size": spec.batch_size}
        for key, value in mine.items():
            if value != theirs[key]:
                raise ConfigError(f"activity: {key}: trace has {value}, model {spec.name!r} has {theirs[key]}")
        if self.neuron_counts is not None and tuple(c.size for c in self.neuron_counts) != tuple(spec.layer_sizes):
            raise ConfigError(
                f"activity: neuron_counts: sizes {[c.size for c in self.neuron_counts]}, model {spec.name!r} has {list(spec.layer_sizes)}"
            )
        for k, (ids, n) in enumerate(zip(self.spike_ids or (), spec.layer_sizes, strict=False)):
            if ids.size and int(ids.max()) >= n:
                raise ConfigError(
                    f"activity: spike_ids_{k}: neuron {int(ids.max())} is not in tensor {k} of model {spec.name!r} ({n} neurons)"
                )

    @classmethod
    def from_run(
        cls,
        spec: SNNSpec,
        run: SparseRun,
        input_counts: np.ndarray,
        *,
        source: str = "run_sparse",
        input_ids: np.ndarray | None = None,
    ) -> SpikeActivity:
        """Activity of a :class:`~mimdsim.snn.reference.functional.SparseRun` and its input counts ``[T, B]``
        (with the input ids ``[T, B, S_in]``, the per-neuron counts too)."""
        counts = run.counts
        inp = np.asarray(input_counts)
        neurons = spikes = None
        if input_ids is not None:
            pairs = [(np.asarray(input_ids), inp), *((i, c[..., 0]) for i, c in zip(run.ids, counts, strict=True))]
            spikes = tuple(true_spike_ids(i, c) for i, c in pairs)
            neurons = tuple(
                np.bincount(ids, minlength=n).astype(np.int64) for ids, n in zip(spikes, spec.layer_sizes, strict=True)
            )
        act = cls(
            true_counts=(inp, *(c[..., 0] for c in counts)),
            valid_counts=(inp, *(c[..., 1] for c in counts)),
            sparse_sizes=spec.sparse_sizes,
            n_timesteps=spec.n_timesteps,
            batch_size=spec.batch_size,
            source=source,
            neuron_counts=neurons,
            spike_ids=spikes,
        )
        act.check_against(spec)
        return act


def true_spike_ids(ids: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The true spikes' ids ``ids[t, b, :counts[t, b]]``, step by step and sample by sample, as one int32 array.

    >>> true_spike_ids(np.array([[[2, 0, 1]], [[1, 2, 2]]]), np.array([[2], [1]])).tolist()
    [2, 0, 1]
    """
    ids = np.asarray(ids)
    mask = np.arange(ids.shape[-1]) < np.asarray(counts)[..., None]
    return ids[mask].astype(np.int32)


def _spike_ids(
    given: tuple[np.ndarray, ...], true: list[np.ndarray], neurons: tuple[np.ndarray, ...] | None
) -> tuple[np.ndarray, ...]:
    if len(given) != len(true):
        raise TraceFormatError(f"spike_ids: {len(given)} tensors for {len(true)}")
    out = []
    for k, (ids, t) in enumerate(zip(given, true, strict=True)):
        arr = np.asarray(ids)
        if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)) or (arr < 0).any():
            raise TraceFormatError(f"spike_ids_{k}: expected a 1-D array of neuron ids >= 0")
        if arr.size != int(t.sum()):
            raise TraceFormatError(f"spike_ids_{k}: {arr.size} ids for the tensor's {int(t.sum())} true spikes")
        arr = np.array(arr, dtype=np.int32)
        if neurons is not None:
            n = neurons[k].size
            if arr.size and int(arr.max()) >= n:
                raise TraceFormatError(f"spike_ids_{k}: neuron {int(arr.max())} is not among the tensor's {n} neurons")
            bad = np.flatnonzero(np.bincount(arr, minlength=n) != neurons[k])
            if bad.size:
                raise TraceFormatError(
                    f"spike_ids_{k}: neuron {int(bad[0])} spikes {int((arr == bad[0]).sum())} times, neuron_counts_{k} says {int(neurons[k][bad[0]])}"
                )
        arr.setflags(write=False)
        out.append(arr)
    return tuple(out)


def _neuron_counts(given: tuple[np.ndarray, ...], true: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    if len(given) != len(true):
        raise TraceFormatError(f"neuron_counts: {len(given)} tensors for {len(true)}")
    out = []
    for k, (c, t) in enumerate(zip(given, true, strict=True)):
        arr = np.asarray(c)
        if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer) or (arr < 0).any():
            raise TraceFormatError(f"neuron_counts[{k}]: expected a 1-D array of non-negative integers")
        if int(arr.sum()) != int(t.sum()):
            raise TraceFormatError(f"neuron_counts[{k}]: sums to {int(arr.sum())}, the tensor's true counts to {int(t.sum())}")
        arr = np.array(arr, dtype=np.int64)
        arr.setflags(write=False)
        out.append(arr)
    return tuple(out)


def _counts(a: object, name: str, T: int, B: int) -> np.ndarray:
    arr = np.asarray(a)
    if arr.shape != (T, B):
        raise TraceFormatError(f"{name}: shape {arr.shape} is not [T, B] = {(T, B)}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise TraceFormatError(f"{name}: dtype {arr.dtype} is not an integer type")
    out = np.array(arr, dtype=np.int32)
    out.setflags(write=False)
    return out


def parametric_activity(
    spec: SNNSpec,
    rate: float,
    seed: int,
    *,
    input_rate: float | None = None,
    grad_fraction: float = DEFAULT_GRAD_FRACTION,
) -> SpikeActivity:
    """Binomial spike counts at a fixed firing rate, without running the network.

    For every step and sample, layer ``l`` gets ``true ~ Binomial(N_l, rate)`` capped at
    ``S_l`` and ``valid = min(true + Binomial(N_l, min(1, rate·grad_fraction)), S_l)`` (the gradient-only
    band ``θ2 < V <= θ1`` holds about ``grad_fraction`` neurons per true spike; see
    ``DEFAULT_GRAD_FRACTION`` for the measured value).
    The input gets ``Binomial(input_addresses, input_rate)`` capped at ``S_in``; ``input_rate``
    defaults to ``rate``. All draws come from ``np.random.default_rng(seed)``.

    >>> from mimdsim.snn.model.spec import snn_from_sizes
    >>> spec = snn_from_sizes([2312, 1466, 1466, 10], max_activity=0.01, input_sparse_size=32,
    ...                       batch_size=48, n_timesteps=100)
    >>> act = parametric_activity(spec, 0.005, seed=0)
    >>> act.sparse_sizes, act.true_counts[1].shape
    ((32, 14, 14, 2), (100, 48))
    """
    in_rate = rate if input_rate is None else input_rate
    for name, value in (("rate", rate), ("input_rate", in_rate)):
        if not 0 <= value <= 1:
            raise ConfigError(f"{name}: {value!r} is outside [0, 1]")
    if not grad_fraction >= 0:
        raise ConfigError(f"grad_fraction: {grad_fraction!r} must be >= 0")
    grad_rate = min(1.0, rate * grad_fraction)
    rng = np.random.default_rng(seed)
    shape = (spec.n_timesteps, spec.batch_size)
    inp = np.minimum(rng.binomial(spec.input_addresses, in_rate, size=shape), spec.input_sparse_size)
    true, valid = [inp], [inp]
    for lay in spec.layers:
        t = rng.binomial(lay.n_neurons, rate, size=shape)
        g = rng.binomial(lay.n_neurons, grad_rate, size=shape)
        true.append(np.minimum(t, lay.sparse_size))
        valid.append(np.minimum(t + g, lay.sparse_size))
    return SpikeActivity(
        tuple(true), tuple(valid), spec.sparse_sizes, spec.n_timesteps, spec.batch_size,
        source=f"parametric rate={rate} input_rate={in_rate} grad_fraction={grad_fraction} seed={seed}",
    )  # fmt: skip


def functional_activity(
    spec: SNNSpec,
    seed: int = 0,
    *,
    input_rate: float = DEFAULT_INPUT_RATE,
    weights: list[np.ndarray] | None = None,
    input_data: str | os.PathLike[str] | SpikeBatch | None = None,
) -> SpikeActivity:
    """Activity of the functional sparse model (forward pass) on Poisson input or a dataset.

    With ``input_data`` (an SHD ``.h5`` file, a folder of NMNIST ``.bin`` files or of event
    arrays, see :func:`~mimdsim.snn.reference.data.load_input_batch`; or a
    :class:`~mimdsim.snn.reference.data.SpikeBatch`, e.g. from :func:`mimdsim.snn.reference.events.events_batch`)
    the first ``B`` samples drive the model instead of Poisson input.

    Weights are :func:`~mimdsim.snn.reference.functional.init_weights` ``(spec, seed)`` unless given;
    the input is :func:`~mimdsim.snn.reference.data.poisson_input` ``(spec, input_rate, seed)`` (an
    independent random stream). Only the forward pass runs: the backward pass does not change
    any count. States are not kept, and the weights of a large network are drawn one layer
    at a time (:func:`~mimdsim.snn.reference.functional.seeded_weights`), so memory stays at one
    layer's weights and the sparse tensors.

    >>> from mimdsim.snn.model.spec import snn_from_sizes
    >>> spec = snn_from_sizes([200, 50, 10], max_activity=0.1, input_sparse_size=16, batch_size=4, n_timesteps=10)
    >>> act = functional_activity(spec, seed=0)
    >>> act.n_tensors, act.valid_counts[2].shape
    (3, (10, 4))
    """
    from mimdsim.snn.reference.data import poisson_input
    from mimdsim.snn.reference.functional import forward_spikes
    from mimdsim.snn.reference.weights import seeded_weights

    ws = seeded_weights(spec, seed) if weights is None else weights
    if input_data is None:
        ids, counts = poisson_input(spec, input_rate, seed)
        src = f"functional seed={seed} input_rate={input_rate}"
    elif isinstance(input_data, SpikeBatch):
        _check_batch_fits(spec, input_data)
        ids, counts = input_data.ids, input_data.counts
        src = f"functional seed={seed} input=a given batch"
    else:
        from mimdsim.snn.reference.data import load_input_batch

        batch = load_input_batch(spec, input_data, seed=seed)
        ids, counts = batch.ids, batch.counts
        src = f"functional seed={seed} input={Path(input_data).name}"
    run = forward_spikes(spec, ws, ids, counts)
    src += "" if weights is None else " (given weights)"
    return SpikeActivity.from_run(spec, run, counts, source=src, input_ids=ids)


def _check_batch_fits(spec: SNNSpec, batch: SpikeBatch) -> None:
    """A given input batch has the spec's [T, B, S_in] shape and ids inside its input addresses."""
    want = (spec.n_timesteps, spec.batch_size, spec.input_sparse_size)
    if tuple(batch.ids.shape) != want or tuple(batch.counts.shape) != want[:2]:
        raise ConfigError(
            f"input_data: a batch of ids {tuple(batch.ids.shape)} and counts {tuple(batch.counts.shape)}; the model needs [T, B, S_in] = {list(want)}"
        )
    used = np.arange(spec.input_sparse_size)[None, None, :] < batch.counts[:, :, None]
    top = int(batch.ids.max(initial=-1, where=used))
    if top >= spec.input_addresses:
        raise ConfigError(f"input_data: input ids reach {top}, the model's input has {spec.input_addresses} addresses")
