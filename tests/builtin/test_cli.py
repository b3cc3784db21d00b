"""``mvaug models`` and ``mvaug reconstruct`` / ``mvaug demo`` with the built-in models (tiny ones here)."""

import json

import numpy as np
from click.testing import CliRunner

from mvaug.io.assets import ASSETS_ENV
from mvaug.cli.main import cli


def test_models_lists_the_cards_and_verifies(assets):
    table = CliRunner().invoke(cli, ["models"])
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0].split()[:3] == ["name", "kind", "size"] and len(lines) == 5
    row = next(line for line in lines if line.startswith("chair-pix2vox "))
    size = (assets / "chair-pix2vox.safetensors").stat().st_size / 1e6
    assert f"{size:.1f} MB" in row and "configs/pix2vox-augment.yaml" in row and "iou_floor" in row
    cards = json.loads(CliRunner().invoke(cli, ["models", "--json"]).output)
    assert [c["name"] for c in cards] == ["chair-disentangler", "chair-pix2vox", "face-disentangler", "face-mvfnet"]
    ok = CliRunner().invoke(cli, ["models", "verify"])
    assert ok.exit_code == 0 and ok.output.count("ok  ") == 4
    (assets / "face-mvfnet.safetensors").write_bytes(b"x")
    bad = CliRunner().invoke(cli, ["models", "verify", "face-mvfnet"])
    assert bad.exit_code == 2 and "face-mvfnet.safetensors" in bad.output and "does not match" in bad.output


def test_models_data_rebuilds_the_training_images_from_the_card(tiny_defaults, assets, tmp_path):
    out = tmp_path / "faces"
    result = CliRunner().invoke(cli, ["models", "data", "face-disentangler", str(out), "--workers", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    trained_on = tiny_defaults[0] / "faces"
    files = sorted(p.relative_to(trained_on) for p in trained_on.rglob("*") if p.is_file())
    assert files and files == sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert all((out / f).read_bytes() == (trained_on / f).read_bytes() for f in files)
    card = json.loads((assets / "face-mvfnet.json").read_text())
    del card["data"]["synth"]
    (assets / "face-mvfnet.json").write_text(json.dumps(card))
    missing = CliRunner().invoke(cli, ["models", "data", "face-mvfnet", str(tmp_path / "mvfnet")])
    assert missing.exit_code == 2 and "face-mvfnet.json" in missing.output and "records no data recipe" in missing.output
    card["data"]["synth"] = {"generator": "synth-faces", "config": {"identities": 2, "colour": "red"}}
    (assets / "face-mvfnet.json").write_text(json.dumps(card))
    unknown = CliRunner().invoke(cli, ["models", "data", "face-mvfnet", str(tmp_path / "mvfnet")])
    assert unknown.exit_code == 2 and "colour" in unknown.output and "Traceback" not in unknown.output
    assert not (tmp_path / "mvfnet").exists()


def test_without_assets_every_command_says_how_to_make_them(tmp_path, monkeypatch):
    monkeypatch.setenv(ASSETS_ENV, str(tmp_path / "empty"))
    listing = CliRunner().invoke(cli, ["models"])
    assert listing.exit_code == 0 and "no built-in models" in listing.output and "scripts/train_defaults.py" in listing.output
    image = tmp_path / "chair.png"
    image.write_bytes(b"")
    for args in (["reconstruct", str(image), "--out", str(tmp_path / "o")], ["reconstruct", str(image), "--kind", "face", "--out", str(tmp_path / "f")], ["models", "verify"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2 and "scripts/train_defaults.py" in result.output, (args, result.output)
    demo = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path / "demo")])
    assert demo.exit_code == 2 and "scripts/train_defaults.py" in demo.output and "--retrain" in demo.output


def test_reconstruct_uses_the_builtin_models_by_default(tiny_defaults, assets, tmp_path):
    image = next((tiny_defaults[0] / "heldout-chairs" / "ShapeNetRendering").rglob("00.png"))
    default = CliRunner().invoke(cli, ["reconstruct", str(image), "--generate", "2", "--out", str(tmp_path / "default"), "--device", "cpu"])
    assert default.exit_code == 0, default.output
    named = ["reconstruct", str(image), "--recon", "builtin:chair-pix2vox", "--run", "builtin:chair-disentangler", "--generate", "2", "--out", str(tmp_path / "named"), "--device", "cpu"]
    assert CliRunner().invoke(cli, named).exit_code == 0
    assert np.array_equal(np.load(tmp_path / "default.npy"), np.load(tmp_path / "named.npy"))
    run = tiny_defaults[0] / "runs"
    original = ["reconstruct", str(image), "--recon", str(run / "pix2vox"), "--run", str(run / "disentangler"), "--generate", "2", "--out", str(tmp_path / "run"), "--device", "cpu"]
    assert CliRunner().invoke(cli, original).exit_code == 0
    assert np.abs(np.load(tmp_path / "default.npy") - np.load(tmp_path / "run.npy")).max() < 0.02


def test_face_reconstruct_uses_the_builtin_models_by_default(tiny_defaults, assets, tmp_path):
    faces = tiny_defaults[0] / "heldout-faces" / "images"
    front = sorted(faces.iterdir())[0] / "001.png"  # yaw 0 of (-45, 0, 45)
    result = CliRunner().invoke(cli, ["reconstruct", str(front), "--kind", "face", "--out", str(tmp_path / "face"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "face.json").read_text())
    assert record["recon"] == str(assets / "face-mvfnet.safetensors") and record["run"] == "builtin:face-disentangler"
    assert record["generated_views"] == ["az315_el00", "az045_el00"]


def test_demo_uses_the_builtin_models(tiny_defaults, assets, tmp_path):
    from mvaug.demo import FULL, run_demo
    from mvaug.evaluate.reconstruction import ReconEvalConfig

    result = run_demo(tmp_path / "demo", models=1, workers=1, progress=False)
    assert (result.recon, result.disentangler) == ("builtin:chair-pix2vox", "builtin:chair-disentangler")
    assert result.report.joinpath("report.md").is_file() and result.reconstructions["generated"].is_file()
    # retrieved-K from the disentangler's training chairs, rebuilt from its card: the very images it learned from
    assert set(result.summary["mean_iou"]) == set(ReconEvalConfig(views=FULL.eval_views, retrieve_from="chairs").conditions())
    rebuilt, trained_on = tmp_path / "demo" / "disentangler-chairs", tiny_defaults[0] / "chairs"
    files = sorted(p.relative_to(trained_on) for p in trained_on.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(rebuilt) for p in rebuilt.rglob("*") if p.is_file())
    assert all((rebuilt / f).read_bytes() == (trained_on / f).read_bytes() for f in files)
