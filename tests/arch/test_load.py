"""load_machine: presets, overrides, and a ConfigError naming file and field for every bad input."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from mimdsim.arch import MachineSpec, list_presets, load_machine
from mimdsim.arch.load import models_dir
from mimdsim.errors import ConfigError

PRESET_FILES = sorted((models_dir() / "machines").glob("*.toml"))


def test_presets_are_listed() -> None:
    assert {"bow", "mk1", "mk2"} <= set(list_presets("machines"))
    assert list_presets("no-such-kind") == []


@pytest.mark.parametrize("name", ["bow", "mk1", "mk2"])
def test_every_preset_loads_and_matches_its_file(name: str) -> None:
    m = load_machine(name)
    assert isinstance(m, MachineSpec) and m.name == name
    with open(models_dir() / "machines" / f"{name}.toml", "rb") as fh:
        raw = tomllib.load(fh)
    assert set(raw) <= set(MachineSpec.model_fields), "every TOML key is a field"
    for key, value in raw.items():
        assert getattr(m, key) == (tuple(value) if isinstance(value, list) else value), (
            key
        )  # a band is a [low, central, high] list


def test_preset_key_numbers() -> None:
    mk1, mk2, bow = load_machine("mk1"), load_machine("mk2"), load_machine("bow")
    assert (mk1.n_tiles, mk1.memory_bytes_per_tile, mk1.tile_clock_hz) == (1216, 256 * 1024, 1.6e9)
    assert (mk2.n_tiles, mk2.memory_bytes_per_tile, mk2.tile_clock_hz) == (1472, 624 * 1024, 1.325e9)
    assert (bow.n_tiles, bow.memory_bytes_per_tile, bow.tile_clock_hz) == (1472, 624 * 1024, 1.85e9)
    assert {m.num_worker_contexts for m in (mk1, mk2, bow)} == {6}


def test_load_by_path_and_from_spec(tmp_path: Path) -> None:
    path = tmp_path / "my.toml"
    path.write_text((models_dir() / "machines" / "mk2.toml").read_text().replace('name = "mk2"', 'name = "mine"'))
    m = load_machine(path)
    assert m.name == "mine" and m.n_tiles == 1472
    assert load_machine(str(path)) == m
    again = load_machine(m, n_ipus=4)
    assert again.n_tiles == 4 * 1472 and m.n_ipus == 1  # the original spec is unchanged


def test_overrides() -> None:
    m = load_machine("bow", n_ipus=16, memory_bytes_per_tile=2 * 638976, link_topology="ladder", tile_clock_hz=2e9)
    assert (m.n_ipus, m.n_tiles, m.memory_bytes_per_tile, m.link_topology, m.tile_clock_hz) == (
        16,
        16 * 1472,
        1277952,
        "ladder",
        2e9,
    )
    assert load_machine("bow").n_ipus == 1


def test_specs_are_frozen() -> None:
    m = load_machine("mk2")
    with pytest.raises(Exception, match="frozen"):
        m.n_ipus = 2  # type: ignore[misc]


def test_unknown_preset() -> None:
    with pytest.raises(ConfigError, match=r"unknown machine preset 'mk3' \(presets: bow, mk1, mk2"):
        load_machine("mk3")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope.toml: file not found"):
        load_machine(tmp_path / "nope.toml")


def test_not_toml(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("name = \n")
    with pytest.raises(ConfigError, match=r"bad.toml: not valid TOML"):
        load_machine(path)


def _write(tmp_path: Path, **changes: object) -> Path:
    """mk2.toml with keys replaced (``None`` deletes the key)."""
    with open(models_dir() / "machines" / "mk2.toml", "rb") as fh:
        data = tomllib.load(fh)
    for k, v in changes.items():
        if v is None:
            data.pop(k, None)
        else:
            data[k] = v
    lines = []
    for k, v in data.items():
        if isinstance(v, bool):
            lines.append(f"{k} = {'true' if v else 'false'}")
        elif isinstance(v, str):
            lines.append(f'{k} = "{v}"')
        else:
            lines.append(f"{k} = {v!r}")
    path = tmp_path / "machine.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"tiles_per_ip": 4}, "tiles_per_ip", "unknown key"),
        ({"tiles_per_ipu": None}, "tiles_per_ipu", "missing required key"),
        ({"memory_bytes_per_tile": None}, "memory_bytes_per_tile", "missing required key"),
        ({"tiles_per_ipu": "many"}, "tiles_per_ipu", "valid integer"),
        ({"tile_clock_hz": "fast"}, "tile_clock_hz", "valid number"),
        ({"link_topology": "ring"}, "link_topology", "'ladder', 'torus2d' or 'all_to_all'"),
        ({"supports_supertile_send_receive": "maybe"}, "supports_supertile_send_receive", "valid boolean"),
        ({"tiles_per_ipu": 0}, "tiles_per_ipu", "greater than or equal to 1"),
        ({"tiles_per_ipu": -8}, "tiles_per_ipu", "greater than or equal to 1"),
        ({"memory_bytes_per_tile": 0}, "memory_bytes_per_tile", "greater than 0"),
        ({"memory_bytes_per_tile": -1}, "memory_bytes_per_tile", "greater than 0"),
        ({"n_ipus": 0}, "n_ipus", "greater than or equal to 1"),
        ({"tile_clock_hz": 0.0}, "tile_clock_hz", "greater than or equal to 1000000"),
        ({"tile_clock_hz": 5e-324}, "tile_clock_hz", "greater than or equal to 1000000"),
        ({"tile_clock_hz": 1e30}, "tile_clock_hz", "less than or equal to 100000000000"),
        ({"n_ipus": True}, "n_ipus", "valid integer"),
        ({"n_ipus": 2.0}, "n_ipus", "valid integer"),
        ({"memory_bytes_per_tile": 2**62}, "memory_bytes_per_tile", "less than or equal to 1099511627776"),
        ({"global_sync_cycles": 2**40}, "global_sync_cycles", "less than or equal to 1000000000"),
        ({"supports_supertile_send_receive": 1}, "supports_supertile_send_receive", "valid boolean"),
        ({"exchange_bytes_per_cycle": 0}, "exchange_bytes_per_cycle", "greater than 0"),
        ({"link_bytes_per_s": -1.0}, "link_bytes_per_s", "greater than or equal to 1000"),
        ({"link_bytes_per_s": 1e-300}, "link_bytes_per_s", "greater than or equal to 1000"),
        ({"host_bytes_per_s": 0.0}, "host_bytes_per_s", "greater than or equal to 1000"),
        ({"num_worker_contexts": 0}, "num_worker_contexts", "greater than or equal to 1"),
        ({"max_ipu_sync_delay": -1}, "max_ipu_sync_delay", "greater than or equal to 0"),
    ],
)
def test_bad_file_names_file_and_field(tmp_path: Path, changes: dict[str, object], field: str, words: str) -> None:
    path = _write(tmp_path, **changes)
    with pytest.raises(ConfigError) as info:
        load_machine(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: {field}: "), msg
    assert words in msg, msg


def test_cross_field_rule(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"machine.toml: .*tiles_per_ipu \(7\) must be a multiple of tiles_per_supertile \(2\)"):
        load_machine(_write(tmp_path, tiles_per_ipu=7))


def test_every_problem_is_reported(tmp_path: Path) -> None:
    path = _write(tmp_path, tiles_per_ipu=0, foo=1, tile_clock_hz=None)
    with pytest.raises(ConfigError) as excinfo:
        load_machine(path)
    msg = str(excinfo.value)
    assert f"{path}: tiles_per_ipu:" in msg and f"{path}: foo: unknown key" in msg and f"{path}: tile_clock_hz: missing" in msg


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"bogus": 1}, "bogus", "unknown key (got 1)"),
        ({"n_ipus": "x"}, "n_ipus", "(got 'x')"),
        ({"memory_bytes_per_tile": 0}, "memory_bytes_per_tile", "greater than 0 (got 0)"),
        ({"tiles_per_ipu": -2}, "tiles_per_ipu", "greater than or equal to 1"),
    ],
)
def test_bad_override_names_preset_file_and_field(overrides: dict[str, object], field: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_machine("bow", **overrides)
    msg = str(info.value)
    assert "bow.toml (with overrides " in msg and f": {field}: " in msg and words in msg, msg


def test_preset_files_exist() -> None:
    assert [p.stem for p in PRESET_FILES] == list_presets("machines")
