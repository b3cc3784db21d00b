import pytest

from mvaug.errors import DataError
from mvaug.io.checkpoint import load_checkpoint, save_step_checkpoint


def test_step_checkpoints_keep_the_newest(tmp_path):
    for step in (5, 10, 100, 1000, 20):
        save_step_checkpoint(tmp_path, "step-", step, {"format": "t", "step": step}, keep=3)
    save_step_checkpoint(tmp_path, "encoders-step-", 7, {"format": "t", "step": 7}, keep=3)
    assert sorted(p.name for p in tmp_path.glob("step-*.pt")) == ["step-000000020.pt", "step-000000100.pt", "step-000001000.pt"]
    assert load_checkpoint(tmp_path / "step-000001000.pt", "t")["step"] == 1000
    assert (tmp_path / "encoders-step-000000007.pt").is_file()  # other prefixes are left alone


def test_checkpoint_errors_name_the_file(tmp_path):
    with pytest.raises(ValueError, match="format"):
        save_step_checkpoint(tmp_path, "step-", 1, {"step": 1})
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="junk.pt"):
        load_checkpoint(tmp_path / "junk.pt", "t")
    save_step_checkpoint(tmp_path, "step-", 2, {"format": "other"})
    with pytest.raises(DataError, match="not an t"):
        load_checkpoint(tmp_path / "step-000000002.pt", "t")
