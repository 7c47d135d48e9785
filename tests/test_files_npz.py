"""mimdsim.files.read_npz: one pass over the file gives what ``np.load(allow_pickle=False)`` gives, and a damaged
file gives the caller's error, never another exception."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mimdsim.files import _CHUNK_BYTES, npz_headers, read_npz


class _RefusedError(Exception):
    """The caller's error type."""


_DTYPES = st.sampled_from(["<i8", ">i4", "<u2", "bool", "<f8", ">f4", "<c16", "<U5", "S3", "<i8,<f4"])


@st.composite
def _arrays(draw: st.DrawFn) -> dict[str, np.ndarray]:
    out = {}
    for k in range(draw(st.integers(0, 4))):
        arr = draw(hnp.arrays(np.dtype(draw(_DTYPES)), hnp.array_shapes(min_dims=0, max_dims=3, max_side=5)))
        out[f"a{k}"] = np.asfortranarray(arr) if draw(st.booleans()) else arr
    return out


def _npz_bytes(arrays: dict[str, np.ndarray], compress: bool) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compress else np.savez)(buf, **arrays)
    return buf.getvalue()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_arrays(), st.booleans())
def test_the_arrays_np_load_reads(tmp_path: Path, arrays: dict[str, np.ndarray], compress: bool) -> None:
    p = tmp_path / "a.npz"
    p.write_bytes(_npz_bytes(arrays, compress))
    got = read_npz(p, "test file", _RefusedError)
    with np.load(p, allow_pickle=False) as npz:
        want = {k: npz[k] for k in npz.files}
    assert list(got) == list(want)
    for k, w in want.items():
        g = got[k]
        assert (g.dtype, g.shape, g.flags.f_contiguous, g.flags.c_contiguous) == (
            w.dtype,
            w.shape,
            w.flags.f_contiguous,
            w.flags.c_contiguous,
        )
        assert g.tobytes("A") == w.tobytes("A")
        assert g.flags.writeable


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_arrays(), st.booleans(), st.data())
def test_a_damaged_file_is_the_callers_error(
    tmp_path: Path, arrays: dict[str, np.ndarray], compress: bool, data: st.DataObject
) -> None:
    raw = bytearray(_npz_bytes(arrays, compress))
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    else:
        for _ in range(data.draw(st.integers(1, 4))):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    p = tmp_path / "d.npz"
    p.write_bytes(bytes(raw))
    err = None
    try:
        read_npz(p, "test file", _RefusedError)
    except _RefusedError as refused:
        err = refused
    assert err is None or str(p) in str(err)


def test_data_shorter_than_the_header_says_is_refused(tmp_path: Path) -> None:
    big = np.arange(_CHUNK_BYTES // 4, dtype=np.int64)  # two chunks
    member = io.BytesIO()
    np.lib.format.write_array(member, big)
    p = tmp_path / "short.npz"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("big.npy", member.getvalue()[:-100])
    assert npz_headers(p, "test file", _RefusedError) == {"big": (big.shape, big.dtype)}
    with pytest.raises(_RefusedError, match="short.npz: not a readable .npz test file .*big.npy: its array data end after"):
        read_npz(p, "test file", _RefusedError)


def test_an_object_array_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "obj.npz"
    np.savez(p, o=np.array([{"a": 1}], dtype=object))
    with pytest.raises(_RefusedError, match="Object arrays cannot be loaded"):
        read_npz(p, "test file", _RefusedError)


def test_check_runs_before_any_data_is_read(tmp_path: Path) -> None:
    """The caller's check sees every header and refuses before the arrays (a damaged array's data is never reached)."""
    member = io.BytesIO()
    np.lib.format.write_array(member, np.zeros(1000))
    p = tmp_path / "c.npz"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("x.npy", member.getvalue()[:200])  # header whole, data cut
    seen = []

    def refuse(headers: dict[str, object]) -> None:
        seen.append(headers)
        raise _RefusedError("too big for its sizes")

    with pytest.raises(_RefusedError, match="too big for its sizes"):
        read_npz(p, "test file", _RefusedError, check=refuse)
    assert seen == [{"x": ((1000,), np.dtype("<f8"))}]


def test_a_garbled_npy_header_is_the_callers_error(tmp_path: Path) -> None:
    """numpy parses a header with ``tokenize`` and ``ast``: an unclosed one raised ``tokenize.TokenError`` (found by
    fuzzing mapping files)."""
    text = b"{'descr': '<f8', 'fortran_order': False, 'shape': (3,"
    header = text + b" " * (63 - (10 + len(text)) % 64) + b"\n"
    member = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + bytes(24)
    p = tmp_path / "h.npz"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("x.npy", member)
    with pytest.raises(_RefusedError, match="h.npz: not a readable .npz test file \\(TokenError"):
        read_npz(p, "test file", _RefusedError)
