"""``mimdsim report RESULTS.jsonl -o DIR``: a Markdown page and its figures for one result store.

The page holds the spec's name and hash, the points (the sweep table), the failed points with
their errors, and per varying numeric axis a figure of the step time against it (one line per
value of the other varying axis when there are two); and the cycle stacks of every point.
"""

from __future__ import annotations

import os
from pathlib import Path

from mimdsim.errors import ConfigError

__all__ = ["write_store_report"]


def write_store_report(store: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> Path:
    """Write ``out_dir/report.md`` and its figures; returns the page's path.

    Raises
    ------
    ConfigError
        ``out_dir`` is not an existing folder; the store cannot be read.
    """
    from mimdsim.files import write_text
    from mimdsim.report import sweep_plots as sp
    from mimdsim.report.tables import SNN_COLUMNS, Column, markdown_table
    from mimdsim.sweep.frame import frame_rows, store_frame
    from mimdsim.sweep.store import read_store

    d = Path(out_dir)
    if not d.is_dir():
        raise ConfigError(f"report: {d}: not an existing folder")
    header, _ = read_store(store)
    df = store_frame(store)
    rows = frame_rows(df)
    axes = sp.varying_axes(rows, list(df.columns))
    ok = [r for r in rows if not r.get("error")]
    lines = [f"# Sweep {header.get('spec_name')!s}\n", f"Store `{Path(store).name}`, spec hash `{header.get('spec_hash')}`, "
             f"{len(rows)} of {header.get('n_points')} points stored, {len(rows) - len(ok)} failed. Varying: "
             f"{', '.join(f'`{a}`' for a in axes) or 'nothing'}.\n"]  # fmt: skip
    cols = [Column(a, a) for a in axes if "." in a] + list(SNN_COLUMNS)
    lines.append(markdown_table(rows, cols) + "\n")
    failed = [r for r in rows if r.get("error")]
    if failed:
        lines.append("## Failed points\n")
        lines += [f"* {', '.join(f'{a}={r.get(a)}' for a in axes)}: {r['error']}" for r in failed]
        lines.append("")
    for a in sp.numeric_axes(rows, axes):
        name = f"ms_per_step_vs_{a.replace('.', '_')}.png"
        sp.plot_series(sp.step_time_series(rows, a, axes), d / name, x=a, y="ms_per_step")
        lines.append(f"## Step time vs `{a}`\n\n![{a}]({name})\n")
    if ok:
        sp.plot_stack(ok, d / "cycle_stacks.png", label=axes or ["model"])
        lines.append("## Cycles per superstep kind\n\n![stacks](cycle_stacks.png)\n")
    page = d / "report.md"
    write_text(page, "\n".join(lines), what="report")
    return page
