"""``mvaug evaluate --retrieve-from``: the refusals that come before any model is loaded."""

import json
from pathlib import Path

from click.testing import CliRunner

from mvaug.cli.main import cli

CARD = Path(__file__).resolve().parents[2] / "mvaug" / "assets" / "chair-disentangler.json"


def test_a_missing_retrieve_from_folder_is_one_clear_error(tmp_path, assert_input_error):
    missing = tmp_path / "no-such-data"
    args = ["evaluate", "--data", str(tmp_path), "--recon", "r", "--run", "d", "--out", str(tmp_path / "out"), "--retrieve-from", str(missing)]
    result = CliRunner().invoke(cli, args)
    assert_input_error(result, missing, "--retrieve-from folder not found")
    assert not (tmp_path / "out").exists()


def test_retrieve_from_is_refused_for_faces(tmp_path, assert_input_error):
    args = ["evaluate", "--kind", "face", "--data", str(tmp_path), "--recon", "r", "--run", "d", "--out", str(tmp_path / "out"), "--retrieve-from", str(tmp_path)]
    assert_input_error(CliRunner().invoke(cli, args), "--retrieve-from", "--kind face")


def test_help_names_the_recipe_of_the_builtin_disentanglers_data():
    command = json.loads(CARD.read_text())["data"]["command"]
    result = CliRunner().invoke(cli, ["evaluate", "--help"], terminal_width=1000)
    assert result.exit_code == 0 and command in " ".join(result.output.split())
