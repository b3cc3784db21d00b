import pytest
import torch

from mvaug.io.payload_file import FILE_FORMAT, read_payload_file, write_payload_file
from mvaug.errors import DataError


def test_round_trip_keeps_structure_ints_and_rounds_floats_to_fp16(tmp_path):
    floats = torch.randn(5, 3) * 10
    payload = {
        "format": "x-v1", "step": 3, "ratio": 0.5, "none": None, "flag": True,
        "net": {"layer.weight": floats, "bn.num_batches_tracked": torch.tensor(123456789012, dtype=torch.int64)},
        "config": {"channels": [32, 16], "name": "a"},
        "items": [torch.arange(4, dtype=torch.int32), {"deep": torch.ones(2, dtype=torch.float64)}],
        "huge": torch.tensor([1e6, -2.0]),  # beyond fp16's range: kept in float32
        "dropped": torch.zeros(3),
    }
    counts = write_payload_file(tmp_path / "m.safetensors", payload, drop=("dropped",))
    back = read_payload_file(tmp_path / "m.safetensors")
    assert set(back) == set(payload) - {"dropped"}
    assert {k: back[k] for k in ("format", "step", "ratio", "none", "flag", "config")} == {k: payload[k] for k in ("format", "step", "ratio", "none", "flag", "config")}
    assert back["net"]["layer.weight"].dtype == torch.float32
    assert torch.equal(back["net"]["layer.weight"], floats.half().float())
    assert torch.equal(back["net"]["bn.num_batches_tracked"], payload["net"]["bn.num_batches_tracked"])
    assert back["items"][0].dtype == torch.int32 and torch.equal(back["items"][0], torch.arange(4, dtype=torch.int32))
    assert back["items"][1]["deep"].dtype == torch.float64
    assert torch.equal(back["huge"], payload["huge"])
    assert counts == {"float16": 15 + 2, "float32": 2, "int64": 1, "int32": 4}


def test_keys_with_the_separator_are_refused(tmp_path):
    with pytest.raises(ValueError, match="without '/'"):
        write_payload_file(tmp_path / "m.safetensors", {"a/b": torch.zeros(1)})


def test_unreadable_files_raise_data_error_naming_them(tmp_path):
    from safetensors.torch import save_file

    with pytest.raises(DataError, match="not found") as err:
        read_payload_file(tmp_path / "none.safetensors")
    assert str(tmp_path / "none.safetensors") in str(err.value)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(DataError, match="not a readable"):
        read_payload_file(garbage)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(DataError, match=f"not an {FILE_FORMAT}"):
        read_payload_file(foreign)
    truncated = tmp_path / "truncated.safetensors"
    write_payload_file(truncated, {"w": torch.randn(100)})
    truncated.write_bytes(truncated.read_bytes()[:-50])
    with pytest.raises(DataError, match="not a readable"):
        read_payload_file(truncated)
