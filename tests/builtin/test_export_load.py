"""Exported tiny runs load back as the objects the runs give, with outputs equal up to fp16 rounding."""

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from mvaug.builtin.defaults import TINY_DEFAULTS
from mvaug.io.assets import list_builtin, read_card, verify
from mvaug.errors import DataError
from mvaug.multiview.bank import ContentBank


def test_cards_describe_the_files(tiny_defaults, assets):
    cards = {c["name"]: c for c in list_builtin()}
    assert set(cards) == {"chair-disentangler", "chair-pix2vox", "face-disentangler", "face-mvfnet"}
    for card in cards.values():
        for record in card["files"].values():
            data = (assets / record["file"]).read_bytes()
            assert record["sha256"] == hashlib.sha256(data).hexdigest() and record["bytes"] == len(data)
        assert card["training"]["wall_time_s"] > 0 and card["metrics"] and card["config"]
        assert str(tiny_defaults[0].resolve()) not in json.dumps(card)  # the work folder is written WORK/...
    assert "/" not in cards["face-mvfnet"]["config"]["data"]["root"]  # the training folder's name only
    assert cards["face-mvfnet"]["metrics"]["heldout"]["command"].endswith(f"--refine-steps {TINY_DEFAULTS.face_refine_steps}")
    finish = TINY_DEFAULTS.chair_disentangler.finish  # stage 1 resumed with these, as the card's command says
    assert cards["chair-disentangler"]["training"]["finish"] == list(finish)
    assert f"--stage generator && mvaug train --data DIR --out RUN --resume --set {finish[0]} --set {finish[1]} && mvaug bank build" in cards["chair-disentangler"]["training"]["command"]
    assert cards["chair-disentangler"]["config"]["loss"]["recon"] == "l1-msssim" and cards["chair-disentangler"]["config"]["train"]["steps"] == 6
    assert cards["chair-disentangler"]["training"]["command"].endswith("mvaug bank build RUN --data DIR --neighbours 1")  # the recipe's style neighbours
    assert ContentBank.load(assets / cards["chair-disentangler"]["files"]["bank"]["file"]).neighbours.k == 1  # shipped with the bank
    assert ContentBank.load(assets / cards["face-disentangler"]["files"]["bank"]["file"]).neighbours is None
    pix2vox = torch.load(tiny_defaults[0] / "runs" / "pix2vox" / "best.pt", weights_only=True)
    expected = sum(t.numel() for key in ("encoder_state_dict", "decoder_state_dict", "merger_state_dict") for t in pix2vox[key].values())
    assert cards["chair-pix2vox"]["parameters"] == expected
    work = str(tiny_defaults[0].resolve())
    assert cards["chair-pix2vox"]["config"] == json.loads(json.dumps(pix2vox["config"]).replace(work, "WORK"))  # as trained, paths in WORK/
    # Pix2Vox learned from the views of the chair disentangler trained beside it (issue 18), cached in its run
    assert cards["chair-pix2vox"]["training"]["config"] == "configs/pix2vox-augment.yaml"
    assert cards["chair-pix2vox"]["training"]["overrides"][-1] == 'synth.run="WORK/runs/disentangler"'
    assert pix2vox["config"]["synth"]["run"] == f"{work}/runs/disentangler"
    assert (tiny_defaults[0] / "runs" / "pix2vox" / "synth_views.npz").is_file()
    split = TINY_DEFAULTS.chairs.recon_split  # the card's data recipe is the plan's, split included
    look = TINY_DEFAULTS.chairs.recon_look
    assert cards["chair-pix2vox"]["data"]["command"].endswith(f"--split {','.join(f'{v:g}' for v in split)} --look {look}")
    assert cards["chair-pix2vox"]["data"]["synth"]["config"]["split"] == list(split)
    metrics = cards["chair-pix2vox"]["metrics"]
    assert 0 < metrics["iou_floor"] <= 0.8 * metrics["heldout_iou@0.3_single"] + 1e-9
    assert metrics["check"]["mean_iou@0.3"] > metrics["iou_floor"]


