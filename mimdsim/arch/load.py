"""Read machine descriptions from TOML presets or files, with keyword overrides."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Collection
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from mimdsim.arch.spec import MachineSpec
from mimdsim.errors import ConfigError

__all__ = [
    "load_machine", "load_spec", "resolve_preset", "list_presets", "models_dir", "models_dirs", "preset_file", "PACKAGED_MODELS",
    "format_validation_error", "read_toml",
]  # fmt: skip


PACKAGED_MODELS = Path(__file__).resolve().parents[1] / "presets"
"""The presets that travel with the package (``mimdsim/presets``: in a checkout a link to the
repository's ``models/``, their source; in an installed wheel a copy of it)."""


def models_dirs() -> list[Path]:
    """Folders searched for presets, in order: ``$MIMDSIM_MODELS`` (if set), then the packaged presets."""
    env = os.environ.get("MIMDSIM_MODELS")
    folders = []
    if env is not None:
        if not env.strip() or not Path(env).is_dir():
            raise ConfigError(
                f"MIMDSIM_MODELS: {env!r} is not a folder (it should name a models/ folder holding machines/, gpus/ and snn/)"
            )
        folders.append(Path(env))
    return [*folders, PACKAGED_MODELS]


def models_dir() -> Path:
    """The first folder of :func:`models_dirs` (``$MIMDSIM_MODELS`` if set, else the packaged presets)."""
    return models_dirs()[0]


def list_presets(kind: str = "machines") -> list[str]:
    """Names of the presets of one kind (``machines``, ``snn``, ``gpus``, ``sweeps``) in every preset folder."""
    return sorted({p.stem for folder in models_dirs() if (folder / kind).is_dir() for p in (folder / kind).glob("*.toml")})


def preset_file(kind: str, name: str) -> Path | None:
    """The file of preset ``name`` of ``kind``: the first preset folder holding it (None if none does)."""
    for folder in models_dirs():
        f = folder / kind / f"{name}.toml"
        if f.is_file():
            return f
    return None


def format_validation_error(err: ValidationError, source: str, hidden_loc: Collection[str] = ()) -> str:
    """One line per problem: ``source: field.path: message (got value)``; ``hidden_loc`` names path parts a model
    has that the file does not (a table's keys gathered into one field) and are left out of the path."""
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"] if p not in hidden_loc) or "<root>"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        elif e["type"] == "missing":
            msg = "missing required key"
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        got = "" if e["type"] == "missing" or not e["loc"] else f" (got {e.get('input')!r})"
        lines.append(f"{source}: {loc}: {msg}{got}")
    return "\n".join(lines)


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file, turning I/O and syntax errors into :class:`ConfigError`."""
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as err:
        raise ConfigError(f"{path}: file not found") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from err
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a TOML file (not UTF-8 text)") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err}") from err


def resolve_preset(name_or_path: str | os.PathLike[str], kind: str, what: str, aliases: dict[str, str] | None = None) -> Path:
    """The TOML file of a preset of ``kind`` (``machines``, ``gpus``, ``snn``) or a given ``.toml`` path.

    Raises :class:`ConfigError` naming the missing file, or the unknown preset and the known ones.
    """
    if not isinstance(name_or_path, str | os.PathLike):  # a number or list from a spec file, say
        raise ConfigError(f"{what}: {name_or_path!r} is not a preset name or a .toml path")
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ConfigError(f"{path}: file not found")
        return path
    name = str(name_or_path)
    if aliases is not None:
        name = name.lower().replace("-", "_")
        name = aliases.get(name, name)
    preset = preset_file(kind, name)
    if preset is None:
        known = ", ".join([*list_presets(kind), *(aliases or {})]) or "none found"
        raise ConfigError(f"unknown {what} {str(name_or_path)!r} (presets: {known}; or give a .toml path)")
    return preset


SpecT = TypeVar("SpecT", bound=BaseModel)


def load_spec(
    cls: type[SpecT],
    name_or_path: str | os.PathLike[str] | SpecT,
    kind: str,
    what: str,
    overrides: dict[str, Any],
    aliases: dict[str, str] | None = None,
) -> SpecT:
    """Validate a preset, TOML file or existing spec of ``cls`` with field ``overrides`` applied."""
    if isinstance(name_or_path, cls):
        data: dict[str, Any] = name_or_path.model_dump()
        source = f"{what} {getattr(name_or_path, 'name', '')!r}"
    else:
        path = resolve_preset(name_or_path, kind, what, aliases)  # type: ignore[arg-type]
        data = read_toml(path)
        source = str(path)
    data.update(overrides)
    if overrides:
        source += " (with overrides " + ", ".join(sorted(overrides)) + ")"
    try:
        return cls.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, source)) from None


def load_machine(name_or_path: str | os.PathLike[str] | MachineSpec, **overrides: Any) -> MachineSpec:
    """Load a machine by preset name (``mk1``, ``mk2``, ``bow``) or TOML path.

    Keyword ``overrides`` replace fields before validation, e.g.
    ``load_machine("bow", n_ipus=4, memory_bytes_per_tile=2 * 638976)``.

    Raises
    ------
    ConfigError
        Unknown preset, unreadable file, unknown or missing key, wrong type or value.
        The message names the file and the dotted field path of every problem.

    Examples
    --------
    >>> m = load_machine("mk2", n_ipus=2)
    >>> (m.n_tiles, m.tile_clock_hz)
    (2944, 1325000000.0)
    """
    return load_spec(MachineSpec, name_or_path, "machines", "machine preset", overrides)
