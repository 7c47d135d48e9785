"""Fixed-column tables of sweep rows: aligned text, Markdown and CSV.

A table is a list of :class:`Column` s over a list of row dicts (e.g. the rows of
:func:`mimdsim.sweep.snn_sweep`). A column's ``key`` may be dotted to reach into nested
dicts and lists (``top_superstep_names.0``: the first of a list). Missing values
(and rows that carry an ``error``) print as ``-`` in text and Markdown and as an empty
cell in CSV. CSV cells hold the raw values (full precision, lists joined by ``-``), text
and Markdown the formatted ones.

>>> rows = [{"model": "a", "depth": 2, "speedup_vs_gpu": 5.678}, {"model": "b", "depth": 3}]
>>> cols = [Column("model", "model"), Column("depth", "hidden"), Column("speedup_vs_gpu", "speed-up", "{:.1f}x")]
>>> print(format_table(rows, cols))
model  hidden  speed-up
-----  ------  --------
a           2      5.7x
b           3         -
>>> print(format_table(rows, cols, "csv").strip())
model,depth,speedup_vs_gpu
a,2,5.678
b,3,
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from mimdsim.errors import ConfigError

__all__ = [
    "Column",
    "short_step_name",
    "SNN_COLUMNS",
    "BREAKDOWN_COLUMNS",
    "TABLE_FORMATS",
    "get_value",
    "format_table",
    "text_table",
    "markdown_table",
    "csv_table",
    "pivot",
    "pivot_table",
]

TableFormat = Literal["text", "markdown", "csv"]
TABLE_FORMATS: tuple[str, ...] = ("text", "markdown", "csv")
MISSING = "-"


@dataclass(frozen=True)
class Column:
    """One column: the row ``key`` (dotted path), its ``header``, how to format a value
    (a ``str.format`` pattern with one field, or a callable), and its alignment (``auto``:
    numbers right, the rest left)."""

    key: str
    header: str
    fmt: str | Callable[[Any], str] = "{}"
    align: Literal["auto", "left", "right"] = "auto"

    def format(self, value: Any) -> str:
        if value is None:
            return MISSING
        if callable(self.fmt):
            return self.fmt(value)
        if isinstance(value, (list, tuple)) and self.fmt == "{}":
            return "-".join(str(v) for v in value)
        return self.fmt.format(value)


def short_step_name(name: str, parts: int = 3) -> str:
    """A merged step's name (``a + b + c + ...``, docs/passes.md) cut to its first ``parts`` programs for a text table.

    >>> short_step_name("a + b + c + d + e"), short_step_name("a + b")
    ('a + b + c + 2 more', 'a + b')
    """
    names = name.split(" + ")
    return name if len(names) <= parts else " + ".join(names[:parts]) + f" + {len(names) - parts} more"


def _join(v: Any) -> str:
    return "-".join(str(x) for x in v)


SNN_COLUMNS: tuple[Column, ...] = (
    Column("model", "model"),
    Column("depth", "hidden"),
    Column("max_activity", "max act.", "{:g}"),
    Column("sparse_sizes", "sparse sizes", _join),
    Column("machine", "IPU"),
    Column("ms_per_step", "IPU ms/step", "{:.3f}"),
    Column("ipu_energy_central_j", "IPU J", "{:.3g}"),
    Column("gpu", "GPU"),
    Column("gpu_ms_per_step", "GPU ms/step", "{:.2f}"),
    Column("speedup_vs_gpu", "speed-up", "{:.2f}x"),
    Column("gpu_ipu_energy_ratio_central", "GPU/IPU J", "{:.2f}x"),
    Column("top_superstep_names.0", "top IPU superstep", lambda name: short_step_name(str(name))),
    Column("gpu_dominant", "GPU bound"),
)
"""The default columns for :func:`mimdsim.sweep.snn_sweep` rows."""

BREAKDOWN_COLUMNS: tuple[Column, ...] = (
    Column("model", "model"),
    Column("max_activity", "max act.", "{:g}"),
    Column("cycles_per_step", "IPU cycles", "{:,}"),
    Column("compute_cycles", "compute", "{:,}"),
    Column("exchange_cycles", "exchange", "{:,}"),
    Column("global_exchange_cycles", "global exch.", "{:,}"),
    Column("host_exchange_cycles", "host exch.", "{:,}"),
    Column("sync_cycles", "sync", "{:,}"),
    Column("fwd_cycles", "fwd", "{:,}"),
    Column("bwd_cycles", "bwd", "{:,}"),
    Column("update_cycles", "update", "{:,}"),
    Column("gpu_launch_ms", "GPU launch ms", "{:.2f}"),
    Column("gpu_memory_bound_ms", "GPU memory ms", "{:.2f}"),
    Column("gpu_compute_bound_ms", "GPU compute ms", "{:.2f}"),
)
"""Critical-path split of the IPU step (cycles) and of the GPU step (ms)."""


def get_value(row: Mapping[str, Any], key: str) -> Any:
    """``row[key]``, or following dots into nested dicts and list indices; ``None`` if absent.

    >>> get_value({"a": {"b": [10, 20]}}, "a.b.1"), get_value({"machine.n_ipus": 4}, "machine.n_ipus")
    (20, 4)
    """
    if key in row:  # a dotted point key (machine.exchange_bytes_per_cycle) is a column of its own
        return row[key]
    cur: Any = row
    for part in key.split("."):
        if isinstance(cur, Mapping):
            if part not in cur:
                return None
            cur = cur[part]
        elif isinstance(cur, (list, tuple)) and part.lstrip("-").isdigit():
            i = int(part)
            if not -len(cur) <= i < len(cur):
                return None
            cur = cur[i]
        else:
            return None
    return cur


def _cells(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> list[list[str]]:
    return [[c.format(get_value(r, c.key)) for c in columns] for r in rows]


def _right(col: Column, rows: Sequence[Mapping[str, Any]]) -> bool:
    if col.align != "auto":
        return col.align == "right"
    vals = [get_value(r, col.key) for r in rows]
    vals = [v for v in vals if v is not None]
    return bool(vals) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals)


def text_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column] = SNN_COLUMNS) -> str:
    """An aligned plain-text table (two spaces between columns, a dashed rule under the header)."""
    cells = _cells(rows, columns)
    widths = [max([len(c.header)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    right = [_right(c, rows) for c in columns]

    def line(vals: Sequence[str]) -> str:
        out = [v.rjust(w) if r else v.ljust(w) for v, w, r in zip(vals, widths, right, strict=True)]
        return "  ".join(out).rstrip()

    lines = [line([c.header for c in columns]), line(["-" * w for w in widths])]
    lines += [line(row) for row in cells]
    return "\n".join(lines)


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column] = SNN_COLUMNS) -> str:
    """A GitHub Markdown table (numbers right-aligned); ``|`` in cells is escaped."""
    cells = _cells(rows, columns)
    right = [_right(c, rows) for c in columns]

    def esc(s: str) -> str:
        return s.replace("|", "\\|")

    lines = ["| " + " | ".join(esc(c.header) for c in columns) + " |"]
    lines.append("|" + "|".join("---:" if r else "---" for r in right) + "|")
    lines += ["| " + " | ".join(esc(v) for v in row) + " |" for row in cells]
    return "\n".join(lines)


def _raw(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "-".join(_raw(v) for v in value)
    if isinstance(value, Mapping):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def csv_table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[Column] = SNN_COLUMNS, *, header: Literal["key", "header"] = "key"
) -> str:
    """CSV with raw values; the header row holds the column keys (or their headers)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([c.key if header == "key" else c.header for c in columns])
    for r in rows:
        w.writerow([_raw(get_value(r, c.key)) for c in columns])
    return buf.getvalue()


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column] | None = None, fmt: str = "text") -> str:
    """``rows`` as a ``text``, ``markdown`` or ``csv`` table (default columns: :data:`SNN_COLUMNS`).

    Raises
    ------
    ConfigError
        Unknown ``fmt``.
    """
    cols = SNN_COLUMNS if columns is None else columns
    if fmt == "text":
        return text_table(rows, cols)
    if fmt == "markdown":
        return markdown_table(rows, cols)
    if fmt == "csv":
        return csv_table(rows, cols)
    raise ConfigError(f"table format {fmt!r} is not one of {', '.join(TABLE_FORMATS)}")


