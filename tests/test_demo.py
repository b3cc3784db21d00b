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
