"""Sweep results as a pandas DataFrame, and the export of a store (Parquet, CSV, JSON lines)."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mimdsim.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["records_frame", "store_frame", "frame_rows", "export_results", "EXPORT_FORMATS"]

EXPORT_FORMATS = (".parquet", ".csv", ".jsonl")


def records_frame(
    records: Sequence[Mapping[str, Any]], points: Sequence[Mapping[str, Any]] | None = None, axes: Sequence[str] = ()
) -> pd.DataFrame:
    """One row per record; the ``axes`` of ``points`` that are no record field come first (``machine.n_ipus``, ...)."""
    import pandas as pd

    from mimdsim.studies.record import record_fields

    fields = record_fields()
    extra = [a for a in axes if a not in fields]
    rows = []
    for j, r in enumerate(records):
        p = points[j] if points is not None else {}
        rows.append({**{a: p.get(a) for a in extra}, **{f: r.get(f) for f in fields}})
    return pd.DataFrame(rows, columns=[*extra, *fields])


def store_frame(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The DataFrame of a result store, in point order (the varying point keys from the stored points)."""
    from mimdsim.sweep.store import read_store

    _, entries = read_store(path)
    entries = sorted(entries, key=lambda e: int(e["i"]))
    points = [e.get("point", {}) for e in entries]
    fixed = {k for k in points[0] if all(p.get(k) == points[0][k] for p in points)} if points else set()
    axes = list(dict.fromkeys(k for p in points for k in p if k not in fixed and k != "on_error"))
    return records_frame([e["record"] for e in entries], points, axes)


def frame_rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of a results DataFrame as dicts, missing values (NaN, pandas' NA) as ``None``."""
    import pandas as pd

    return [{k: (None if not isinstance(v, (list, tuple, np.ndarray)) and pd.isna(v) else v) for k, v in r.items()}
            for r in df.to_dict(orient="records")]  # fmt: skip


def export_results(store: str | os.PathLike[str], out: str | os.PathLike[str]) -> int:
    """Write the store's table to ``out`` (by extension: .parquet, .csv or .jsonl); returns the number of rows.

    Raises
    ------
    ConfigError
        An unknown extension, or Parquet without pyarrow (``pip install 'mimdsim[parquet]'``).
    """
    from mimdsim.files import check_output_path, write_bytes

    suffix = Path(out).suffix.lower()
    if suffix not in EXPORT_FORMATS:
        raise ConfigError(f"export: {out}: unknown format {suffix or '(none)'!r} (allowed: {', '.join(EXPORT_FORMATS)})")
    if suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ConfigError("export: Parquet needs pyarrow: pip install 'mimdsim[parquet]'") from None
    check_output_path(out, "export", inputs=[store])
    df = store_frame(store)
    buf = io.BytesIO()
    if suffix == ".parquet":
        df.to_parquet(buf, index=False)
    elif suffix == ".csv":
        flat = df.map(lambda v: "-".join(map(str, v)) if isinstance(v, (list, tuple)) else v)
        buf.write(flat.to_csv(index=False).encode())
    else:
        buf.write(df.to_json(orient="records", lines=True).encode())
    write_bytes(out, buf.getvalue(), what="export", compress=False)
    return len(df)
