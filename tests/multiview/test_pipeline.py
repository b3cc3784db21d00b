import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from mvaug.cli.main import cli


@pytest.fixture(scope="module")
def bank_file(tiny_run, dense_chairs, tmp_path_factory):
    out = tmp_path_factory.mktemp("bank") / "views.npz"
    result = CliRunner().invoke(cli, ["bank", "build", str(tiny_run), "--data", str(dense_chairs), "--out", str(out), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "62 views, 2-2 training images per view" in result.output
    return out


def test_generate_writes_views_inputs_and_a_sheet_per_image(tiny_run, bank_file, dense_chairs, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    photo = np.full((90, 120, 3), 200, dtype=np.uint8)
    photo[20:70, 40:80] = (150, 30, 30)
    Image.fromarray(photo).save(inputs / "photo.jpg")
    render = next((dense_chairs / "ShapeNetRendering").rglob("00.png"))
    args = ["generate", str(inputs), str(render), "--run", str(tiny_run), "--bank", str(bank_file), "--views", "az000_el20,az093_el30", "--out", str(tmp_path / "out"), "--device", "cpu"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "wrote 2 views of 2 images" in result.output
    for name in ("photo", "00"):
        folder = tmp_path / "out" / name
        assert sorted(p.name for p in folder.iterdir()) == ["az000_el20.png", "az093_el30.png", "input.png", "sheet.png"]
        assert Image.open(folder / "az000_el20.png").size == (32, 32)
        assert Image.open(folder / "sheet.png").size[0] > 3 * 96


def test_generate_errors_name_the_problem(tiny_run, bank_file, tmp_path):
    missing = CliRunner().invoke(cli, ["generate", str(tmp_path / "nope.png"), "--run", str(tiny_run), "--bank", str(bank_file), "--out", str(tmp_path / "o")])
    assert missing.exit_code == 2 and "nope.png" in missing.output and "Traceback" not in missing.output
    (tmp_path / "bad.png").write_bytes(b"not an image")
    corrupt = CliRunner().invoke(cli, ["generate", str(tmp_path / "bad.png"), "--run", str(tiny_run), "--bank", str(bank_file), "--out", str(tmp_path / "o")])
    assert corrupt.exit_code == 2 and "bad.png" in corrupt.output
    view = CliRunner().invoke(cli, ["generate", str(tmp_path / "bad.png"), "--run", str(tiny_run), "--bank", str(bank_file), "--views", "az001_el20", "--out", str(tmp_path / "o")])
    assert view.exit_code == 2 and "no view az001_el20" in view.output


def test_bank_show_draws_one_row_per_style(tiny_run, bank_file, tmp_path):
    result = CliRunner().invoke(cli, ["bank", "show", str(bank_file), "--run", str(tiny_run), "-o", str(tmp_path / "sheet.png"), "--styles", "2", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    two = np.asarray(Image.open(tmp_path / "sheet.png"))
    CliRunner().invoke(cli, ["bank", "show", str(bank_file), "--run", str(tiny_run), "-o", str(tmp_path / "three.png"), "--styles", "3", "--device", "cpu"])
    three = np.asarray(Image.open(tmp_path / "three.png"))
    assert three.shape[0] > two.shape[0] and three.shape[1] == two.shape[1]


def test_bank_build_needs_data_or_exemplars(tiny_run, tmp_path):
    result = CliRunner().invoke(cli, ["bank", "build", str(tiny_run), "--out", str(tmp_path / "b.npz")])
    assert result.exit_code == 2 and "--data" in result.output and "--exemplar" in result.output
    bad = CliRunner().invoke(cli, ["bank", "build", str(tiny_run), "--exemplar", "front"])
    assert bad.exit_code == 2 and "NAME=IMAGE" in bad.output
    both = CliRunner().invoke(cli, ["bank", "build", str(tiny_run), "--exemplar", "front=a.png", "--neighbours", "3", "--out", str(tmp_path / "b.npz")])
    assert both.exit_code == 2 and "drop --neighbours" in both.output


def test_bank_build_of_a_builtin_model_needs_out_keeps_its_name_and_neighbours(dense_chairs, tmp_path):
    from mvaug.multiview.bank import ContentBank
    from mvaug.multiview.synthesizer import MultiViewSynthesizer

    args = ["bank", "build", "builtin:chair-disentangler", "--data", str(dense_chairs), "--device", "cpu"]
    nowhere = CliRunner().invoke(cli, args)
    assert nowhere.exit_code == 2 and "--out" in nowhere.output
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "b.npz"), "--neighbours", "1"])
    assert result.exit_code == 0, result.output
    assert "codes of 2 objects for 1 style neighbours" in result.output  # the built-in model has no learned codes: encoded
    bank = ContentBank.load(tmp_path / "b.npz")
    assert bank.run == "builtin:chair-disentangler" and bank.neighbours.k == 1
    assert MultiViewSynthesizer.from_run("builtin:chair-disentangler", tmp_path / "b.npz").bank.neighbours is not None
    plain = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "plain.npz"), "--neighbours", "0"])
    assert plain.exit_code == 0 and "neighbours" not in plain.output
    assert ContentBank.load(tmp_path / "plain.npz").neighbours is None
