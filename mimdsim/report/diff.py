"""``mimdsim diff A.json B.json``: which inputs differ, and which supersteps and tiles changed the step time most.

A and B are ``mimdsim snn --json --detail`` outputs (the result record plus
``step_kind_cycles``, ``tile_busy_cycles`` and ``tiles_per_ipu``). Without the detail, only
the record's fields are compared.

>>> a = {"cycles_per_step": 100, "ms_per_step": 1.0, "step_kind_cycles": {"x": 60, "y": 40}, "tile_busy_cycles": [5, 9]}
>>> b = {"cycles_per_step": 80, "ms_per_step": 0.8, "step_kind_cycles": {"x": 30, "y": 50}, "tile_busy_cycles": [5, 4]}
>>> d = diff_estimates(a, b)
>>> d["cycles_per_step"], [(s["name"], s["delta_cycles"]) for s in d["step_kinds"]], d["tiles"][0]["tile"]
((100, 80, -20), [('x', -30), ('y', 10)], 1)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mimdsim.errors import ConfigError

__all__ = ["diff_estimates", "diff_text", "differing_inputs", "check_diff_input", "DiffInput", "FIELDS", "INPUTS"]

_Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]  # an int or a float, not a string


class DiffInput(BaseModel):
    """What ``mimdsim diff`` reads of an ``mimdsim snn --json [--detail]`` output beside the record's fields (checked
    as a record is, :meth:`~mimdsim.studies.record.SNNRecord.from_dict`): the figures it compares and the detail it
    ranks, by type."""

    model_config = ConfigDict(extra="allow")

    cycles_per_step: _Number
    ms_per_step: _Number | None = None
    compute_cycles: _Number | None = None
    exchange_cycles: _Number | None = None
    global_exchange_cycles: _Number | None = None
    host_exchange_cycles: _Number | None = None
    sync_cycles: _Number | None = None
    max_tile_memory_bytes: _Number | None = None
    step_kind_cycles: dict[str, _Number] | None = None
    tile_busy_cycles: list[_Number] | None = None
    machine_spec: dict[str, Any] | None = None


def check_diff_input(d: Any, source: str) -> Mapping[str, Any]:
    """``d`` if it is an estimate output :class:`DiffInput` accepts, else a ConfigError naming ``source``, the field and
    the value."""
    from mimdsim.arch.load import format_validation_error

    if not isinstance(d, Mapping) or "cycles_per_step" not in d:
        raise ConfigError(f"diff: {source} is not an 'mimdsim snn --json' output (no cycles_per_step)")
    from mimdsim.studies.record import SNNRecord, record_fields

    try:
        DiffInput.model_validate(d)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, source).split("\n")[0]) from None
    names = set(record_fields())
    if "input_hash" in d:  # the record part, by the record's own types
        try:
            SNNRecord.from_dict({k: v for k, v in d.items() if k in names})
        except ConfigError as err:
            raise ConfigError(f"{source}: {err}") from None
    return d


FIELDS = ("cycles_per_step", "ms_per_step", "compute_cycles", "exchange_cycles", "global_exchange_cycles", "host_exchange_cycles",
          "sync_cycles", "max_tile_memory_bytes")  # fmt: skip
"""Record fields compared side by side."""


INPUTS = ("model", "layers", "sparse_sizes", "max_activity", "batch_size", "n_timesteps", "machine", "n_ipus", "tiles_per_ipu",
          "tile_clock_hz", "memory_bytes_per_tile", "neurons_per_tile", "partitioner", "engine", "activity_source", "seed",
          "passes", "program_version", "gpu", "gpu_framework", "gpu_matmul_precision", "energy_scope")  # fmt: skip
"""Record fields that are inputs of the estimate (its configuration), named when they differ; with ``--detail`` the
machine description's fields (``machine.<field>``) too."""


