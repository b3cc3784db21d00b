import numpy as np
import pytest

from mvaug.errors import DataError
from mvaug.io.binvox import Binvox, encode_binvox, read_binvox, write_binvox


def _naive_decode(raw: bytes) -> np.ndarray:
    """Reference decoder: walk the runs one voxel at a time, index [x, y, z]."""
    start = raw.index(b"data\n") + 5
    dims = [int(v) for v in raw.split(b"dim ")[1].split(b"\n")[0].split()]
    out = np.zeros(dims, dtype=bool)
    n = 0
    body = raw[start:]
    for value, count in zip(body[0::2], body[1::2]):
        for _ in range(count):
            x, rest = divmod(n, dims[1] * dims[2])
            z, y = divmod(rest, dims[1])
            out[x, y, z] = bool(value)
            n += 1
    return out


def test_real_files_round_trip_bit_exactly(realdata):
    files = sorted(realdata.rglob("*.binvox"))
    assert len(files) >= 14
    for path in files:
        raw = path.read_bytes()
        vox = read_binvox(path)
        assert vox.dims == (32, 32, 32)
        np.testing.assert_array_equal(vox.data, _naive_decode(raw))
        assert encode_binvox(vox) == raw, path


def test_header_fields(realdata):
    vox = read_binvox(realdata / "ShapeNetVox32/02828884/sample-bench/model.binvox")
    assert vox.translate == pytest.approx((-0.166964, -0.154552, -0.445238))
    assert vox.scale == pytest.approx(0.890476)


def test_write_read_random_grid_with_long_runs(tmp_path):
    rng = np.random.default_rng(0)
    data = np.zeros((32, 32, 32), dtype=bool)
    data |= rng.random(data.shape) < 0.05
    data[4:30] = True  # a run of 26 * 32 * 32 voxels, split at 255
    vox = Binvox(data, translate=(-0.5, -0.25, 0.125), scale=0.75)
    write_binvox(tmp_path / "a.binvox", vox)
    back = read_binvox(tmp_path / "a.binvox")
    np.testing.assert_array_equal(back.data, data)
    assert back.translate == pytest.approx(vox.translate) and back.scale == pytest.approx(0.75)
    raw = (tmp_path / "a.binvox").read_bytes()
    counts = np.frombuffer(raw[raw.index(b"data\n") + 5 :], dtype=np.uint8)[1::2]
    assert counts.min() >= 1 and counts.max() == 255


def test_axis_order_matches_file_order():
    data = np.zeros((2, 3, 4), dtype=bool)
    data[1, 2, 0] = True  # x=1, y=2, z=0 -> file index x*(Z*Y) + z*Y + y = 14
    raw = encode_binvox(Binvox(data))
    body = np.frombuffer(raw[raw.index(b"data\n") + 5 :], dtype=np.uint8)
    flat = np.repeat(body[0::2], body[1::2])
    assert np.flatnonzero(flat).tolist() == [1 * 12 + 0 * 3 + 2]


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda raw: raw[:-7], "truncated binvox data"),
        (lambda raw: raw[:-1], "odd number"),
        (lambda raw: raw + b"\x01\x05", "overlong"),
        (lambda raw: b"PK\x03\x04garbage", "not a binvox file"),
        (lambda raw: raw.split(b"data\n")[0], "truncated binvox header"),
        (lambda raw: raw.replace(b"dim 32 32 32", b"dim 32 x 32"), "malformed binvox header"),
    ],
)
def test_damaged_files_raise_named_errors(tmp_path, realdata, mutate, message):
    raw = (realdata / "ShapeNetVox32/02958343/sample-car/model.binvox").read_bytes()
    bad = tmp_path / "bad.binvox"
    bad.write_bytes(mutate(raw))
    with pytest.raises(DataError, match=message) as info:
        read_binvox(bad)
    assert str(bad) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_binvox(tmp_path / "nope.binvox")
