from mvaug.data.shapenet import ShapeNetDataset
from mvaug.demo import run_demo
from mvaug.io.images import read_image


def test_demo_writes_data_set_and_preview_sheet(tmp_path):
    result = run_demo(tmp_path / "demo", models=3, workers=1, progress=False)
    assert result.models == 3
    sheet = read_image(result.sheet, "RGB")
    # three rows (one per chair) of 4 renders + 1 voxel view, 137 px cells with 4 px padding
    assert sheet.shape == (3 * 141 + 4, 5 * 141 + 4, 3)
    assert ShapeNetDataset.from_root(result.data_root, split="all")[0]["images"].shape == (1, 3, 137, 137)
    again = run_demo(tmp_path / "demo", models=3, workers=1, progress=False)  # resumes: nothing to redo
    assert read_image(again.sheet, "RGB").tobytes() == sheet.tobytes()
