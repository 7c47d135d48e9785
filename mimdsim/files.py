"""The one place where mimdsim writes files, and checks where it will write before a run.

Every writer (programs, timelines, traces, tables, figures, records) goes through
:func:`write_bytes`, so every output behaves the same:

* the path is the user's: no folder is created, no extension added or changed;
* the file is gzip-compressed if and only if its name ends in ``.gz`` (any case);
* it is written atomically (a temporary file in the same folder, then a rename): a failed
  or interrupted write never leaves half a file, and an error names the user's path, not
  the temporary one.

:func:`check_output_path` runs the same checks up front (empty name, a folder, a missing
or read-only folder), so that a command fails in a millisecond rather than after a long
simulation.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> write_bytes(d / "a.txt.GZ", b"hello", what="--out")
>>> import gzip; gzip.decompress((d / "a.txt.GZ").read_bytes())
b'hello'
>>> check_output_path(d / "missing" / "x.json", "--timeline")
Traceback (most recent call last):
...
mimdsim.errors.OutputPathError: --timeline: .../missing/x.json: the folder .../missing does not exist
"""

from __future__ import annotations

import contextlib
import gzip
import lzma
import os
import struct
import tempfile
import tokenize
import zipfile
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

import numpy as np

from mimdsim.errors import OutputPathError

__all__ = [
    "check_output_path",
    "is_gzip_name",
    "write_bytes",
    "write_text",
    "read_npz",
    "npz_headers",
    "npz_nbytes",
    "npy_header",
    "NpzHeaders",
    "NUMPY_FILE_ERRORS",
    "why",
    "NPZ_MAX_BYTES",
]


