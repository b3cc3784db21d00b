import json

import pytest
import torch
import torch.nn.functional as F

from mvaug.errors import DataError
from mvaug.recon.checkpoint import CHECKPOINT_FORMAT, load_reconstructor
from mvaug.recon.config import SynthViewsConfig
from mvaug.recon.data import ShapeNetViews
from mvaug.recon.trainer import ReconTrainer
from mvaug.recon.synth_views import CACHE_NAME
from mvaug.recon.view_sets import iou_by_view_count

from tests.recon.conftest import tiny_config


def make_trainer(chairs, run, **train) -> ReconTrainer:
    config = tiny_config(**train)
    return ReconTrainer(config, ShapeNetViews(chairs, "train", config), ShapeNetViews(chairs, "val", config), run, torch.device("cpu"), progress=False)


def test_two_steps_train_log_validate_and_write_the_run_folder(chairs, tmp_path):
    trainer = make_trainer(chairs, tmp_path / "run")
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.start(resume=False)
    trainer.train(max_steps=2)
    assert trainer.step == 2 == trainer.steps_per_epoch  # 4 training chairs, batches of 2
    changed = [k for k, v in trainer.model.state_dict().items() if not torch.equal(v, before[k])]
    assert any(k.startswith("decoder.") for k in changed) and any(k.startswith("encoder.layer1") for k in changed)
    assert not any(k.startswith("encoder.vgg.") and k.endswith("weight") for k in changed)  # frozen VGG
    records = [json.loads(line) for line in (tmp_path / "run/log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "merged" in r] == [1, 2]
    assert all(r["merged"] > 0 and r["images_per_s"] > 0 for r in records if "merged" in r)
    validation = [r for r in records if "val_iou@0.3" in r]
    assert len(validation) == 1 and 0 <= validation[0]["val_iou@0.3"] <= 1 and validation[0]["val_views"] == 2
    assert (tmp_path / "run/config.yaml").is_file() and (tmp_path / "run/checkpoints/step-000000002.pt").is_file()
    best = load_reconstructor(tmp_path / "run")
    assert best.path.name == "best.pt" and best.kind == "chair" and not best.official
    for key, value in best.model.state_dict().items():
        torch.testing.assert_close(value, trainer.model.state_dict()[key], msg=key)
    assert torch.load(best.path, weights_only=True)["format"] == CHECKPOINT_FORMAT


def test_a_resumed_run_equals_an_uninterrupted_one(chairs, tmp_path):
    straight = make_trainer(chairs, tmp_path / "straight", checkpoint_every=100)
    straight.start(resume=False)
    straight.train(max_steps=3)
    first = make_trainer(chairs, tmp_path / "resumed", checkpoint_every=100)
    first.start(resume=False)
    first.train(max_steps=2)
    second = make_trainer(chairs, tmp_path / "resumed", checkpoint_every=100)
    second.start(resume=True)
    assert second.step == 2 and second.scheduler.last_epoch == 1
    second.train(max_steps=1)
    for key, value in straight.model.state_dict().items():
        torch.testing.assert_close(second.model.state_dict()[key], value, rtol=0, atol=0, msg=key)
    assert second.optimizer.param_groups[0]["lr"] == straight.optimizer.param_groups[0]["lr"] == 5e-4  # milestone 1 passed


def test_the_second_stage_trains_the_merger_with_encoder_and_decoder_frozen(chairs, tmp_path):
    trainer = make_trainer(chairs, tmp_path / "run", two_stage=True, stage1_epochs=1, epochs=2, batch_size=4)
    trainer.start(resume=False)
    trainer.train(max_steps=1)  # stage 1: single views, no merger
    merger = {k: v.clone() for k, v in trainer.model.merger.state_dict().items()}
    frozen = {k: v.clone() for k, v in trainer.model.state_dict().items() if k.startswith(("encoder.", "decoder."))}
    assert all(torch.equal(v, trainer.model.merger.state_dict()[k]) for k, v in merger.items())
    trainer.train(max_steps=1)  # stage 2
    assert trainer.stage(1) == 2
    for key, value in frozen.items():  # weights and BatchNorm statistics alike
        assert torch.equal(trainer.model.state_dict()[key], value), key
    assert any(not torch.equal(v, trainer.model.merger.state_dict()[k]) for k, v in merger.items())
    assert torch.load(tmp_path / "run/best.pt", weights_only=True)["epoch"] == 2  # the best network is one with a trained merger


def test_without_stage2_freeze_encoder_and_decoder_train_on_with_the_merger(chairs, tmp_path):
    trainer = make_trainer(chairs, tmp_path / "run", two_stage=True, stage1_epochs=1, epochs=2, batch_size=4, stage2_freeze=False)
    trainer.start(resume=False)
    trainer.train(max_steps=1)  # stage 1
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.train(max_steps=1)  # stage 2
    changed = {k for k, v in trainer.model.state_dict().items() if not torch.equal(v, before[k])}
    for prefix in ("encoder.layer1", "decoder.", "merger."):
        assert any(k.startswith(prefix) for k in changed), prefix
    assert "decoder.layer1.1.running_mean" in changed  # BatchNorm in training mode: its statistics move too
    assert not any(k.startswith("encoder.vgg.") and k.endswith("weight") for k in changed)  # VGG stays frozen


def test_validation_over_view_sets_averages_every_count_that_divides_val_views(chairs, tmp_path):
    trainer = make_trainer(chairs, tmp_path / "run", two_stage=True, stage1_epochs=1, epochs=2, batch_size=4)
    trainer.config.data.val_view_sets = True
    trainer.start(resume=False)
    trainer.train(max_steps=2)  # one epoch in each stage
    records = [json.loads(line) for line in (tmp_path / "run/log.jsonl").read_text().splitlines()]
    first, second = [r for r in records if "val_views" in r]
    assert first["val_views"] == 1 and second["val_views"] == [1, 2]  # single views in stage 1
    per_count = iou_by_view_count(trainer.model, trainer.val_data, [1, 2], trainer.config.train.seed, trainer.config.augment.val_background, torch.device("cpu"))
    expected = (per_count[1].mean(axis=0) + per_count[2].mean(axis=0)) / 2
    assert [second[f"val_iou@{t}"] for t in (0.2, 0.3, 0.4, 0.5)] == pytest.approx(expected.tolist(), abs=1e-6)


def test_with_generated_views_the_run_caches_them_logs_the_extra_views_and_a_resume_keeps_them(chairs, tiny_run, tmp_path):
    trainer = make_trainer(chairs, tmp_path / "run", checkpoint_every=100)
    trainer.config.synth = SynthViewsConfig(run=str(tiny_run), inputs_per_model=1, views=2, mix=(0.0, 1.0, 0.0))
    trainer.config.data.random_view_count = False
    trainer.start(resume=False)
    trainer.train(max_steps=2)
    assert trainer.train_batches.synth.views.shape == (4, 1, 2, 3, 32, 32) and (tmp_path / "run" / CACHE_NAME).is_file()
    records = [json.loads(line) for line in (tmp_path / "run/log.jsonl").read_text().splitlines()]
    assert [(r["extra"], r["views"]) for r in records if "merged" in r] == [("generated", 3)] * 2
    assert load_reconstructor(tmp_path / "run").config.synth.run == str(tiny_run)
    cache, stamp = tmp_path / "run" / CACHE_NAME, (tmp_path / "run" / CACHE_NAME).stat().st_mtime_ns
    resumed = make_trainer(chairs, tmp_path / "run")
    resumed.config.synth = SynthViewsConfig(run=str(tiny_run), inputs_per_model=1, views=2, mix=(0.5, 0.5, 0.0))  # another mix: same views
    resumed.config.data.random_view_count = False
    resumed.start(resume=True)
    resumed.train(max_steps=3)
    assert cache.stat().st_mtime_ns == stamp and torch.equal(resumed.train_batches.synth.views, trainer.train_batches.synth.views)
    other = make_trainer(chairs, tmp_path / "run")
    other.config.synth = SynthViewsConfig(run=str(tiny_run), inputs_per_model=1, views=3, mix=(0.5, 0.5, 0.0))
    with pytest.raises(DataError, match=f"{CACHE_NAME}: the cached generated views were made for other settings \\(.*synth.views: 2 in the file, 3 now"):
        other.start(resume=True)


def test_the_input_view_loss_adds_the_bce_of_the_first_views_own_volume_in_batches_of_several_views(chairs, tmp_path):
    trainer = make_trainer(chairs, tmp_path / "run", two_stage=True, stage1_epochs=1, epochs=2, batch_size=4, stage2_freeze=False, precision="fp32")
    trainer.config.optim.input_view_loss = 0.5
    trainer.config.data.random_view_count = False
    trainer.start(resume=False)
    trainer.before_step(0)
    assert set(trainer.losses(trainer.train_batches[0])) == {"merged"}  # stage 1: single views
    step = trainer.steps_per_epoch  # the second stage's first step
    batch = trainer.train_batches[step]
    assert batch["images"].shape[1] == 3
    trainer.before_step(step)
    losses = trainer.losses(batch)
    out = trainer.model(batch["images"], use_merger=True)  # a naive reference: the same forward pass, by hand
    assert losses["merged"].item() == pytest.approx(10 * F.binary_cross_entropy(out["merged"], batch["voxels"]).item(), rel=1e-5)
    assert losses["input_view"].item() == pytest.approx(5 * F.binary_cross_entropy(out["coarse"][:, 0], batch["voxels"]).item(), rel=1e-5)
    assert losses["input_view"].item() != pytest.approx(5 * F.binary_cross_entropy(out["coarse"][:, 1], batch["voxels"]).item(), rel=1e-5)
    trainer.config.optim.input_view_loss = 0.0
    assert set(trainer.losses(batch)) == {"merged"}


def test_with_average_epochs_best_pt_is_the_mean_of_the_last_epochs_networks(chairs, tmp_path):
    trainer = make_trainer(chairs, tmp_path / "run", two_stage=True, stage1_epochs=1, epochs=3, batch_size=4, stage2_freeze=False, average_epochs=2)
    assert trainer.steps_per_epoch == 1
    trainer.fit(resume=False)
    steps = [torch.load(tmp_path / f"run/checkpoints/step-00000000{s}.pt", weights_only=True) for s in (2, 3)]
    best = torch.load(tmp_path / "run/best.pt", weights_only=True)
    for part in ("encoder_state_dict", "decoder_state_dict", "merger_state_dict"):
        for key, value in best[part].items():
            if value.is_floating_point():  # weights and BatchNorm statistics, by hand
                assert torch.allclose(value, (steps[0][part][key] + steps[1][part][key]) / 2, atol=1e-6), key
    moved = [k for k, v in steps[1]["merger_state_dict"].items() if v.is_floating_point() and not torch.equal(v, steps[0]["merger_state_dict"][k])]
    assert moved  # the two networks differ, so the mean is neither
    assert best["val"]["averaged"] == 2 and best["best_step"] == 3
    assert load_reconstructor(tmp_path / "run").model.merger.state_dict()[moved[0]].equal(best["merger_state_dict"][moved[0]])
