"""Outputs never replace an input or an unrelated file, and a refused command leaves the folder as it was.

Each refused case exits with status 2, prints one line naming the path at fault, and changes nothing.
The built-in models are used where a model is needed.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from mvaug.cli.main import cli
from mvaug.io.binvox import Binvox, write_binvox
from tests.conftest import REAL_MODELS, rendering_dir, single_thread

BENCH = "02828884"
CHAIR_RUN = "builtin:chair-disentangler"


@pytest.fixture(autouse=True)
def one_thread():
    with single_thread():
        yield


@pytest.fixture
def chair_png(realdata, tmp_path) -> Path:
    """A real bench render copied into the test folder as chair.png."""
    image = tmp_path / "chair.png"
    shutil.copy(rendering_dir(realdata, BENCH) / "00.png", image)
    return image


def _run(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path below ``folder`` with its bytes (None for folders)."""
    return {str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes() for p in sorted(folder.rglob("*"))}


def _assert_refused(result: Result, *names: object) -> None:
    """Exit status 2 and one line, without a traceback, naming every item of ``names``."""
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for name in names:
        assert str(name) in lines[0], result.output


def test_reconstruct_refuses_an_output_that_is_the_input(chair_png, tmp_path):
    before = _snapshot(tmp_path)
    result = _run("reconstruct", chair_png, "--out", tmp_path / "chair", "--device", "cpu")
    _assert_refused(result, chair_png, "overwrite the input")
    assert _snapshot(tmp_path) == before
    overwrite = _run("reconstruct", chair_png, "--out", tmp_path / "chair.obj", "--overwrite", "--device", "cpu")
    _assert_refused(overwrite, chair_png, "overwrite the input")  # --overwrite never replaces an input
    assert _snapshot(tmp_path) == before


def test_reconstruct_replaces_existing_outputs_only_with_overwrite(chair_png, tmp_path):
    (tmp_path / "out.obj").write_text("my mesh\n")
    before = _snapshot(tmp_path)
    refused = _run("reconstruct", chair_png, "--out", tmp_path / "out", "--device", "cpu")
    _assert_refused(refused, tmp_path / "out.obj", "--overwrite")
    assert _snapshot(tmp_path) == before
    replaced = _run("reconstruct", chair_png, "--out", tmp_path / "out", "--overwrite", "--device", "cpu")
    assert replaced.exit_code == 0, replaced.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chair.png", "out.binvox", "out.npy", "out.obj", "out.png"]
    assert "\nv " in (tmp_path / "out.obj").read_text() and (tmp_path / "chair.png").read_bytes() == before["chair.png"]


def test_reconstruct_refuses_a_folder_in_the_place_of_an_output_before_writing_any(chair_png, tmp_path):
    (tmp_path / "x.png").mkdir()
    before = _snapshot(tmp_path)
    result = _run("reconstruct", chair_png, "--out", tmp_path / "x", "--device", "cpu")
    _assert_refused(result, tmp_path / "x.png", "folder")
    assert _snapshot(tmp_path) == before


def test_face_reconstruct_refuses_existing_outputs_before_loading_the_models(chair_png, tmp_path, monkeypatch):
    (tmp_path / "face.json").write_text("{}\n")
    monkeypatch.setenv("MVAUG_ASSETS", str(tmp_path / "no-models"))  # the outputs are checked first
    before = _snapshot(tmp_path)
    result = _run("reconstruct", chair_png, "--kind", "face", "--out", tmp_path / "face", "--device", "cpu")
    _assert_refused(result, tmp_path / "face.json", "--overwrite")
    assert _snapshot(tmp_path) == before


def test_evaluate_refuses_a_folder_that_is_not_one_of_its_reports(realdata, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "report.md").write_text("# my notes\n")
    (out / "summary.json").write_text('{"mine": true}\n')
    before = _snapshot(tmp_path)
    args = ["--data", realdata, "--recon", "builtin:chair-pix2vox", "--run", CHAIR_RUN, "--views", "1", "--device", "cpu", "--out", out]
    _assert_refused(_run("evaluate", *args), out, "report.md, summary.json")
    _assert_refused(_run("evaluate", "--kind", "face", *args), out, "report.md, summary.json")
    assert _snapshot(tmp_path) == before