def is_gzip_name(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a gzip file (ends in ``.gz``, any case)."""
    return str(path).lower().endswith(".gz")


def check_output_path(
    path: str | os.PathLike[str] | None, what: str = "output", *, inputs: Sequence[str | os.PathLike[str] | None] = ()
) -> Path:
    """``path`` as a ``Path`` if a file can be written there, else :class:`OutputPathError`.

    ``what`` names the option or argument in the message (``--timeline``). ``inputs`` are the
    files the same command reads or keeps (a result store): an output that is one of them is
    refused, so that no command writes over its own input.
    """
    if path is None or str(path).strip() == "":
        raise OutputPathError(f"{what}: an empty path (give a file name)")
    p = Path(path)
    for other in inputs:
        if other is not None and os.path.realpath(p) == os.path.realpath(other):
            raise OutputPathError(f"{what}: {path}: is the file this command reads ({other}); give another name")
    if p.is_dir():
        raise OutputPathError(f"{what}: {path}: is a folder, not a file name")
    folder = p.parent
    if not folder.is_dir():
        raise OutputPathError(f"{what}: {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputPathError(f"{what}: {path}: the folder {folder} is not writable")
    if p.exists() and not os.access(p, os.W_OK):
        raise OutputPathError(f"{what}: {path}: the file exists and is not writable")
    return p


def write_bytes(path: str | os.PathLike[str], data: bytes, *, what: str = "output", compress: bool | None = None) -> None:
    """Write ``data`` to ``path`` atomically, gzip-compressed iff the name ends in ``.gz``.

    ``compress`` overrides the name rule only for data that is already in its final form
    (``False``: write as is). The file gets the permissions a plain ``open`` would give
    (0666 less the umask).

    Raises
    ------
    OutputPathError
        The path cannot be written (see :func:`check_output_path`), or the write failed;
        the message names ``path`` as given.
    """
    p = check_output_path(path, what)
    if compress if compress is not None else is_gzip_name(p):
        data = gzip.compress(data, compresslevel=6, mtime=0)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    except OSError as err:
        raise OutputPathError(f"{what}: {path}: cannot write ({err.strerror or err})") from None
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except OSError as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise OutputPathError(f"{what}: {path}: cannot write ({err.strerror or err})") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text(path: str | os.PathLike[str], text: str, *, what: str = "output") -> None:
    """:func:`write_bytes` of UTF-8 text."""
    write_bytes(path, text.encode("utf-8"), what=what)


NPZ_MAX_BYTES = 1 << 30
"""The most bytes of arrays an ``.npz`` (trace, mapping) may decompress to unless the caller raises it: the arrays'
``.npy`` headers are read first, so a file that would take more is refused before any array is read. A trace of
T = 10,000 steps, B = 512 samples and 8 tensors holds about 330 MB."""


NpzHeaders = dict[str, tuple[tuple[int, ...], np.dtype]]
"""The shape and dtype of each array of an ``.npz`` file, by key."""

NUMPY_FILE_ERRORS = (
    zipfile.BadZipFile, zlib.error, lzma.LZMAError, struct.error, EOFError, ValueError, OSError, KeyError, IndexError,
    OverflowError, NotImplementedError, RuntimeError, SyntaxError, tokenize.TokenError,
)  # fmt: skip
"""What reading a damaged ``.npy`` or ``.npz`` raises: a corrupt deflate stream is a ``zlib.error``, a member that
claims an unsupported compression or zip version a ``NotImplementedError``, one flagged as encrypted a
``RuntimeError``, a garbled ``.npy`` header (parsed by numpy with ``tokenize`` and ``ast``) a ``TokenError`` or a
``SyntaxError``. Found by fuzzing (``tests/test_files_npz.py``)."""


def why(err: BaseException) -> str:
    """What a reading error says, its type named (zlib's plain ``error`` as corrupt compressed data)."""
    name = "corrupt compressed data" if isinstance(err, zlib.error) else type(err).__name__
    return f"{name}: {err}"


_CHUNK_BYTES = 1 << 18
"""Array data are read from a member in chunks of this size (as numpy does), never all into one temporary bytes."""


def _npy_header_full(f: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = np.lib.format.read_magic(f)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran_order, dtype = read(f)
    return tuple(int(n) for n in shape), bool(fortran_order), np.dtype(dtype)


def npy_header(f: IO[bytes]) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype an ``.npy`` stream's header announces (the stream left at its data)."""
    shape, _, dtype = _npy_header_full(f)
    return shape, dtype


_Members = dict[str, tuple[str, tuple[int, ...], bool, np.dtype, int]]


def _headers(members: _Members) -> NpzHeaders:
    return {k: (shape, dtype) for k, (_, shape, _, dtype, _) in members.items()}


def _members(zf: zipfile.ZipFile) -> _Members:
    """Every member's key, name, shape, Fortran order, dtype and the offset of its data (its header's length)."""
    out = {}
    for name in zf.namelist():
        with zf.open(name) as f:
            shape, fortran_order, dtype = _npy_header_full(f)
            out[name.removesuffix(".npy")] = (name, shape, fortran_order, dtype, f.tell())
    return out


def _read_member(
    zf: zipfile.ZipFile, name: str, shape: tuple[int, ...], fortran_order: bool, dtype: np.dtype, offset: int
) -> np.ndarray:
    """The array of member ``name`` (its header, parsed before, skipped), as ``np.load`` without pickles reads it."""
    if dtype.hasobject:
        raise ValueError("Object arrays cannot be loaded when allow_pickle=False")
    count = int(np.prod(shape, dtype=np.int64))
    arr = np.empty(count, dtype)
    raw = arr.view(np.uint8) if dtype.itemsize else np.zeros(0, np.uint8)
    with zf.open(name) as f:
        f.read(offset)
        for lo in range(0, raw.size, _CHUNK_BYTES):
            want = min(_CHUNK_BYTES, raw.size - lo)
            chunk = f.read(want)  # fewer bytes only where the member ends
            if len(chunk) != want:
                raise EOFError(f"{name}: its array data end after {lo + len(chunk):,} of {raw.size:,} bytes")
            raw[lo : lo + want] = np.frombuffer(chunk, np.uint8)
    return arr.reshape(shape, order="F" if fortran_order else "C")


def npz_headers(path: str | os.PathLike[str], what: str, error: type[Exception]) -> NpzHeaders:
    """The shape and dtype of every array of an ``.npz`` file, from the ``.npy`` headers only (nothing decompressed
    beyond them)."""
    try:
        with zipfile.ZipFile(path) as zf:
            return _headers(_members(zf))
    except FileNotFoundError:
        raise error(f"{path}: file not found") from None
    except NUMPY_FILE_ERRORS as err:
        raise error(f"{path}: not a readable .npz {what} ({why(err)})") from None


def npz_nbytes(headers: NpzHeaders) -> dict[str, int]:
    """The bytes each array of :func:`npz_headers` takes once read."""
    return {k: int(np.prod(shape, dtype=np.float64)) * dtype.itemsize for k, (shape, dtype) in headers.items()}


def read_npz(
    path: str | os.PathLike[str],
    what: str,
    error: type[Exception],
    *,
    max_bytes: int = NPZ_MAX_BYTES,
    keys: Sequence[str] | None = None,
    check: Callable[[NpzHeaders], None] | None = None,
) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, or those of ``keys`` (no pickles); a missing or unreadable file, or one whose
    arrays would take more than ``max_bytes`` (:data:`NPZ_MAX_BYTES`), raises ``error`` naming ``path`` and ``what``.

    The file is opened once: every ``.npy`` header is read first, then ``check(headers)`` (the caller's own limits,
    which may raise) and the size limit run, and only then is any array's data read.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.npz"
    >>> np.savez_compressed(p, a=np.arange(6).reshape(2, 3), f=np.asfortranarray(np.eye(2)), s=np.str_("x"))
    >>> d = read_npz(p, "test file", ValueError)
    >>> d["a"].tolist(), d["f"].tolist(), d["f"].flags.f_contiguous, str(d["s"])
    ([[0, 1, 2], [3, 4, 5]], [[1.0, 0.0], [0.0, 1.0]], True, 'x')
    >>> read_npz(p, "test file", ValueError, max_bytes=40)
    Traceback (most recent call last):
    ...
    ValueError: .../a.npz: its arrays would take 84 B (a: int64[2, 3]); a test file is read only up to 40 B
    """
    try:
        with zipfile.ZipFile(path) as zf:
            members = _members(zf)
            headers = _headers(members)
            if check is not None:
                check(headers)
            sizes = {k: n for k, n in npz_nbytes(headers).items() if keys is None or k in keys}
            if sum(sizes.values()) > max_bytes:
                big = max(sizes, key=lambda k: sizes[k])
                raise error(
                    f"{path}: its arrays would take {sum(sizes.values()):,} B ({big}: {headers[big][1]}{list(headers[big][0])}); "
                    f"a {what} is read only up to {max_bytes:,} B"
                )
            return {k: _read_member(zf, *m) for k, m in members.items() if keys is None or k in keys}
    except FileNotFoundError:
        raise error(f"{path}: file not found") from None
    except NUMPY_FILE_ERRORS as err:
        if isinstance(err, error):  # check's or the size limit's own error (an error type may be a ValueError)
            raise
        raise error(f"{path}: not a readable .npz {what} ({why(err)})") from None
