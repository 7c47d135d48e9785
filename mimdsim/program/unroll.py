"""Unrolling cycle tables: the same program with every table-running loop written out.

A repeat whose own body runs a compute set with cycle tables (docs/concepts.md) executes
row ``i`` of the tables in iteration ``i``. :func:`unroll_tables` replaces each such
repeat by its iterations, each with the compute sets of its row, so that the program has
no cycle table left. The two programs execute the same supersteps in the same order at
the same costs; they differ only in how many static steps (records) they have.

It exists to check the engines (a program and its unrolled form give the same figures)
and to hand programs to tools that do not know tables.

Examples
--------
>>> from mimdsim.program.ir import ComputeSet, Program, Repeat, Superstep, VertexBlock
>>> cs = ComputeSet("c", (VertexBlock("V", [0], [[10], [20]]),))
>>> p = unroll_tables(Program("p", (Repeat(2, (Superstep("s", compute=cs),)),)))
>>> [(s.name, s.compute.blocks[0].worker_cycles.tolist()) for s in p.body]
[('s', [10]), ('s', [20])]
"""

from __future__ import annotations

import dataclasses

from mimdsim.program.ir import ComputeSet, Program, Repeat, Step, Superstep

__all__ = ["unroll_tables"]


def _runs_tables(body: tuple[Step, ...]) -> bool:
    return any(isinstance(s, Superstep) and s.compute is not None and s.compute.is_table and s.compute.n_rows > 1 for s in body)


def _unroll(steps: tuple[Step, ...], rows: dict[tuple[int, int], ComputeSet]) -> tuple[Step, ...]:
    out: list[Step] = []
    for s in steps:
        if not isinstance(s, Repeat):
            out.append(s)
            continue
        body = _unroll(s.body, rows)
        if not _runs_tables(s.body):
            out.append(dataclasses.replace(s, body=body))
            continue
        for i in range(s.count):
            for b in body:
                if isinstance(b, Superstep) and b.compute is not None and b.compute.n_rows > 1:
                    key = (id(b.compute), i)
                    if key not in rows:  # one static compute set per (table, row), shared like the original
                        rows[key] = b.compute.row(i)
                    out.append(dataclasses.replace(b, compute=rows[key]))
                else:
                    out.append(b)
    return tuple(out)


def unroll_tables(program: Program) -> Program:
    """``program`` with every repeat that runs cycle tables replaced by its iterations."""
    return dataclasses.replace(program, body=_unroll(program.body, {}))