def test_evaluate_reads_every_model_before_creating_its_report_folder(realdata, tmp_path):
    corrupt = tmp_path / "recon.pth"
    corrupt.write_bytes(b"not a checkpoint")
    before = _snapshot(tmp_path)
    result = _run("evaluate", "--data", realdata, "--recon", corrupt, "--run", CHAIR_RUN, "--views", "1", "--device", "cpu", "--out", tmp_path / "report")
    _assert_refused(result, corrupt)
    assert _snapshot(tmp_path) == before


def test_evaluate_voxels_json_never_replaces_a_prediction(realdata, tmp_path):
    prediction = tmp_path / "pred.binvox"
    shutil.copy(next((realdata / "predictions" / BENCH).rglob("*.binvox")), prediction)
    truth = realdata / "ShapeNetVox32" / BENCH / REAL_MODELS[BENCH] / "model.binvox"
    before = _snapshot(tmp_path)
    _assert_refused(_run("evaluate", "voxels", prediction, truth, "--json", prediction), prediction, "overwrite the input")
    assert _snapshot(tmp_path) == before


def test_voxels_mesh_never_replaces_its_grid_through_a_link(tmp_path):
    grid = tmp_path / "grid.binvox"
    write_binvox(grid, Binvox(np.ones((4, 4, 4), bool), (0.0, 0.0, 0.0), 1.0))
    os.link(grid, tmp_path / "grid.obj")
    before = _snapshot(tmp_path)
    _assert_refused(_run("voxels", "mesh", grid, tmp_path / "grid.obj"), tmp_path / "grid.obj", "overwrite the input")
    assert _snapshot(tmp_path) == before


def test_generate_refuses_a_folder_of_other_files_and_never_replaces_an_input(chair_png, tmp_path):
    out = tmp_path / "views"
    (out / "chair").mkdir(parents=True)
    (out / "chair" / "sheet.png").write_bytes(b"my sheet")
    before = _snapshot(tmp_path)
    result = _run("generate", chair_png, "--run", CHAIR_RUN, "--out", out, "--device", "cpu", "--quiet")
    _assert_refused(result, out / "chair", "sheet.png")
    assert _snapshot(tmp_path) == before
    earlier = out / "input"  # views of an image named input.png, written by an earlier call
    earlier.mkdir()
    for name in ("input.png", "sheet.png"):
        shutil.copy(chair_png, earlier / name)
    before = _snapshot(tmp_path)
    again = _run("generate", earlier / "input.png", "--run", CHAIR_RUN, "--out", out, "--device", "cpu", "--quiet")
    _assert_refused(again, earlier / "input.png", "overwrite the input")
    assert _snapshot(tmp_path) == before


def test_bank_build_and_show_never_replace_an_input_or_a_file_that_is_not_a_bank(chair_png, tmp_path):
    from mvaug.io.assets import model_file

    bank = tmp_path / "bank.npz"
    shutil.copy(model_file("chair-disentangler", "bank"), bank)
    (tmp_path / "notes.txt").write_text("mine\n")
    before = _snapshot(tmp_path)
    build = ["bank", "build", CHAIR_RUN, "--exemplar", f"az000_el30={chair_png}", "--encode", "--device", "cpu", "--out"]
    _assert_refused(_run(*build, chair_png), chair_png, "overwrite the input")
    _assert_refused(_run(*build, tmp_path / "notes.txt"), tmp_path / "notes.txt", "not a content bank")
    _assert_refused(_run("bank", "show", bank, "--run", CHAIR_RUN, "-o", bank, "--device", "cpu"), bank, "overwrite the input")
    assert _snapshot(tmp_path) == before


def test_eval_generate_refuses_a_folder_that_is_not_one_of_its_reports(realdata, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "summary.json").write_text(json.dumps({"mine": True}))
    before = _snapshot(tmp_path)
    result = _run("eval-generate", CHAIR_RUN, "--data", realdata, "--out", out, "--device", "cpu")
    _assert_refused(result, out, "summary.json")
    assert _snapshot(tmp_path) == before
