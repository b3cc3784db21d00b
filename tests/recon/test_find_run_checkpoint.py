"""Which file of a run folder a reconstructor is read from, for both kinds."""

import pytest

from mvaug.errors import DataError
from mvaug.recon.checkpoint import find_checkpoint
from mvaug.recon.face_reconstruct import find_face_checkpoint


def _run(root, *files):
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    return root


@pytest.mark.parametrize("find", [find_checkpoint, find_face_checkpoint])
def test_best_then_the_latest_step_then_a_file_as_given(find, tmp_path):
    steps = _run(tmp_path / "steps", "checkpoints/step-000000001.pt", "checkpoints/step-000000002.pt")
    assert find(steps) == steps / "checkpoints/step-000000002.pt"
    best = _run(tmp_path / "best", "best.pt", "model.pt", "checkpoints/step-000000001.pt")
    assert find(best) == best / "best.pt"
    assert find(best / "model.pt") == best / "model.pt"
    with pytest.raises(DataError, match="checkpoint or run folder not found"):
        find(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no best.pt or checkpoints/step-\\*.pt: not a run folder of mvaug train-recon"):
        find(tmp_path / "empty")


def test_a_disentangler_run_is_named_by_the_face_reader_and_read_by_the_chair_one(tmp_path):
    run = _run(tmp_path / "run", "model.pt", "checkpoints/step-000000001.pt")
    with pytest.raises(DataError, match="this is a disentangler run folder \\(model.pt\\), not a face reconstructor") as err:
        find_face_checkpoint(run)
    assert err.value.path == str(run)
    assert find_checkpoint(run) == run / "checkpoints/step-000000001.pt"
    assert find_checkpoint(_run(tmp_path / "final", "model.pt")) == tmp_path / "final" / "model.pt"
