"""The face paths of the CLI: train-recon, reconstruct and evaluate with --kind face."""

import json

from click.testing import CliRunner

from mvaug.cli.main import cli
from tests.recon.face_fixtures import TINY_FACE_RECON, one_thread, tiny_face_disentangler, tiny_face_run, tiny_faces, write_yaml  # noqa: F401


def test_train_recon_face_writes_a_run(tiny_faces, tmp_path):
    config = write_yaml(tmp_path / "tiny.yaml", TINY_FACE_RECON)
    result = CliRunner().invoke(cli, ["train-recon", "--kind", "face", "--config", str(config), "--data", str(tiny_faces), "--out", str(tmp_path / "run"), "--max-steps", "1", "--device", "cpu", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "step 1" in result.output and (tmp_path / "run" / "config.yaml").is_file()


def test_reconstruct_a_face_from_one_image_and_evaluate(tiny_faces, tiny_face_run, tiny_face_disentangler, tmp_path):
    front = tiny_faces / "images" / sorted(p.name for p in (tiny_faces / "images").iterdir())[0] / "001.png"
    args = ["reconstruct", str(front), "--kind", "face", "--recon", str(tiny_face_run), "--run", str(tiny_face_disentangler), "--out", str(tmp_path / "face"), "--device", "cpu"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "face.json").read_text())
    assert (tmp_path / "face.obj").is_file() and (tmp_path / "face.png").is_file() and record
    bad = CliRunner().invoke(cli, [*args[:-2], "--views", "az315_el00", "--device", "cpu"])
    assert bad.exit_code == 2 and "LEFT,RIGHT" in bad.output
    report = CliRunner().invoke(cli, ["evaluate", "--kind", "face", "--data", str(tiny_faces), "--recon", str(tiny_face_run), "--run", str(tiny_face_disentangler), "--out", str(tmp_path / "eval"), "--device", "cpu"])
    assert report.exit_code == 0, report.output
    assert (tmp_path / "eval" / "report.md").is_file() and "single" in report.output and "generated" in report.output
