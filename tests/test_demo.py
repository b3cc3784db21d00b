from click.testing import CliRunner

from mvaug.cli.main import cli
from mvaug.data.shapenet import ShapeNetDataset
from mvaug.demo import run_demo
from mvaug.io.images import read_image


def test_data_only_demo_writes_data_set_and_preview_sheet(tmp_path):
    result = run_demo(tmp_path / "demo", models=3, workers=1, progress=False, fast=True, data_only=True)
    assert result.models == 3
    sheet = read_image(result.sheet, "RGB")
    # three rows (one per chair) of 4 renders + 1 voxel view, 32 px cells with 4 px padding
    assert sheet.shape == (3 * 36 + 4, 5 * 36 + 4, 3)
    assert ShapeNetDataset.from_root(result.data_root, split="all")[0]["images"].shape == (1, 3, 32, 32)
    again = run_demo(tmp_path / "demo", models=3, workers=1, progress=False, fast=True, data_only=True)
    assert read_image(again.sheet, "RGB").tobytes() == sheet.tobytes()


def test_fast_demo_runs_the_whole_path_and_resumes(tmp_path):
    import torch

    torch.set_num_threads(1)
    out = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["demo", "--out", str(out), "--fast", "--workers", "1"])
    assert result.exit_code == 0, result.output
    for path in ("runs/disentangler/model.pt", "runs/disentangler/bank.npz", "runs/pix2vox/best.pt", "report/report.md", "report/per_object.csv"):
        assert (out / path).is_file(), path
    assert len(list((out / "reconstruction").glob("*-generated.binvox"))) == 1
    assert "evaluation report" in result.output
    assert "retrieved-1" in (out / "report/report.md").read_text()  # from the disentangler's own training chairs
    stamp = (out / "runs/disentangler/model.pt").stat().st_mtime_ns
    again = CliRunner().invoke(cli, ["demo", "--out", str(out), "--fast", "--workers", "1"])
    assert again.exit_code == 0, again.output
    assert (out / "runs/disentangler/model.pt").stat().st_mtime_ns == stamp  # nothing retrained


def test_the_demo_refines_generated_views_as_the_chair_commands_do():
    from mvaug.demo import FULL
    from mvaug.multiview.synthesizer import CLI_REFINE_STEPS

    assert FULL.refine_steps == CLI_REFINE_STEPS > 0


def test_a_disentangler_with_a_finish_resumes_to_the_weights_of_an_uninterrupted_one(tmp_path, monkeypatch):
    """``train_disentangler(..., finish=...)``: stage 1 to its first end, resumed under the finish's overrides, then the
    encoders once; a call after an interruption in the finish ends with the same weights as one without it."""
    import json

    import torch

    from mvaug.demo import train_disentangler
    from mvaug.disentangle.run import run_training
    from mvaug.disentangle.trainer import load_run_checkpoint
    from mvaug.engine.loop import TrainRequest
    from tests.conftest import single_thread
    from tests.disentangle.test_trainer import _config_file, _image_folder

    banks = []  # these images carry no cameras to build a bank from: the call is recorded instead (banks: tests/multiview)
    monkeypatch.setattr("mvaug.multiview.pipeline.build_bank", lambda run, **kwargs: banks.append(run))
    data, config = _image_folder(tmp_path), _config_file(tmp_path, steps=4)
    finish = ("train.steps=6", "loss.recon=l1-msssim")
    with single_thread():
        train_disentangler(tmp_path / "straight", data, config, (), None, "cpu", False, finish)
        run_training(TrainRequest(data, tmp_path / "cut", config, device="cpu", progress=False), stage="generator")
        run_training(TrainRequest(data, tmp_path / "cut", None, finish, resume=True, max_steps=1, device="cpu", progress=False))
        assert not (tmp_path / "cut/model.pt").exists()  # interrupted at step 5 of the finish
        train_disentangler(tmp_path / "cut", data, config, (), None, "cpu", False, finish)
    log = [json.loads(line) for line in (tmp_path / "straight/log.jsonl").read_text().splitlines()]
    assert [(r["step"], r["recon_loss"]) for r in log if "recon_loss" in r] == [(2, "l1"), (4, "l1"), (6, "l1-msssim")]
    assert sum(1 for r in log if r.get("stage") == 2 and r["step"] == 2) == 1  # the encoders are fitted once, after the finish
    a, b = load_run_checkpoint(tmp_path / "straight/model.pt"), load_run_checkpoint(tmp_path / "cut/model.pt")
    assert a["step"] == b["step"] == 6 and a["recon_loss"] == "l1-msssim"
    for part in ("generator", "style_encoder"):
        for key, value in a[part].items():
            torch.testing.assert_close(b[part][key], value, rtol=0, atol=0, msg=key)
    assert banks == [tmp_path / "straight", tmp_path / "cut"]
