"""The IDX format of the MNIST files: a 4-byte magic, big-endian uint32 dimensions, then data."""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

GZIP_MAGIC = b"\x1f\x8b"

# The type codes of the IDX specification; multi-byte values are big-endian.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def gunzip_if_gzipped(data: bytes) -> bytes:
    """Decompress gzip data (recognised by its magic); other bytes pass through unchanged."""
    if not data.startswith(GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"corrupt gzip data: {error}") from None


def parse_idx_header(data: bytes) -> tuple[np.dtype, tuple[int, ...], int]:
    """The element type, the shape and the header's length in bytes."""
    if len(data) < 4:
        raise ValueError(f"IDX data too short for a header: {len(data)} bytes")
    zero, type_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0:
        raise ValueError(f"not IDX data: magic starts with {data[:2].hex()}, expected 0000")
    if type_code not in IDX_DTYPES:
        raise ValueError(f"unknown IDX type code 0x{type_code:02x}")
    if ndim == 0:
        raise ValueError("IDX header declares 0 dimensions")
    header_length = 4 + 4 * ndim
    if len(data) < header_length:
        raise ValueError(f"IDX header declares {ndim} dimensions but the data ends before them")
    shape = struct.unpack(f">{ndim}I", data[4:header_length])
    return IDX_DTYPES[type_code], shape, header_length


def read_idx(source: str | Path | bytes) -> np.ndarray:
    """Parse IDX data (raw or gzipped) from a file path or from bytes into a native-endian array."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    data = gunzip_if_gzipped(data)
    dtype, shape, header_length = parse_idx_header(data)
    expected = header_length + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(
            f"IDX data of shape {shape} and type {dtype} needs {expected} bytes, got {len(data)}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_length).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def encode_idx(array: np.ndarray) -> bytes:
    """The IDX bytes of `array` (the inverse of `read_idx`)."""
    codes = {dtype.str[1:]: code for code, dtype in IDX_DTYPES.items()}
    big_endian = array.dtype.newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype
    code = codes.get(big_endian.str[1:])
    if code is None:
        raise ValueError(f"IDX has no type code for {array.dtype}")
    header = struct.pack(f">HBB{array.ndim}I", 0, code, array.ndim, *array.shape)
    return header + np.ascontiguousarray(array, dtype=big_endian).tobytes()