def test_disentangler_and_bank_match_the_run(tiny_defaults, assets):
    from mvaug.disentangle.trained import TrainedDisentangler
    from mvaug.multiview.synthesizer import MultiViewSynthesizer

    run = tiny_defaults[0] / "runs" / "disentangler"
    original = MultiViewSynthesizer.from_run(run, None, "cpu")
    shipped = MultiViewSynthesizer.from_run("builtin:chair-disentangler", None, "cpu")
    assert isinstance(shipped.model, TrainedDisentangler) and shipped.model.style_embeddings is None
    assert shipped.bank.notes["built_from"] == "disentangler"  # the run's name, not a path of the training machine
    assert [v.name for v in shipped.bank.views] == [v.name for v in original.bank.views]
    assert torch.equal(shipped.bank.codes, original.bank.codes)
    images = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    _, want = original.generate_batch(images)
    _, got = shipped.generate_batch(images)
    assert got.shape == want.shape and (got - want).abs().max() < 5e-3
    for net in ("generator", "style_encoder", "content_encoder"):
        for (key, a), b in zip(getattr(original.model, net).state_dict().items(), getattr(shipped.model, net).state_dict().values()):
            assert torch.equal(b, a.half().to(a.dtype)) if a.is_floating_point() else torch.equal(a, b), key
    with pytest.raises(DataError, match="belongs to the run"):  # the original bank does not fit the fp16 generator
        MultiViewSynthesizer.from_run("builtin:chair-disentangler", run / "bank.npz", "cpu")


def test_pix2vox_matches_the_run(tiny_defaults, assets):
    from mvaug.recon.reconstruct import Reconstructor

    original = Reconstructor.from_checkpoint(tiny_defaults[0] / "runs" / "pix2vox", "cpu")
    shipped = Reconstructor.from_checkpoint("builtin:chair-pix2vox", "cpu")
    assert shipped.source == assets / "chair-pix2vox.safetensors"
    run = original.config.synth.run  # the training machine's folder of the view-generating run keeps only its name
    assert Path(run).is_absolute() and shipped.config == replace(original.config, synth=replace(original.config.synth, run=Path(run).name))
    assert str(tiny_defaults[0].resolve()).encode() not in shipped.source.read_bytes()
    views = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    assert (shipped.reconstruct(views) - original.reconstruct(views)).abs().max() < 5e-3


