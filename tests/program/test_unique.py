"""unique_ints gives np.unique's arrays for every integer input, on both of its paths (counted and sorted)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mimdsim.program.unique import isin_ints, unique_ints

I64 = np.iinfo(np.int64)
_values = st.one_of(
    st.integers(-50, 50),  # narrow: the counting path
    st.integers(0, 1472 * 64),  # tile numbers of 64 IPUs
    st.integers(int(I64.min), int(I64.max)),  # the sorted path, and spans that wrap int64
)


@settings(max_examples=300, deadline=None)
@given(
    a=hnp.arrays(np.int64, st.integers(0, 300), elements=_values),
    flags=st.tuples(st.booleans(), st.booleans(), st.booleans()),
)
def test_unique_ints_equals_np_unique(a: np.ndarray, flags: tuple[bool, bool, bool]) -> None:
    ri, rv, rc = flags
    want = np.unique(a, return_index=ri, return_inverse=rv, return_counts=rc)
    got = unique_ints(a, return_index=ri, return_inverse=rv, return_counts=rc)
    want, got = (want, got) if isinstance(want, tuple) else ((want,), (got,))
    assert len(got) == len(want)
    for w, g in zip(want, got, strict=True):
        assert g.dtype == np.int64 and np.array_equal(g, np.asarray(w).reshape(-1))


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.uint16, np.uint64, np.bool_])
def test_other_integer_dtypes_give_int64_values(dtype: type) -> None:
    a = np.array([3, 1, 1, 0, 3], dtype)
    u, counts = unique_ints(a.reshape(5, 1), return_counts=True)  # read flattened
    assert u.dtype == np.int64 and u.tolist() == np.unique(a).astype(np.int64).tolist()
    assert counts.tolist() == np.unique(a, return_counts=True)[1].tolist()


def test_values_that_are_not_integers_are_refused() -> None:
    with pytest.raises(TypeError, match="float64"):
        unique_ints(np.array([1.5, 2.0]))
    with pytest.raises(TypeError, match="int64"):
        unique_ints(np.array([2**63], np.uint64))


@settings(max_examples=300, deadline=None)
@given(
    values=hnp.arrays(st.sampled_from([np.int64, np.int32, np.uint16]), st.integers(0, 60), elements=st.integers(0, 3000)),
    members=hnp.arrays(np.int64, st.integers(0, 60), elements=_values),
)
def test_isin_ints_equals_np_isin(values: np.ndarray, members: np.ndarray) -> None:
    """Both paths (a table of tiles; np.isin past the table's span or below 0), any integer dtypes."""
    got = isin_ints(values, members)
    assert got.dtype == bool and got.tolist() == np.isin(values, members).tolist()


def test_isin_ints_refuses_floats() -> None:
    with pytest.raises(TypeError, match="integer values expected"):
        isin_ints(np.array([1.5]), np.array([1]))
