"""The worker-context scheduler: its round shortcuts against one-vertex-at-a-time greedy placement."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mimdsim.cost.compute import schedule_worker_vertices


def greedy(loads: list[int], cycles: list[int], counts: list[int], n_ctx: int, launch: int) -> list[int]:
    """Each vertex to the least-loaded context (the lowest on ties), one at a time."""
    out = list(loads)
    for c, n in zip(cycles, counts, strict=True):
        for _ in range(n):
            k = out.index(min(out))
            out[k] += n_ctx * c + launch
    return out


@settings(max_examples=400, deadline=None)
@given(
    st.integers(1, 6).flatmap(
        lambda n_ctx: st.tuples(
            st.just(n_ctx),
            st.lists(st.integers(0, 300), min_size=n_ctx, max_size=n_ctx),
            st.lists(st.tuples(st.integers(0, 60), st.integers(0, 40)), max_size=5),
            st.sampled_from((0, 0, 11)),
        )
    )
)
def test_rounds_match_one_at_a_time_greedy(case: tuple[int, list[int], list[tuple[int, int]], int]) -> None:
    n_ctx, loads, vertices, launch = case
    cycles = [c for c, _ in vertices]
    counts = [n for _, n in vertices]
    got = np.array(loads, np.int64)
    schedule_worker_vertices(got, np.array(cycles, np.int64), np.array(counts, np.int64), n_ctx, launch)
    assert got.tolist() == greedy(loads, cycles, counts, n_ctx, launch)


def test_hand_computed_barrel() -> None:
    """13 vertices of 10 thread cycles on 6 contexts (launch 11): two full rounds, one more on context 0."""
    loads = np.zeros(6, np.int64)
    schedule_worker_vertices(loads, np.array([10]), np.array([13]), 6, 11)
    assert loads.tolist() == [3 * 71, 2 * 71, 2 * 71, 2 * 71, 2 * 71, 2 * 71]
