"""RunPaths: a run that fails before its first checkpoint leaves no folder behind; anything else stays."""

from dataclasses import dataclass

import pytest

from mvaug.engine.run_folder import RunPaths


@dataclass
class TinyConfig:
    steps: int = 3


def _fail_in(paths: RunPaths, checkpoint: bool = False) -> None:
    with pytest.raises(RuntimeError, match="bad batch"), paths.removed_on_early_failure():
        paths.start(TinyConfig(), resume=False, restore_latest=lambda: False)
        if checkpoint:
            paths.checkpoints.mkdir()
            (paths.checkpoints / "step-000000001.pt").write_bytes(b"weights")
        raise RuntimeError("bad batch")


def test_an_early_failure_removes_the_folders_start_made(tmp_path):
    paths = RunPaths(tmp_path / "runs" / "new")
    _fail_in(paths)
    assert not (tmp_path / "runs").exists()


def test_a_folder_that_existed_or_reached_a_checkpoint_is_kept(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    _fail_in(RunPaths(tmp_path / "mine"))
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    _fail_in(RunPaths(tmp_path / "started"), checkpoint=True)
    assert (tmp_path / "started" / "checkpoints" / "step-000000001.pt").is_file()
    assert (tmp_path / "started" / "config.yaml").is_file()


def test_resume_without_a_checkpoint_starts_a_new_run_and_says_so(tmp_path, caplog):
    paths = RunPaths(tmp_path / "run")
    with caplog.at_level("WARNING", logger="mvaug.engine.run_folder"):
        paths.start(TinyConfig(), resume=True, restore_latest=lambda: False)
    assert (tmp_path / "run" / "config.yaml").is_file()
    assert [r.getMessage() for r in caplog.records] == [f"{tmp_path / 'run'}: no checkpoint to resume from; a new run starts"]
    caplog.clear()
    with caplog.at_level("WARNING", logger="mvaug.engine.run_folder"):
        RunPaths(tmp_path / "other").start(TinyConfig(), resume=True, restore_latest=lambda: True)
    assert not caplog.records
