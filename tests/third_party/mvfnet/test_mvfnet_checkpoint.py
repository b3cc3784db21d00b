import pytest
import torch

from mvfnet import CHECKPOINT_FORMAT, CheckpointError, MVFNet, MVFNetConfig, checkpoint_payload, load_checkpoint, model_from_payload, save_checkpoint


def _model() -> MVFNet:
    torch.manual_seed(0)
    model = MVFNet(MVFNetConfig(image_size=64, width=4, n_id=6, n_exp=2))
    model(torch.rand(2, 3, 3, 64, 64))  # one training-mode pass: BatchNorm running statistics differ from the defaults
    return model.eval()


def test_save_and_load_give_the_same_network(tmp_path):
    model = _model()
    save_checkpoint(tmp_path / "run" / "net.pt", model, step=12)
    loaded, payload = load_checkpoint(tmp_path / "run" / "net.pt")
    assert payload["format"] == CHECKPOINT_FORMAT and payload["step"] == 12
    assert loaded.config == model.config and not loaded.training
    views = torch.rand(1, 3, 3, 64, 64)
    with torch.no_grad():
        for key, value in model(views).items():
            torch.testing.assert_close(loaded(views)[key], value)
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["net.pt"]  # no temporary file left


def test_payload_round_trip_in_memory():
    model = _model()
    rebuilt = model_from_payload(checkpoint_payload(model))
    for (name, a), b in zip(model.state_dict().items(), rebuilt.state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(CheckpointError, match="not found") as info:
        load_checkpoint(tmp_path / "none.pt")
    assert info.value.path == str(tmp_path / "none.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"format": "other", "model": {}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match=f"not an {CHECKPOINT_FORMAT}"):
        load_checkpoint(tmp_path / "other.pt")
    payload = checkpoint_payload(_model())
    payload["config"]["width"] = 8  # weights no longer fit the config
    torch.save(payload, tmp_path / "mismatch.pt")
    with pytest.raises(CheckpointError, match="inconsistent") as info:
        load_checkpoint(tmp_path / "mismatch.pt")
    assert info.value.path == str(tmp_path / "mismatch.pt")


def test_damaged_files_are_one_checkpoint_error_naming_them(tmp_path):
    import os

    save_checkpoint(tmp_path / "whole.pt", _model())
    (tmp_path / "truncated.pt").write_bytes((tmp_path / "whole.pt").read_bytes()[:3000])
    (tmp_path / "text.pt").write_text("hello world\n" * 10)
    (tmp_path / "folder.pt").mkdir()
    os.symlink(tmp_path / "loop-b.pt", tmp_path / "loop-a.pt")
    os.symlink(tmp_path / "loop-a.pt", tmp_path / "loop-b.pt")
    payload = checkpoint_payload(_model())
    payload["config"]["width"] = 8
    torch.save(payload, tmp_path / "mismatch.pt")
    cases = {
        "truncated.pt": "not a readable torch checkpoint",
        "text.pt": "not a readable torch checkpoint",
        "folder.pt": "found a folder",
        "loop-a.pt": "cannot read the checkpoint",
        "mismatch.pt": "size mismatch for",
    }
    for name, message in cases.items():
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(tmp_path / name)
        assert message in str(info.value) and info.value.path == str(tmp_path / name) and "\n" not in str(info.value), str(info.value)
