from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cnnablate.data.idx import encode_idx, read_idx

# A 2×3 uint8 array by hand: magic 00 00 08 02 (uint8, 2 dims), dims 2 and 3, six bytes.
TINY = bytes([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 255])


def test_reads_handcrafted_file() -> None:
    array = read_idx(TINY)
    assert array.dtype == np.uint8
    assert array.tolist() == [[1, 2, 3], [4, 5, 255]]
    assert array.flags.writeable


def test_reads_gzipped_bytes_and_paths(tmp_path) -> None:
    path = tmp_path / "tiny.gz"
    path.write_bytes(gzip.compress(TINY))
    assert np.array_equal(read_idx(path), read_idx(TINY))
    assert np.array_equal(read_idx(str(path)), read_idx(TINY))


def test_reads_big_endian_int32() -> None:
    data = bytes([0, 0, 0x0C, 1]) + struct.pack(">I", 2) + struct.pack(">ii", -1, 70000)
    assert read_idx(data).tolist() == [-1, 70000]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00\x00\x08", "too short"),
        (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", "not IDX"),
        (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00", "type code 0x07"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (b"\x00\x00\x08\x02\x00\x00\x00\x02", "ends before"),
        (TINY[:-1], "needs 18 bytes, got 17"),
        (TINY + b"\x00", "needs 18 bytes, got 19"),
        (gzip.compress(TINY, mtime=0)[:-6], "corrupt gzip"),
    ],
)
def test_malformed_data_raises_value_error(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_idx(data)


@given(
    hnp.arrays(
        dtype=st.sampled_from([np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]),
        shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5),
    )
)
def test_encode_then_read_round_trips(array: np.ndarray) -> None:
    parsed = read_idx(encode_idx(array))
    assert parsed.dtype == array.dtype
    assert parsed.shape == array.shape
    assert parsed.tobytes() == array.tobytes()
