"""``mvaug train-recon`` through the command line: config file, --set, --max-steps, --resume, errors."""

from pathlib import Path

import click
import yaml
from click.testing import CliRunner

from mvaug.cli.main import MvaugGroup
from mvaug.cli.recon import train_recon

QUICK = Path(__file__).resolve().parents[2] / "configs/pix2vox-quick.yaml"
SMALL = ["--set", "model.image_size=32", "--set", "train.batch_size=2", "--set", "train.two_stage=false", "--set", "data.val_views=1"]


def cli() -> click.Group:
    group = MvaugGroup()
    group.add_command(train_recon)
    return group


def invoke(*args):
    return CliRunner().invoke(cli(), ["train-recon", *map(str, args)])


def test_train_recon_runs_resumes_and_saves_the_resolved_config(chairs, tmp_path):
    run = tmp_path / "run"
    first = invoke("--config", QUICK, "--data", chairs, "--out", run, *SMALL, "--max-steps", 1, "--device", "cpu", "--quiet")
    assert first.exit_code == 0, first.output
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["model"]["image_size"] == 32 and saved["data"]["kind"] == "chair" and saved["optim"]["milestones"] == [30, 50]
    again = invoke("--data", chairs, "--out", run, "--max-steps", 1, "--device", "cpu", "--quiet")
    assert again.exit_code == 2 and "--resume" in again.output
    resumed = invoke("--data", chairs, "--out", run, "--resume", "--max-steps", 1, "--device", "cpu", "--quiet")
    assert resumed.exit_code == 0, resumed.output
    assert "step 2" in resumed.output and (run / "checkpoints/step-000000002.pt").is_file()


def test_bad_options_give_one_line_naming_the_cause(chairs, tmp_path):
    typo = invoke("--config", QUICK, "--data", chairs, "--out", tmp_path / "a", "--set", "train.epoch=3")
    assert typo.exit_code == 2 and "did you mean 'epochs'" in typo.output
    weights = invoke("--config", QUICK, "--data", chairs, "--out", tmp_path / "b", *SMALL, "--vgg-weights", tmp_path / "vgg.pth", "--device", "cpu")
    assert weights.exit_code == 2 and "VGG16-bn weights not found" in weights.output
    missing = invoke("--config", QUICK, "--data", tmp_path / "nowhere", "--out", tmp_path / "c")
    assert missing.exit_code == 2 and "ShapeNet root not found" in missing.output
    for result in (typo, weights, missing):
        assert "Traceback" not in result.output


def test_a_resume_with_set_writes_the_new_values_into_the_run_config(chairs, tmp_path):
    run = tmp_path / "run"
    assert invoke("--config", QUICK, "--data", chairs, "--out", run, *SMALL, "--set", "train.epochs=2", "--max-steps", 1, "--device", "cpu", "--quiet").exit_code == 0
    resumed = invoke("--data", chairs, "--out", run, "--resume", "--set", "train.epochs=3", "--max-steps", 1, "--device", "cpu", "--quiet")
    assert resumed.exit_code == 0, resumed.output
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["epochs"] == 3  # a later plain --resume reads 3, not 2
