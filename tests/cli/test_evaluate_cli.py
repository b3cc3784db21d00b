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


def test_help_names_the_rebuild_and_the_shipped_card_holds_the_recipe_its_command_says():
    result = CliRunner().invoke(cli, ["evaluate", "--help"], terminal_width=1000)
    assert result.exit_code == 0 and "mvaug models data NAME DIR" in " ".join(result.output.split())
    data = json.loads(CARD.read_text())["data"]
    recipe = data["synth"]["config"]
    assert data["synth"]["generator"] == "synth-chairs" and recipe["dense"] and "--dense" in data["command"]
    for option, key in (("--models", "models"), ("--size", "size"), ("--seed", "seed")):
        assert f"{option} {recipe[key]} " in data["command"] + " ", option
    assert recipe["seed"] == data["seed"] and f"--split {','.join(f'{x:g}' for x in recipe['split'])}" in data["command"]


def test_face_commands_refine_by_default_and_take_zero_for_none(tmp_path, monkeypatch):
    """The face commands take --refine-steps as the chair commands do: CLI_REFINE_STEPS unless told, 0 turns it off."""
    from mvaug.evaluate import face_eval
    from mvaug.multiview import synthesizer
    from mvaug.recon import face_reconstruct

    seen = []
    monkeypatch.setattr(face_reconstruct, "run_face_reconstruct", lambda *args, **kwargs: seen.append(("reconstruct", kwargs["refine_steps"])))
    monkeypatch.setattr(face_eval, "evaluate_faces", lambda *args, **kwargs: seen.append(("evaluate", kwargs["refine_steps"])))
    for extra, steps in (([], synthesizer.CLI_REFINE_STEPS), (["--refine-steps", "0"], 0), (["--refine-steps", "7"], 7)):
        CliRunner().invoke(cli, ["reconstruct", "--kind", "face", str(tmp_path / "face.png"), "--out", str(tmp_path / "o"), *extra])
        CliRunner().invoke(cli, ["evaluate", "--kind", "face", "--data", str(tmp_path), "--recon", "r", "--run", "d", "--out", str(tmp_path / "out"), *extra])
        assert seen[-2:] == [("reconstruct", steps), ("evaluate", steps)]


def test_chair_commands_refine_by_default_and_take_zero_for_none(tmp_path, monkeypatch):
    """Without --refine-steps the chair commands (eval-generate too) pass CLI_REFINE_STEPS on; --refine-steps 0 turns refinement off."""
    from mvaug.evaluate import generation, reconstruction
    from mvaug.multiview import synthesizer
    from mvaug.recon import reconstruct

    seen = []
    monkeypatch.setattr(synthesizer, "generate_around", lambda *args, **kwargs: seen.append(("generate", args[6])) or None)
    monkeypatch.setattr(reconstruct, "run_reconstruct", lambda *args, **kwargs: None)  # the command stops at its result
    monkeypatch.setattr(reconstruction, "evaluate_reconstruction", lambda *args, **kwargs: seen.append(("evaluate", args[4].refine_steps)))
    monkeypatch.setattr(generation, "evaluate_generation", lambda *args, **kwargs: seen.append(("eval-generate", kwargs["refine_steps"])))
    monkeypatch.setattr(generation, "format_generation_table", lambda summary: "")
    for extra, steps in (([], synthesizer.CLI_REFINE_STEPS), (["--refine-steps", "0"], 0)):
        CliRunner().invoke(cli, ["reconstruct", str(tmp_path / "chair.png"), "--out", str(tmp_path / "o"), "--generate", "2", *extra])
        CliRunner().invoke(cli, ["evaluate", "--data", str(tmp_path), "--recon", "r", "--run", "d", "--out", str(tmp_path / "out"), *extra])
        CliRunner().invoke(cli, ["eval-generate", "d", "--data", str(tmp_path), *extra])
        assert seen[-3:] == [("generate", steps), ("evaluate", steps), ("eval-generate", steps)]


def test_chair_commands_pass_sharpen_on_and_face_commands_refuse_it(tmp_path, monkeypatch):
    """--sharpen reaches evaluate and reconstruct (None without it: the reconstructor decides); faces have no such views."""
    from mvaug.evaluate import reconstruction
    from mvaug.multiview import synthesizer
    from mvaug.recon import reconstruct

    seen = []
    monkeypatch.setattr(synthesizer, "generate_around", lambda *args, **kwargs: None)
    monkeypatch.setattr(reconstruct, "run_reconstruct", lambda *args, **kwargs: seen.append(("reconstruct", args[9])))
    monkeypatch.setattr(reconstruction, "evaluate_reconstruction", lambda *args, **kwargs: seen.append(("evaluate", args[4].sharpen)))
    for extra, amount in (([], None), (["--sharpen", "0"], 0.0), (["--sharpen", "1.5"], 1.5)):
        CliRunner().invoke(cli, ["reconstruct", str(tmp_path / "chair.png"), "--out", str(tmp_path / "o"), "--generate", "2", *extra])
        CliRunner().invoke(cli, ["evaluate", "--data", str(tmp_path), "--recon", "r", "--run", "d", "--out", str(tmp_path / "out"), *extra])
        assert seen[-2:] == [("reconstruct", amount), ("evaluate", amount)]
    negative = CliRunner().invoke(cli, ["evaluate", "--data", str(tmp_path), "--recon", "r", "--run", "d", "--out", str(tmp_path / "out"), "--sharpen", "-1"])
    assert negative.exit_code == 2 and "--sharpen" in negative.output
    for command in (["reconstruct", "--kind", "face", str(tmp_path / "face.png"), "--out", str(tmp_path / "f")],
                    ["evaluate", "--kind", "face", "--data", str(tmp_path), "--recon", "r", "--run", "d", "--out", str(tmp_path / "fo")]):
        refused = CliRunner().invoke(cli, [*command, "--sharpen", "1"])
        assert refused.exit_code != 0 and "--sharpen applies to the generated views of chairs" in refused.output
