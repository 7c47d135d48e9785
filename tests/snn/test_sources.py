"""Activity sources as objects: the same counts, labels and input hashes as the names they replace."""

from __future__ import annotations

from pathlib import Path

import pytest

from mimdsim.arch import load_machine
from mimdsim.errors import ConfigError
from mimdsim.snn.activity.sources import ActivitySource, Functional, Given, Parametric, Saturated, source_of
from mimdsim.snn.model.spec import snn_from_sizes
from mimdsim.studies.estimate import estimate_training_step, training_step_hash

SPEC = snn_from_sizes([64, 24, 24, 4], max_activity=0.25, input_sparse_size=8, batch_size=6, n_timesteps=3)
M = load_machine("bow", tiles_per_ipu=64)


def test_objects_and_names_are_the_same_input() -> None:
    by_name = estimate_training_step(SPEC, M, activity_source="functional", seed=1)
    by_obj = estimate_training_step(SPEC, M, activity_source=Functional(seed=1))
    assert by_name.cycles_per_step == by_obj.cycles_per_step and by_name.input_hash == by_obj.input_hash
    assert by_obj.activity_source == "functional"
    assert training_step_hash(SPEC, M, activity_source="parametric", rate=0.1) == training_step_hash(
        SPEC, M, activity_source=Parametric(0.1)
    )
    assert training_step_hash(SPEC, M, activity_source="saturated") != training_step_hash(SPEC, M)
    given = estimate_training_step(SPEC, M, activity_source=Given(by_name.activity))
    assert given.cycles_per_step == by_name.cycles_per_step and given.input_hash != by_name.input_hash


def test_source_of_checks_options_first(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("layer,t,count\n")
    assert isinstance(source_of("saturated"), Saturated) and isinstance(source_of(str(tmp_path / "x.csv")), ActivitySource)
    with pytest.raises(ConfigError, match="missing.csv: file not found"):  # refused before any point runs
        source_of(str(tmp_path / "missing.csv"))
    with pytest.raises(ConfigError, match="only the parametric activity source has a firing rate"):
        source_of("functional", rate=0.1)
    with pytest.raises(ConfigError, match="needs a firing rate"):
        source_of("parametric")
    with pytest.raises(ConfigError, match="is not one of functional, parametric, saturated"):
        source_of("poisson")
    with pytest.raises(ConfigError, match="seed"):
        source_of("functional", seed=-1)
