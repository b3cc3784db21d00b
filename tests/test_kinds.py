"""The registry of kinds: one front door per kind, and the command line going through it."""

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner

import mvaug
from mvaug.cli.main import cli
from mvaug.errors import ConfigError
from mvaug.io.assets import list_builtin
from mvaug.kinds import KINDS, ROLES, EvaluateOptions, ReconstructOptions, TrainReconOptions, get_kind

PACKAGE_ASSETS = Path(mvaug.__file__).parent / "assets"
KIND_COMMANDS = (("train-recon",), ("reconstruct",), ("evaluate",))


def test_an_unknown_kind_names_the_known_ones():
    with pytest.raises(ConfigError, match="unknown kind 'car': expected one of chair, face"):
        get_kind("car")


@pytest.mark.parametrize("command", KIND_COMMANDS, ids=lambda c: c[0])
def test_every_kind_the_command_line_offers_has_every_entry(command):
    kind_option = next(p for p in cli.commands[command[0]].params if p.name == "kind")
    assert tuple(kind_option.type.choices) == tuple(KINDS)
    shipped = {card["name"]: card for card in list_builtin(PACKAGE_ASSETS)}
    for name in kind_option.type.choices:
        kind = get_kind(name)
        assert kind.name == name and kind.data
        assert all(callable(entry) for entry in (kind.train_recon, kind.reconstruct, kind.evaluate))
        assert set(kind.default_models) == set(ROLES)
        for role, model in kind.default_models.items():
            assert (shipped[model]["kind"], shipped[model]["role"]) == (name, role)


def _record(monkeypatch, kind: str, entry: str) -> list:
    """Replace ``entry`` of ``kind`` by one that records its options and returns a marker line."""
    calls = []

    def fake(options):
        calls.append(options)
        return f"{kind} {entry} called"

    monkeypatch.setitem(KINDS, kind, dataclasses.replace(KINDS[kind], **{entry: fake}))
    return calls


def test_train_recon_passes_its_options_to_the_kind(monkeypatch, tmp_path):
    calls = _record(monkeypatch, "face", "train_recon")
    result = CliRunner().invoke(cli, ["train-recon", "--kind", "face", "--data", "d", "--out", str(tmp_path / "run"), "--set", "a=1", "--set", "b=2",
                                      "--max-steps", "3", "--device", "cpu", "--quiet"])
    assert result.exit_code == 0, result.output
    assert result.output == "face train_recon called\n"
    assert calls == [TrainReconOptions(data="d", out=str(tmp_path / "run"), overrides=("a=1", "b=2"), max_steps=3, device="cpu", progress=False)]


def test_reconstruct_passes_its_options_to_the_kind(monkeypatch, tmp_path):
    calls = _record(monkeypatch, "chair", "reconstruct")
    image = tmp_path / "in.png"
    result = CliRunner().invoke(cli, ["reconstruct", str(image), "--out", str(tmp_path / "o"), "--generate", "2", "--run", "builtin:x", "--threshold", "0.5"])
    assert result.exit_code == 0, result.output
    assert result.output == "chair reconstruct called\n"
    assert calls == [ReconstructOptions(images=(str(image),), out=str(tmp_path / "o"), run="builtin:x", threshold=0.5, generate=2)]


def test_evaluate_passes_its_options_to_the_kind_and_names_the_report(monkeypatch, tmp_path):
    calls = _record(monkeypatch, "face", "evaluate")
    out = tmp_path / "eval"
    result = CliRunner().invoke(cli, ["evaluate", "--kind", "face", "--data", "d", "--recon", "r", "--run", "u", "--out", str(out), "--views", "2,1"])
    assert result.exit_code == 0, result.output
    assert result.output == f"face evaluate called\n\nreport: {out / 'report.md'}\n"
    assert calls == [EvaluateOptions(data="d", recon="r", run="u", out=str(out), views=(1, 2))]


def test_face_views_must_name_two_bank_views():
    with pytest.raises(ConfigError, match="--views 'az315_el00': expected two bank views, LEFT,RIGHT"):
        get_kind("face").reconstruct(ReconstructOptions(images=("face.png",), out="face", views="az315_el00"))
