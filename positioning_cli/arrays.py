"""Arrow arrays to and from numpy, and Arrow constants, without importing pandas.

pyarrow imports pandas (about half a second) the first time it converts Python or numpy values
(``pa.array``, ``pa.scalar``, a Python value passed to a compute function), converts an array to
numpy (``to_numpy``, ``np.asarray``) or loads acero (``Table.group_by``). Code on the fast ingest
path goes through raw buffers here instead, so a run whose files all take it never imports pandas.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from itertools import accumulate

import numpy as np
import pyarrow as pa

_ARROW: dict[np.dtype, pa.DataType] = {np.dtype(np.int64): pa.int64(), np.dtype(np.float64): pa.float64()}
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()  # date32 counts days from 1970-01-01
_NUMPY: dict[pa.DataType, np.dtype] = {
    pa.int32(): np.dtype(np.int32),
    pa.int64(): np.dtype(np.int64),
    pa.float64(): np.dtype(np.float64),
}


def _single(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _bits(buffer: pa.Buffer, offset: int, n: int) -> np.ndarray:
    packed = np.frombuffer(buffer, dtype=np.uint8)
    return np.unpackbits(packed, count=offset + n, bitorder="little")[offset:].astype(bool)


def valid(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """True where ``arr`` holds a value, False where it is null."""
    arr = _single(arr)
    if arr.null_count == 0:
        return np.ones(len(arr), dtype=bool)
    return _bits(arr.buffers()[0], arr.offset, len(arr))


def to_numpy(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A writable copy of an int32/int64/float64/bool array's values; null slots hold arbitrary
    values (mask them with ``valid``)."""
    arr = _single(arr)
    n = len(arr)
    if pa.types.is_boolean(arr.type):
        return _bits(arr.buffers()[1], arr.offset, n) if n else np.zeros(0, dtype=bool)
    dtype = _NUMPY[arr.type]
    if n == 0:
        return np.zeros(0, dtype=dtype)
    return np.frombuffer(arr.buffers()[1], dtype=dtype, count=n, offset=arr.offset * dtype.itemsize).copy()


def floats(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """float64 values of an int or float array, NaN for nulls (as ``to_numpy(zero_copy_only=False)``)."""
    out = to_numpy(arr).astype(np.float64)
    out[~valid(arr)] = np.nan
    return out


def flags(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A bool array's values with nulls as False."""
    return to_numpy(arr) & valid(arr)


def days(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A date32 array as numpy datetime64[D] (nulls hold arbitrary days: mask them with ``valid``)."""
    return to_numpy(_single(arr).view(pa.int32())).astype("datetime64[D]")


def from_numpy(values: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """An int64, float64 or bool Arrow array of ``values``, null where ``mask`` is True."""
    values = np.ascontiguousarray(values)
    if values.dtype == np.bool_:
        type_, data = pa.bool_(), np.packbits(values, bitorder="little")
    else:
        type_, data = _ARROW[values.dtype], values
    validity = None
    if mask is not None and mask.any():
        validity = pa.py_buffer(np.packbits(~mask, bitorder="little"))
    return pa.Array.from_buffers(type_, len(values), [validity, pa.py_buffer(data)])


def strings(values: Sequence[str]) -> pa.Array:
    """A string array of ``values`` (value sets, constants)."""
    encoded = [v.encode("utf-8") for v in values]
    offsets = np.array([0, *accumulate(len(b) for b in encoded)], dtype=np.int32)
    return pa.Array.from_buffers(
        pa.string(), len(encoded), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
    )


def dates(values: Sequence[date]) -> pa.Array:
    """A date32 array of ``values``."""
    ordinals = np.array([d.toordinal() - _EPOCH_ORDINAL for d in values], dtype=np.int32)
    return pa.Array.from_buffers(pa.date32(), len(ordinals), [None, pa.py_buffer(ordinals)])


def repeat(value: str, n: int) -> pa.Array:
    """``value`` ``n`` times, as a string array."""
    return pa.nulls(n, pa.string()).fill_null(strings([value])[0])


NULL_STRING = pa.nulls(1, pa.string())[0]
EMPTY_STRING = strings([""])[0]
