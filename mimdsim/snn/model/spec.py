"""SNN description: layer sizes, sparse sizes, neuron constants and training-step shape.

The constants default to the seed paper's benchmark values (GSNN CC and the runfiles (benchmark values)):
decay 0.95, thresholds 1.0 / 0.9, SuperSpike beta 10, input-current scale 10, weight_mul 2.0.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, ValidationError, model_validator

from mimdsim.arguments import NUMBER_OR_NONE, check_kinds, is_int
from mimdsim.errors import ConfigError
from mimdsim.snn.model.connectivity import Explicit, Local2D, SmallWorld

__all__ = [
    "LayerSpec",
    "SNNSpec",
    "RunHints",
    "sparse_size_for_activity",
    "load_snn_model",
    "snn_from_sizes",
    "PROGRAM_VERSIONS",
]

PROGRAM_VERSIONS: tuple[str, ...] = ("final", "2022-09-12")
"""Versions of the authors' op the lowering knows (:attr:`SNNSpec.program_version`)."""


_MAX_SIZE = 1 << 31
"""Largest neuron count, input width or sparse size (int32 ids)."""


class LayerSpec(BaseModel):
    """One LIF layer: ``n_neurons`` neurons whose output holds at most ``sparse_size`` spike ids.

    ``connection_density`` < 1 makes the layer's input connectivity sparse (a random mask
    drawn from ``connection_seed``); 1.0 is the paper's dense all-to-all case.
    ``connectivity`` gives a structured mask instead (:mod:`mimdsim.snn.model.connectivity`:
    ``local2d`` receptive fields or a ``small_world`` ring); ``shuffle_seed`` permutes the
    layer's neuron ids.
    ``second_threshold`` is this layer's θ2 (None: the network's ``second_threshold``);
    the authors' scripts use 0.9 to 0.98, and -100 on the output layer in
    ``train_nmnist.py`` (every output neuron gradient-eligible).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    n_neurons: StrictInt = Field(gt=0, le=_MAX_SIZE)
    sparse_size: StrictInt = Field(gt=0, le=_MAX_SIZE)
    connection_density: StrictFloat = Field(1.0, gt=0, le=1, allow_inf_nan=False)
    connection_seed: StrictInt = Field(0, ge=0, lt=2**63)
    second_threshold: StrictFloat | None = Field(None, allow_inf_nan=False)
    connectivity: Local2D | SmallWorld | Explicit | None = Field(None, discriminator="kind")
    shuffle_seed: StrictInt | None = Field(None, ge=0, lt=2**63)

    @model_validator(mode="after")
    def _sparse_fits(self) -> LayerSpec:
        if self.sparse_size > self.n_neurons:
            raise ValueError(f"sparse_size ({self.sparse_size}) exceeds n_neurons ({self.n_neurons})")
        if self.connectivity is not None and self.connection_density < 1.0:
            raise ValueError("give either connection_density < 1 (a random mask) or connectivity, not both")
        return self


class SNNSpec(BaseModel):
    """A feed-forward LIF network trained by BPTT, one training step of B samples x T steps.

    ``layers`` lists the hidden layers and, last, the output layer. Layer ``l`` receives the
    spikes of layer ``l-1`` (layer 0 receives the input) delayed by one time step.
    ``weight_mul`` scales the initial weights (the authors' ``weight_mul``: 2.0 in the final
    benchmark script, 1.0 its argparse default, 4.0 in a GPU sweep). ``n_input_addresses``
    is how many distinct input ids the data uses (see :attr:`input_addresses`).
    ``steps_per_execution`` is Keras' steps per device execution (100 in the paper's
    family (a) runs): the host's per-execution overhead (the machine's
    ``execution_overhead_s``) is shared by that many steps.
    ``program_version`` picks the version of the authors' op that is lowered
    (:data:`PROGRAM_VERSIONS`): ``final`` (github.com/jrfinkbeiner/graphcore_snn @ 3e05811,
    what the paper's benchmark scripts ran) or ``2022-09-12`` (@ 2b0fe90, the code of the
    only measured IPU timings: another backward state gradient, and no identity layer in
    the Keras model around it; docs/snn.md).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "snn"
    dataset: Literal["synthetic", "nmnist", "shd", "dvsgesture"] = "synthetic"
    n_inputs: StrictInt = Field(gt=0, le=_MAX_SIZE)
    input_sparse_size: StrictInt = Field(gt=0, le=_MAX_SIZE)
    layers: tuple[LayerSpec, ...] = Field(min_length=1, max_length=4096)
    batch_size: StrictInt = Field(gt=0, le=1 << 20)
    n_timesteps: StrictInt = Field(gt=0, le=1 << 24)
    decay: StrictFloat = Field(0.95, gt=0, lt=1, allow_inf_nan=False)
    threshold: StrictFloat = Field(1.0, allow_inf_nan=False)
    second_threshold: StrictFloat = Field(0.9, allow_inf_nan=False)
    surrogate_beta: StrictFloat = Field(10.0, gt=0, allow_inf_nan=False)
    input_scale: StrictFloat = Field(10.0, gt=0, allow_inf_nan=False)
    weight_mul: StrictFloat = Field(2.0, gt=0, allow_inf_nan=False)
    optimizer: Literal["adam", "sgd"] = "adam"
    n_input_addresses: StrictInt | None = Field(None, gt=0, le=_MAX_SIZE)
    steps_per_execution: StrictInt = Field(1, ge=1, le=1 << 31)
    program_version: Literal["final", "2022-09-12"] = "final"

    @model_validator(mode="after")
    def _check(self) -> SNNSpec:
        if self.input_sparse_size > self.n_inputs:
            raise ValueError(f"input_sparse_size ({self.input_sparse_size}) exceeds n_inputs ({self.n_inputs})")
        if self.second_threshold > self.threshold:
            raise ValueError("second_threshold must not exceed threshold")
        for k, lay in enumerate(self.layers):
            if lay.second_threshold is not None and lay.second_threshold > self.threshold:
                raise ValueError(f"layers[{k}].second_threshold ({lay.second_threshold}) exceeds threshold ({self.threshold})")
        if self.n_input_addresses is not None and self.n_input_addresses > self.n_inputs:
            raise ValueError(f"n_input_addresses ({self.n_input_addresses}) exceeds n_inputs ({self.n_inputs})")
        if self.input_sparse_size > self.input_addresses:
            raise ValueError(f"input_sparse_size ({self.input_sparse_size}) exceeds n_input_addresses ({self.input_addresses})")
        return self

    @property
    def input_addresses(self) -> int:
        """Distinct input ids the data uses: ``n_input_addresses``, or ``n_inputs``. The
        authors' final scripts downsample NMNIST to 24x24x2 = 1152 addresses even where the
        first layer declares 2312 inputs (nmnist_util.py:151-213, 607-620)."""
        return self.n_input_addresses or self.n_inputs

    @property
    def layer_second_thresholds(self) -> tuple[float, ...]:
        """θ2 of every layer (its own, or the network's)."""
        return tuple(self.second_threshold if lay.second_threshold is None else lay.second_threshold for lay in self.layers)

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """Neurons of every layer, input first: ``(n_inputs, N_1, ..., N_L)``."""
        return (self.n_inputs, *(lay.n_neurons for lay in self.layers))

    @property
    def sparse_sizes(self) -> tuple[int, ...]:
        """Sparse sizes of every spike tensor, input first: ``(S_0, S_1, ..., S_L)``."""
        return (self.input_sparse_size, *(lay.sparse_size for lay in self.layers))

    @property
    def n_weights(self) -> int:
        """Dense weight count of all layers (before any connectivity mask)."""
        sizes = self.layer_sizes
        return sum(a * b for a, b in itertools.pairwise(sizes))


