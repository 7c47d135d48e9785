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
from typing import Any

from mimdsim.errors import ConfigError

__all__ = ["diff_estimates", "diff_text", "differing_inputs", "FIELDS", "INPUTS"]

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
        Either side has no ``cycles_per_step`` (not an ``mimdsim snn --json`` output).
    """
    for name, d in (("A", a), ("B", b)):
        if not isinstance(d, Mapping) or not isinstance(d.get("cycles_per_step"), (int, float)):
            raise ConfigError(f"diff: {name} is not an 'mimdsim snn --json' output (no cycles_per_step)")
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