def pivot(
    rows: Sequence[Mapping[str, Any]], index: str = "depth", columns: str = "max_activity", values: str = "speedup_vs_gpu"
) -> tuple[list[Any], list[Any], dict[tuple[Any, Any], Any]]:
    """``(index labels, column labels, {(i, c): value})`` over ``rows``, labels sorted.

    Rows without the value (errors) are left out; a repeated ``(i, c)`` keeps the first.

    >>> pivot([{"depth": 2, "max_activity": 0.1, "speedup_vs_gpu": 2.0}, {"depth": 2, "max_activity": 0.01, "speedup_vs_gpu": 5.0}])
    ([2], [0.01, 0.1], {(2, 0.1): 2.0, (2, 0.01): 5.0})
    """
    cells: dict[tuple[Any, Any], Any] = {}
    for r in rows:
        i, c, v = get_value(r, index), get_value(r, columns), get_value(r, values)
        if v is None or i is None or c is None:
            continue
        cells.setdefault((i, c), v)
    idx = sorted({k[0] for k in cells})
    cols = sorted({k[1] for k in cells})
    return idx, cols, cells


def pivot_table(
    rows: Sequence[Mapping[str, Any]],
    index: str = "depth",
    columns: str = "max_activity",
    values: str = "speedup_vs_gpu",
    *,
    fmt: str = "text",
    value_format: str = "{:.2f}x",
    index_header: str = "hidden layers",
    column_format: str = "act {:g}",
) -> str:
    """A matrix table: one row per ``index`` value, one column per ``columns`` value.

    The default is the paper's comparison: speed-up over the GPU, hidden layers x max activity.

    >>> rows = [{"depth": d, "max_activity": a, "speedup_vs_gpu": d / a} for d in (2, 3) for a in (0.5, 1.0)]
    >>> print(pivot_table(rows))
    hidden layers  act 0.5  act 1
    -------------  -------  -----
    2                4.00x  2.00x
    3                6.00x  3.00x
    """
    idx, cols, cells = pivot(rows, index, columns, values)
    mrows = [{"_i": i, **{f"c{j}": cells.get((i, c)) for j, c in enumerate(cols)}} for i in idx]
    mcols = [Column("_i", index_header, "{}", "left")]
    mcols += [Column(f"c{j}", column_format.format(c), value_format, "right") for j, c in enumerate(cols)]
    if fmt == "csv":
        mcols = [Column("_i", index), *(Column(f"c{j}", f"{columns}={c!r}") for j, c in enumerate(cols))]
        return csv_table(mrows, mcols, header="header")
    return format_table(mrows, mcols, fmt)