class RunHints(BaseModel):
    """Optional ``[run]`` table of a model file: how to run it unless the caller says otherwise.

    The command line and the API apply it the same way (:func:`mimdsim.studies.estimate.run_settings`).
    A relative ``machine`` path is relative to the model file. The model's maximum activity
    is the top-level ``max_activity``, not a run setting.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    machine: str = "bow"
    n_ipus: int | None = Field(None, ge=1, le=1024)
    neurons_per_tile: int | None = Field(None, ge=1, le=1 << 20)
    engine: Literal["des", "fast"] = "fast"
    seed: int = Field(0, ge=0, lt=2**63)


def sparse_size_for_activity(n_neurons: int, activity: float, *, is_output: bool = False) -> int:
    """Sparse size for a maximum activity ``a``: ``2*floor(a*N/2)`` as the paper's script does.

    The output layer gets at least 2 (``max(2*floor(a*C/2), 2)``); hidden layers are also
    kept at 2 or more so that no layer is silenced outright, and never above ``N``.

    >>> sparse_size_for_activity(1466, 0.01), sparse_size_for_activity(10, 0.01, is_output=True)
    (14, 2)
    """
    if not 0 < activity <= 1:
        raise ConfigError(f"activity: {activity!r} is outside (0, 1]")
    s = 2 * int(activity * n_neurons // 2)
    return min(max(s, 2), n_neurons)


def _renamed(old: str, new: str, value: Any) -> Any:
    """The value of a keyword renamed in this version (the old name still works, with a DeprecationWarning)."""
    warnings.warn(
        f"{old}= is renamed {new}= (it means a maximum activity, not a source of spikes)", DeprecationWarning, stacklevel=3
    )
    return value


def snn_from_sizes(
    layer_sizes: list[int] | tuple[int, ...],
    *,
    max_activity: float | None = None,
    input_sparse_size: int,
    batch_size: int,
    n_timesteps: int,
    activity: float | None = None,
    **fields: Any,
) -> SNNSpec:
    """Build an :class:`SNNSpec` from ``[n_inputs, N_1, ..., N_L]`` and a maximum activity
    (``max_activity``, which sets every sparse size; ``activity`` is its old name)."""
    check_kinds(
        {"layer_sizes": layer_sizes, "max_activity": max_activity, "activity": activity},
        {"layer_sizes": (lambda v: isinstance(v, list | tuple) and all(is_int(n) for n in v), "a list of layer sizes"),
         "max_activity": NUMBER_OR_NONE, "activity": NUMBER_OR_NONE},  # NaN: the range check says "outside (0, 1]"
    )  # fmt: skip
    if activity is not None:
        max_activity = _renamed("activity", "max_activity", activity)
    if max_activity is None:
        raise ConfigError(
            "max_activity: required (a number in (0, 1]: the largest fraction of a layer's neurons that spike in a step)"
        )
    activity = max_activity
    if len(layer_sizes) < 2:
        raise ConfigError(f"layers: need the input size and at least one layer, got {list(layer_sizes)}")
    n_in, *sizes = layer_sizes
    layers = [
        {"n_neurons": n, "sparse_size": sparse_size_for_activity(n, activity, is_output=i == len(sizes) - 1)}
        for i, n in enumerate(sizes)
    ]
    data = dict(
        n_inputs=n_in,
        input_sparse_size=input_sparse_size,
        layers=layers,
        batch_size=batch_size,
        n_timesteps=n_timesteps,
        **fields,
    )
    try:
        return SNNSpec.model_validate(data)
    except ValidationError as err:
        from mimdsim.arch.load import format_validation_error

        raise ConfigError(format_validation_error(err, "SNN model")) from None


def load_snn_model(
    path: str | Path,
    *,
    max_activity: float | None = None,
    activity: float | None = None,
    layer_sizes: Sequence[int] | None = None,
) -> tuple[SNNSpec, RunHints]:
    """Read an SNN model TOML file (format in docs/snn.md).

    The file holds the :class:`SNNSpec` fields at top level. Layers are given either as
    ``[[layers]]`` tables (``n_neurons``, ``sparse_size``, ``connectivity``, ...) or as
    ``layer_sizes`` plus ``max_activity`` (sparse sizes derived as the paper does); tables
    that all leave out ``sparse_size`` take it from ``max_activity`` the same way. An optional ``[run]`` table
    holds :class:`RunHints`. ``max_activity`` replaces the file's ``max_activity`` (and so
    every derived sparse size); it needs derived sparse sizes (``activity`` is its old name).
    ``layer_sizes`` replaces the file's ``layer_sizes`` (a sweep's ``model.layer_sizes`` axis); it
    needs a file that gives ``layer_sizes``.
    """
    from mimdsim.arch.load import format_validation_error, read_toml, resolve_preset

    if activity is not None:
        max_activity = _renamed("activity", "max_activity", activity)
    activity = max_activity

    path = resolve_preset(path, "snn", "SNN model")  # a .toml path, or a preset name (models/snn/)
    data = read_toml(path)
    run = data.pop("run", {})
    sizes = data.pop("layer_sizes", None)
    if layer_sizes is not None:
        if sizes is None:
            raise ConfigError(
                f"{path}: layer_sizes: the override needs a model file that gives layer_sizes (this one has [[layers]])"
            )
        sizes = list(layer_sizes)
    file_activity = data.pop("max_activity", None)
    tables = data.get("layers")
    derived = isinstance(tables, list) and all(isinstance(t, dict) and "sparse_size" not in t for t in tables) and bool(tables)
    if activity is not None and sizes is None and not derived:
        raise ConfigError(f"{path}: an activity override needs layer_sizes or [[layers]] without sparse_size, plus max_activity")
    activity = file_activity if activity is None else activity
    if derived and sizes is None and isinstance(tables, list):
        if activity is None:
            raise ConfigError(f"{path}: max_activity: required when [[layers]] give no sparse_size (a number in (0, 1])")
        if not isinstance(activity, int | float) or not 0 < activity <= 1:
            raise ConfigError(f"{path}: max_activity: {activity!r} is outside (0, 1]")
        n_layers = len(tables)
        for i, t in enumerate(tables):
            n = t.get("n_neurons")
            if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                raise ConfigError(f"{path}: layers[{i}].n_neurons: {n!r} is not a positive integer")
            t["sparse_size"] = sparse_size_for_activity(n, activity, is_output=i == n_layers - 1)
    elif sizes is not None:
        if "layers" in data:
            raise ConfigError(f"{path}: layers: give either [[layers]] or layer_sizes, not both")
        if activity is None:
            raise ConfigError(f"{path}: max_activity: required with layer_sizes (a number in (0, 1])")
        if not isinstance(sizes, list) or not all(isinstance(n, int) and n > 0 for n in sizes):
            raise ConfigError(f"{path}: layer_sizes: {sizes!r} is not a list of positive integers")
        if not isinstance(activity, int | float) or not 0 < activity <= 1:
            raise ConfigError(f"{path}: max_activity: {activity!r} is outside (0, 1]")
        data["layers"] = [
            {"n_neurons": n, "sparse_size": sparse_size_for_activity(n, activity, is_output=i == len(sizes) - 1)}
            for i, n in enumerate(sizes)
        ]
    elif activity is not None:
        raise ConfigError(f"{path}: max_activity: only allowed with layer_sizes or [[layers]] without sparse_size")
    if not isinstance(run, dict):
        raise ConfigError(f"{path}: run: expected a [run] table (got {run!r})")
    if "activity" in run:
        raise ConfigError(f"{path}: run.activity: not a run setting; the model's maximum activity is the top-level max_activity")
    machine = run.get("machine")
    if isinstance(machine, str) and machine.endswith(".toml") and not Path(machine).is_absolute():
        run = {**run, "machine": str(path.parent / machine)}  # relative to the model file
    try:
        spec = SNNSpec.model_validate(data)
        hints = RunHints.model_validate(run)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, str(path))) from None
    return spec, hints
