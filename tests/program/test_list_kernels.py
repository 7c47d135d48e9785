"""list_facts against a plain reference on random lists (ascending or not, with tiles named twice or not), and a
malformed exchange refused, not read out of bounds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mimdsim.errors import ProgramError
from mimdsim.program.exchange import Exchange
from mimdsim.program.list_kernels import MALFORMED, list_facts


@st.composite
def _exchanges(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    lists = draw(st.lists(st.lists(st.integers(0, 12), max_size=6), min_size=1, max_size=6))
    lists = [sorted(set(g)) if draw(st.booleans()) else g for g in lists]  # most lists are ascending
    n = draw(st.integers(0, 10))
    src = np.array(draw(st.lists(st.integers(0, 12), min_size=n, max_size=n)), np.int64)
    dst_list = np.array(draw(st.lists(st.integers(0, len(lists) - 1), min_size=n, max_size=n)), np.int64)
    ptr = np.cumsum([0] + [len(g) for g in lists]).astype(np.int64)
    dst = np.array([t for g in lists for t in g], np.int64)
    return src, ptr, dst, dst_list


@settings(max_examples=300, deadline=None)
@given(_exchanges())
def test_list_facts_equal_a_plain_reference(ex: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]) -> None:
    src, ptr, dst, dst_list = ex
    twice, member, by_ptr, by_order = list_facts(src, ptr, dst, dst_list)
    lists = [dst[ptr[g] : ptr[g + 1]].tolist() for g in range(ptr.size - 1)]
    assert twice == next((g for g, tiles in enumerate(lists) if len(set(tiles)) < len(tiles)), -1)
    assert member.tolist() == [int(s) in lists[g] for s, g in zip(src, dst_list, strict=True)]
    assert by_order.tolist() == np.argsort(dst_list, kind="stable").tolist()
    assert by_ptr.tolist() == np.r_[0, np.cumsum(np.bincount(dst_list, minlength=len(lists)))].tolist()


@pytest.mark.parametrize(
    ("ptr", "dst_list"),
    [([0, 2, 1], [0]), ([0, 2], [1]), ([0, 2], [-1]), ([1, 2], [0]), ([0, 3], [0])],
    ids=["falling", "no-such-list", "negative-list", "not-from-0", "past-the-end"],
)
def test_malformed_lists_are_refused(ptr: list[int], dst_list: list[int]) -> None:
    args = (np.array([5], np.int64), np.array(ptr, np.int64), np.array([1, 2], np.int64), np.array(dst_list, np.int64))
    assert list_facts(*args)[0] == MALFORMED
    ex = Exchange("bad", src=[5], dst_ptr=ptr, dst=[1, 2], nbytes=[4], dst_list=dst_list)
    with pytest.raises(ProgramError, match="'bad': dst_ptr must rise"):
        ex.transfers_by_list()