def differing_inputs(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """The inputs A and B differ in, as ``(name, a, b)``: configuration fields, then machine fields (``--detail``).

    >>> differing_inputs({"engine": "fast", "seed": 0, "machine_spec": {"exchange_bytes_per_cycle": 4}},
    ...                  {"engine": "des", "seed": 0, "machine_spec": {"exchange_bytes_per_cycle": 8}})
    [('engine', 'fast', 'des'), ('machine.exchange_bytes_per_cycle', 4, 8)]
    """
    out = [(f, a.get(f), b.get(f)) for f in INPUTS if (f in a or f in b) and a.get(f) != b.get(f)]
    ma, mb = a.get("machine_spec"), b.get("machine_spec")
    if isinstance(ma, Mapping) and isinstance(mb, Mapping):
        shown = {f for f, _, _ in out}
        out += [(f"machine.{k}", ma.get(k), mb.get(k)) for k in dict.fromkeys([*ma, *mb])
                if ma.get(k) != mb.get(k) and k not in shown and k != "name"]  # fmt: skip
    return out


def diff_estimates(a: Mapping[str, Any], b: Mapping[str, Any], n: int = 10) -> dict[str, Any]:
    """Fields as ``(a, b, b - a)``; the inputs that differ (:func:`differing_inputs`); the ``n`` superstep kinds and
    tiles whose cycles changed most (by ``|b - a|``).

    Raises
    ------
    ConfigError
        Either side is not an ``mimdsim snn --json`` output (:class:`DiffInput`: no ``cycles_per_step``, or a field of
        the wrong type).
    """
    for name, d in (("A", a), ("B", b)):
        check_diff_input(d, name)
    out: dict[str, Any] = {f: (a.get(f), b.get(f), _delta(a.get(f), b.get(f))) for f in FIELDS if f in a or f in b}
    out["inputs"] = [{"name": f, "a": x, "b": y} for f, x, y in differing_inputs(a, b)]
    ka, kb = a.get("step_kind_cycles") or {}, b.get("step_kind_cycles") or {}
    kinds = [{"name": k, "a_cycles": int(ka.get(k, 0)), "b_cycles": int(kb.get(k, 0)), "delta_cycles": int(kb.get(k, 0)) - int(ka.get(k, 0))}
             for k in dict.fromkeys([*ka, *kb])]  # fmt: skip
    out["step_kinds"] = sorted(kinds, key=lambda s: (-abs(s["delta_cycles"]), s["name"]))[:n]
    ta, tb = a.get("tile_busy_cycles") or [], b.get("tile_busy_cycles") or []
    if ta and tb and len(ta) != len(tb):
        raise ConfigError(f"diff: A has {len(ta)} tiles and B {len(tb)}: per-tile changes need the same machine size")
    tiles = [{"tile": t, "a_busy_cycles": int(x), "b_busy_cycles": int(y), "delta_cycles": int(y) - int(x)}
             for t, (x, y) in enumerate(zip(ta, tb, strict=False))]  # fmt: skip
    out["tiles"] = sorted(tiles, key=lambda s: (-abs(s["delta_cycles"]), s["tile"]))[:n]
    return out


def _delta(x: Any, y: Any) -> Any:
    return y - x if isinstance(x, (int, float)) and isinstance(y, (int, float)) else None


def diff_text(d: Mapping[str, Any]) -> str:
    """The diff as aligned text."""
    lines = []
    if d.get("inputs"):
        lines += ["inputs that differ:"]
        lines += [f"  {i['name']:38s} {_fmt(i['a']):>18s} -> {_fmt(i['b'])}" for i in d["inputs"]]
        lines += [""]
    elif "inputs" in d:
        lines += ["inputs: the same (as far as the records say; --detail on both adds the machine's fields)", ""]
    lines += [f"{'field':24s} {'A':>16s} {'B':>16s} {'B - A':>16s}"]
    for f in FIELDS:
        if f in d:
            a, b, dl = d[f]
            lines.append(f"{f:24s} {_fmt(a):>16s} {_fmt(b):>16s} {_fmt(dl):>16s}")
    if d["step_kinds"]:
        lines += ["", "superstep kinds that changed most (cycles per training step):"]
        lines += [
            f"  {s['name']:32s} {s['a_cycles']:>12,} -> {s['b_cycles']:>12,} ({s['delta_cycles']:+,})" for s in d["step_kinds"]
        ]
    if d["tiles"]:
        lines += ["", "tiles whose busy cycles changed most:"]
        lines += [
            f"  tile {s['tile']:>6d} {s['a_busy_cycles']:>12,} -> {s['b_busy_cycles']:>12,} ({s['delta_cycles']:+,})"
            for s in d["tiles"]
        ]
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, (str, bool, list, tuple, dict)):
        return str(v)
    return f"{v:,.3f}" if isinstance(v, float) else f"{v:,}"
