import numpy as np
import pytest
from click.testing import CliRunner

from mvaug.cli.main import cli
from mvaug.io.images import read_image
from mvaug.viz.labelled import with_banner
from mvaug.viz.previews import image_grid, outline_cutout, shape_preview


def test_image_grid_centres_cells_of_different_sizes():
    a = np.zeros((4, 6, 3), dtype=np.uint8)
    b = np.full((2, 2, 3), 100, dtype=np.uint8)
    grid = image_grid([[a, b], [b]], pad=1)
    assert grid.shape == (1 + 2 * (4 + 1), 1 + 2 * (6 + 1), 3)
    assert grid[1:5, 1:7].max() == 0  # a fills its cell
    assert (grid[2:4, 10:12] == 100).all()  # b centred in the second cell
    assert (grid[0] == 255).all()


def test_a_cut_out_is_outlined_on_its_faded_photo():
    rgba = np.zeros((100, 200, 4), dtype=np.uint8)
    rgba[..., 2] = 200  # a blue photo
    rgba[40:80, 80:120, 3] = 255  # the cut: a 40-px square
    picture = outline_cutout(rgba, 50, colour=(255, 0, 0))
    assert picture.shape == (25, 50, 3)  # fitted in 50 x 50, aspect kept
    assert (picture[15, 25] == (0, 0, 200)).all()  # inside the cut: the photo as it is
    assert (picture[2, 2] > 150).all() and picture[2, 2, 2] > picture[2, 2, 0]  # outside: faded towards white, still blue-ish
    red = (picture == (255, 0, 0)).all(-1)
    rows, cols = np.nonzero(red)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (10, 19, 20, 29)  # the square's edge at a quarter scale
    assert not red[13:17, 23:27].any()


def test_a_banner_puts_a_line_of_text_above_the_picture():
    picture = np.full((40, 300, 3), 90, dtype=np.uint8)
    out = with_banner(picture, "implausible: 60% of the grid occupied", colour=(200, 0, 0))
    band = out.shape[0] - picture.shape[0]
    assert band > 10 and out.shape[1] == picture.shape[1]
    np.testing.assert_array_equal(out[band:], picture)
    assert ((out[:band, :, 0] > 150) & (out[:band, :, 1] < 80)).sum() > 30  # red text


def test_voxel_and_mesh_previews_of_the_same_shape_agree(realdata, tmp_path):
    """The car's voxels rendered as boxes and its marching-cubes mesh cover nearly the same pixels."""
    binvox = realdata / "ShapeNetVox32/02958343/sample-car/model.binvox"
    runner = CliRunner()
    assert runner.invoke(cli, ["voxels", "mesh", str(binvox), str(tmp_path / "car.ply")]).exit_code == 0
    boxes = shape_preview(binvox, views=3, size=96)
    mesh = shape_preview(tmp_path / "car.ply", views=3, size=96)
    assert boxes.shape == mesh.shape == (96 + 8, 3 * (96 + 4) + 4, 3)
    fg_boxes, fg_mesh = boxes.min(-1) < 250, mesh.min(-1) < 250
    assert fg_boxes.mean() > 0.1
    assert (fg_boxes & fg_mesh).sum() / (fg_boxes | fg_mesh).sum() > 0.85


def test_show_command_writes_png_and_rejects_bad_input(realdata, tmp_path):
    runner = CliRunner()
    binvox = realdata / "ShapeNetVox32/02828884/sample-bench/model.binvox"
    out = tmp_path / "bench.png"
    result = runner.invoke(cli, ["voxels", "show", str(binvox), "-o", str(out), "--views", "2", "--size", "64"])
    assert result.exit_code == 0, result.output
    image = read_image(out, "RGB")
    assert image.shape == (64 + 8, 2 * (64 + 4) + 4, 3) and image.min() < 200
    broken = tmp_path / "broken.binvox"
    broken.write_bytes(binvox.read_bytes()[:60])
    for args, words in [
        ([str(broken), "-o", str(out)], [str(broken), "truncated"]),
        ([str(tmp_path / "none.obj"), "-o", str(out)], ["none.obj", "not found"]),
        ([str(binvox), "-o", str(tmp_path / "x.jpg")], ["x.jpg", "PNG"]),
        ([str(out), "-o", str(tmp_path / "y.png")], ["cannot preview '.png'"]),
    ]:
        result = runner.invoke(cli, ["voxels", "show", *args])
        assert result.exit_code == 2 and "Traceback" not in result.output, result.output
        assert all(w in result.output for w in words), result.output


def test_garbage_mesh_file_is_a_named_error(tmp_path):
    from mvaug.errors import DataError

    bad = tmp_path / "bad.ply"
    bad.write_bytes(b"ply\nformat nonsense\n\x00\x01")
    with pytest.raises(DataError, match="bad.ply"):
        shape_preview(bad)