def test_face_models_match_the_runs(tiny_defaults, assets):
    from mvaug.recon.face_reconstruct import FaceReconstructor

    original = FaceReconstructor.from_checkpoint(tiny_defaults[0] / "runs" / "mvfnet", "cpu")
    shipped = FaceReconstructor.from_checkpoint("builtin:face-mvfnet", "cpu")
    assert torch.equal(shipped.morphable.triangles, original.morphable.triangles)
    views = torch.rand(1, 3, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    want, got = original.reconstruct_batch(views)[0], shipped.reconstruct_batch(views)[0]
    scale = abs(want.vertices).max()
    assert abs(got.vertices - want.vertices).max() < 2e-3 * scale
    assert shipped.side_views() == original.side_views()


def test_verify_names_damaged_and_missing_files(assets):
    assert verify("chair-pix2vox")["name"] == "chair-pix2vox"
    weights = assets / "chair-pix2vox.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(DataError, match="does not match its card") as err:
        verify("chair-pix2vox")
    assert err.value.path == str(weights)
    with pytest.raises(DataError, match="does not match"):  # every load verifies
        from mvaug.recon.reconstruct import Reconstructor

        Reconstructor.from_checkpoint("builtin:chair-pix2vox", "cpu")
    (assets / "chair-disentangler.bank.npz").unlink()
    with pytest.raises(DataError, match="bank file .* is missing.*train_defaults.py"):
        verify("chair-disentangler")
    with pytest.raises(DataError, match="no built-in model 'nope' \\(installed: .*face-mvfnet.*train_defaults.py"):
        verify("nope")


def test_wrong_kind_or_role_is_refused(assets):
    from mvaug.builtin.load import load_disentangler, load_face_reconstructor
    from mvaug.recon.reconstruct import Reconstructor

    with pytest.raises(DataError, match="is a chair reconstructor, not a face reconstructor"):
        load_face_reconstructor("chair-pix2vox")
    with pytest.raises(DataError, match="is a face reconstructor, not a disentangler"):
        load_disentangler("face-mvfnet")
    with pytest.raises(DataError, match="is a chair disentangler, not a chair reconstructor"):
        Reconstructor.from_checkpoint("builtin:chair-disentangler", "cpu")


def test_damaged_card_is_a_clear_error(assets):
    (assets / "face-mvfnet.json").write_text("{")
    with pytest.raises(DataError, match="unreadable model card"):
        read_card("face-mvfnet")
    (assets / "face-mvfnet.json").write_text(json.dumps({"name": "other", "files": {}}))
    with pytest.raises(DataError, match="not a model card of 'face-mvfnet'"):
        read_card("face-mvfnet")


def test_reports_record_a_builtin_model_by_name_and_weights_checksum(tiny_defaults, assets, tmp_path):
    from mvaug.io.assets import describe_ref

    weights = read_card("chair-pix2vox")["files"]["weights"]["sha256"]
    assert describe_ref("builtin:chair-pix2vox") == f"builtin:chair-pix2vox sha256:{weights[:12]}"
    assert describe_ref(tmp_path / "run") == str((tmp_path / "run").resolve()) and describe_ref(None) is None
    run = tmp_path / "trained"
    run.mkdir()
    (run / "best.pt").write_bytes(b"first weights")
    first = describe_ref(run)
    assert first == f"{run.resolve()} sha256:{hashlib.sha256(b'first weights').hexdigest()[:12]}"
    (run / "best.pt").write_bytes(b"trained again")  # the same folder with other weights is another model
    assert describe_ref(run) != first and describe_ref(run / "best.pt").split(" ")[1] == describe_ref(run).split(" ")[1]
    with pytest.raises(DataError, match="no built-in model 'nope'"):
        describe_ref("builtin:nope")


def test_one_model_retrained_alone_is_evaluated_with_the_shipped_partner(tiny_defaults, assets, tmp_path):
    from mvaug.builtin.defaults import train_defaults

    before = {c["name"]: c for c in list_builtin(assets)}
    face_files = {p.name: p.read_bytes() for p in assets.glob("face-*")}
    result = train_defaults(tmp_path / "work", assets, only="chair-disentangler", tiny=True, seed=1, workers=1, device="cpu", progress=False)
    assert set(result.cards) == {"chair-disentangler", "chair-pix2vox"}
    assert set(json.loads((tmp_path / "work/stages.json").read_text())) == {"chairs-data", "chairs-disentangler", "export-chair-disentangler", "chairs-eval"}
    after = {c["name"]: c for c in list_builtin(assets)}
    assert after["chair-disentangler"]["data"]["seed"] == 1 and after["chair-disentangler"]["files"] != before["chair-disentangler"]["files"]
    assert after["chair-pix2vox"]["files"] == before["chair-pix2vox"]["files"]  # the partner's weights are kept ...
    assert after["chair-pix2vox"]["training"] == before["chair-pix2vox"]["training"]  # ... with the record of its own training
    assert after["chair-pix2vox"]["metrics"]["heldout"]["seed"] == 2001 and after["chair-pix2vox"]["metrics"]["val_iou@0.3"] == before["chair-pix2vox"]["metrics"]["val_iou@0.3"]
    refine = TINY_DEFAULTS.chairs.refine_steps  # the held-out views generated as the chair commands generate them
    assert after["chair-disentangler"]["metrics"]["heldout"]["command"].endswith(f"--run builtin:chair-disentangler --views 1 --refine-steps {refine}")
    assert {p.name: p.read_bytes() for p in assets.glob("face-*")} == face_files
    with pytest.raises(ValueError, match="only must be chairs, faces or one of chair-disentangler"):
        train_defaults(tmp_path / "work", assets, only="chair", tiny=True)


def test_git_commit_is_dirty_for_code_changes_but_not_for_rewritten_models(tmp_path):
    import subprocess

    from mvaug.builtin.export import git_commit

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "mvaug/assets").mkdir(parents=True)
    (tmp_path / "mvaug/assets/model.json").write_text("{}")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("init", "-q")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "init", "--allow-empty")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "files")
    head = git_commit(tmp_path)
    assert head and len(head) == 40
    (tmp_path / "mvaug/assets/model.json").write_text('{"new": 1}')  # an export rewriting a shipped model
    assert git_commit(tmp_path) == head
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_commit(tmp_path) == head + "+dirty"
