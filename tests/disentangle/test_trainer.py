import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from click.testing import CliRunner

from mvaug.cli.main import cli
from mvaug.config import load_config, resolve_run_config
from mvaug.disentangle.config import ExperimentConfig
from mvaug.engine.loop import TrainRequest
from mvaug.disentangle.trainer import Trainer, load_run_checkpoint
from mvaug.disentangle.trained import TrainedDisentangler
from mvaug.engine.seeding import batch_indices
from mvaug.errors import ConfigError, DataError
from mvaug.io.images import write_png
from tests.disentangle.conftest import square_images, tiny_config

VARIANTS = {
    "multiple-l2": {},
    "multiple-instance": {"norm": "instance"},
    "multiple-none": {"norm": "none"},
    "single-l2": {"fusion": "single"},
    "concat": {"fusion": "concat"},
    "no-reparam": {"noise_std": 0.0},
    "amortised": {"latent_optimization": False},
    "narrow-encoders": {"encoder_width": 8},
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_configuration_trains_two_steps(variant, squares, tmp_path):
    config = tiny_config(**VARIANTS[variant])
    config.train.steps, config.train.encoder_steps = 2, 2
    trainer = Trainer(config, squares, tmp_path / variant, torch.device("cpu"), progress=False)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.start(resume=False)
    record = trainer.train()
    trainer.fit_encoders()
    assert record["step"] == 2 and record["total"] > 0
    changed = [k for k, v in trainer.model.state_dict().items() if not torch.equal(v, before[k])]
    assert any(k.startswith("generator.") for k in changed)
    payload = load_run_checkpoint(tmp_path / variant / "model.pt")
    assert payload["generator"] and payload["style_encoder"] and payload["content_encoder"]
    assert (tmp_path / variant / "samples/step-000000002-analogy.png").is_file()
    trained = TrainedDisentangler.from_run(tmp_path / variant)  # the encoders are rebuilt at the run's width
    style, content = trained.encode(squares.images[:2].float() / 255)
    assert style.shape == (2, config.model.style_dim) and content.shape == (2, config.model.content_dim)


def test_batches_cover_each_epoch_once_and_repeat_with_the_seed():
    seen = torch.cat([batch_indices(s, 20, 5, seed=3) for s in range(4)])
    assert sorted(seen.tolist()) == list(range(20))
    assert torch.equal(batch_indices(5, 20, 5, 3), batch_indices(5, 20, 5, 3))
    assert not torch.equal(batch_indices(4, 20, 5, 3), batch_indices(0, 20, 5, 3))  # epoch 1 reshuffles


def test_resume_continues_exactly(squares, tmp_path):
    straight = Trainer(tiny_config(), squares, tmp_path / "a", torch.device("cpu"), progress=False)
    straight.start(resume=False)
    straight.train()
    first = Trainer(tiny_config(), squares, tmp_path / "b", torch.device("cpu"), progress=False)
    first.start(resume=False)
    first.train(max_steps=3)  # checkpoint at step 3, then the process "ends"
    resumed = Trainer(tiny_config(), squares, tmp_path / "b", torch.device("cpu"), progress=False)
    resumed.start(resume=True)
    assert resumed.step == 3
    resumed.train()
    for key, value in straight.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value, rtol=0, atol=0, msg=key)
    with pytest.raises(DataError, match="already holds a run"):
        Trainer(tiny_config(), squares, tmp_path / "b", torch.device("cpu"), progress=False).start(resume=False)


def _image_folder(tmp_path):
    folder = tmp_path / "images"
    for name, image in zip(square_images().names, square_images().images):
        write_png(folder / f"{name}.png", image.permute(1, 2, 0).numpy())
    return folder


def _config_file(tmp_path, steps: int):
    import yaml

    from mvaug.config import config_to_dict

    config = tiny_config()
    config.train.steps, config.train.checkpoint_every, config.train.encoder_steps = steps, 2, 2
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config_to_dict(config)))
    return path


def test_killed_run_resumes_to_the_same_weights(tmp_path):
    """A real process is killed (SIGKILL) mid-way; --resume finishes with the weights of an uninterrupted run
    (trained in this process, on one thread as the others)."""
    from mvaug.disentangle.run import run_training

    data, config = _image_folder(tmp_path), _config_file(tmp_path, steps=16)
    base = [sys.executable, "-m", "mvaug.cli.main", "train", "--config", str(config), "--data", str(data), "--device", "cpu", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run_training(TrainRequest(data, tmp_path / "straight", config, device="cpu", progress=False))
    proc = subprocess.Popen([*base, "--out", str(tmp_path / "killed")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt_dir = tmp_path / "killed/checkpoints"
    deadline = time.time() + 60
    while time.time() < deadline and not (ckpt_dir / "step-000000006.pt").exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "killed/model.pt").exists(), "the run finished before it could be killed"
    subprocess.run([*base, "--out", str(tmp_path / "killed"), "--resume"], check=True, env=env, capture_output=True)
    a, b = load_run_checkpoint(tmp_path / "straight/model.pt"), load_run_checkpoint(tmp_path / "killed/model.pt")
    for key in a["generator"]:
        torch.testing.assert_close(b["generator"][key], a["generator"][key], rtol=0, atol=0)
    torch.testing.assert_close(b["content_embeddings"], a["content_embeddings"], rtol=0, atol=0)
    steps = [json.loads(line)["step"] for line in (tmp_path / "killed/log.jsonl").read_text().splitlines() if "stage" not in line]
    assert steps[-1] == 16


def test_cli_errors_are_one_line(tmp_path):
    data, config = _image_folder(tmp_path), _config_file(tmp_path, steps=2)
    runner = CliRunner()
    args = ["train", "--config", str(config), "--data", str(data), "--device", "cpu", "--quiet"]
    bad_key = runner.invoke(cli, [*args, "--out", str(tmp_path / "r"), "--set", "train.stpes=3"])
    assert bad_key.exit_code == 2 and "unknown key 'train.stpes'; did you mean 'steps'" in bad_key.output
    missing = runner.invoke(cli, [*args[:4], str(tmp_path / "nowhere"), *args[5:], "--out", str(tmp_path / "r")])
    assert missing.exit_code == 2 and "nowhere" in missing.output and "Traceback" not in missing.output
    ok = runner.invoke(cli, [*args, "--out", str(tmp_path / "r"), "--set", "train.steps=2"])
    assert ok.exit_code == 0, ok.output
    again = runner.invoke(cli, [*args, "--out", str(tmp_path / "r")])
    assert again.exit_code == 2 and "--resume" in again.output


def test_sample_grids_show_images_from_across_the_data_set():
    from mvaug.disentangle.trainer import sample_indices

    assert sample_indices(992).tolist() == [0, 142, 283, 425, 566, 708, 849, 991]
    assert sample_indices(3).tolist() == [0, 1, 2]


def test_stage_two_alone_on_a_finished_stage_one(tmp_path):
    from mvaug.disentangle.run import run_training
    from mvaug.errors import ConfigError

    data, config = _image_folder(tmp_path), _config_file(tmp_path, steps=2)
    with pytest.raises(ConfigError, match="needs a finished stage 1"):
        run_training(TrainRequest(data, tmp_path / "empty", config, device="cpu", progress=False), stage="encoders")
    run_training(TrainRequest(data, tmp_path / "r", config, device="cpu", progress=False), stage="generator")
    assert not (tmp_path / "r/model.pt").exists()
    run_training(TrainRequest(data, tmp_path / "r", config, device="cpu", progress=False), stage="encoders")
    payload = load_run_checkpoint(tmp_path / "r/model.pt")
    assert payload["step"] == 2 and payload["style_embeddings"].shape == (24, 16)


def test_run_files_written_before_weights_only_loading_resume_and_generate(squares, tmp_path):
    """Checkpoints as the code wrote them before loading became weights-only (plain ``torch.save`` of
    the same payload: config as a dict, RNG state a tensor) resume bit-identically and load for generation."""
    from mvaug.config import config_to_dict
    from mvaug.disentangle.generator import style_and_content_encoders

    straight = Trainer(tiny_config(), squares, tmp_path / "a", torch.device("cpu"), progress=False)
    straight.start(resume=False)
    straight.train()
    first = Trainer(tiny_config(), squares, tmp_path / "b", torch.device("cpu"), progress=False)
    first.start(resume=False)
    first.train(max_steps=3)
    step = tmp_path / "b/checkpoints/step-000000003.pt"
    rng = load_run_checkpoint(step)["rng"]["torch"]
    old = {"format": "mvaug-disentangle-v1", "stage": 1, "step": 3, "config": config_to_dict(first.config), "num_images": len(squares),
           "model": first.model.state_dict(), "optimizer": first.optimizer.state_dict(), "rng": {"torch": rng, "cuda": []}}
    torch.save(old, step)
    resumed = Trainer(tiny_config(), squares, tmp_path / "b", torch.device("cpu"), progress=False)
    resumed.start(resume=True)
    resumed.train()
    for key, value in straight.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value, rtol=0, atol=0, msg=key)
    model = resumed.model
    style_encoder, content_encoder = style_and_content_encoders(resumed.config.model)
    torch.save({"format": "mvaug-disentangle-v1", "stage": "final", "step": 6, "config": config_to_dict(resumed.config), "num_images": len(squares),
                "generator": model.generator.state_dict(), "style_encoder": style_encoder.state_dict(),
                "content_encoder": content_encoder.state_dict(), "recon_loss": "l1",
                "style_embeddings": model.style.weight.detach(), "content_embeddings": model.content.weight.detach()}, tmp_path / "b/model.pt")
    trained = TrainedDisentangler.from_run(tmp_path / "b")
    images = trained.generate(trained.style_embeddings[:2], trained.content_embeddings[:2])
    assert images.shape == (2, 3, 32, 32)


def test_epochs_set_the_schedule_by_the_size_of_the_data(squares, tmp_path):
    """24 images in batches of 8 are 3 steps an epoch: 2.5 epochs -> 8 steps (7.5 rounded up), 1 encoder epoch -> 3."""
    config = tiny_config()
    config.train.epochs, config.train.encoder_epochs, config.train.log_every = 2.5, 1.0, 1
    trainer = Trainer(config, squares, tmp_path / "run", torch.device("cpu"), progress=False)
    assert (trainer.config.train.steps, trainer.config.train.encoder_steps) == (8, 3)
    trainer.start(resume=False)
    record = trainer.train()
    trainer.fit_encoders()
    assert record["step"] == 8 and record["epoch"] == pytest.approx(8 * 8 / 24, abs=1e-4)
    saved = load_config(ExperimentConfig, tmp_path / "run/config.yaml").train
    assert (saved.steps, saved.encoder_steps, saved.epochs, saved.encoder_epochs) == (8, 3, None, None)  # resumes read steps
    log = [json.loads(line) for line in (tmp_path / "run/log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log if r.get("stage") == 2] == pytest.approx([1 / 3, 2 / 3, 1.0], abs=1e-4)
    double = tiny_config()
    double.train.epochs = 2.5
    assert Trainer(config=double, images=square_images(identities=8), run_dir=tmp_path / "b", device=torch.device("cpu"), progress=False).config.train.steps == 15


def test_epochs_must_be_positive_and_not_given_with_steps():
    with pytest.raises(ConfigError, match="train: epochs must be positive, got 0"):
        load_config(ExperimentConfig, {"train": {"epochs": 0}})
    with pytest.raises(ConfigError, match=r"'train.encoder_steps' and 'train.encoder_epochs' both given; set one \(the other to null\)"):
        load_config(ExperimentConfig, {"train": {"encoder_steps": 5, "encoder_epochs": 1.5}})
    assert load_config(ExperimentConfig, {"train": {"steps": 5, "epochs": None}}).train.steps == 5  # a resolved config.yaml


def test_an_override_replaces_the_other_key_of_its_pair_in_the_file(tmp_path):
    """A run's config.yaml stores steps; --set train.epochs=N on resume replaces them (and the reverse), both at once still clash."""
    (tmp_path / "config.yaml").write_text("train:\n  steps: 7936\n  epochs: null\n  encoder_steps: 992\n")
    config = resolve_run_config(ExperimentConfig, None, ["train.epochs=48"], tmp_path, resume=True).train
    assert (config.epochs, config.encoder_steps, config.in_steps(320).steps) == (48, 992, math.ceil(48 * 320 / config.batch_size))
    (tmp_path / "config.yaml").write_text("train:\n  epochs: 4\n")
    assert resolve_run_config(ExperimentConfig, None, ["train.steps=11"], tmp_path, resume=True).train.steps == 11
    with pytest.raises(ConfigError, match="'train.steps' and 'train.epochs' both given"):
        resolve_run_config(ExperimentConfig, None, ["train.steps=11", "train.epochs=2"], tmp_path, resume=True)


def test_a_longer_stage_one_fits_new_encoders(squares, tmp_path):
    """Stage 2 regresses the embeddings of one stage-1 step: after stage 1 resumes for more steps, the encoders of the
    shorter run (their checkpoints on disk, finished) must not be taken for the new embeddings' encoders."""
    short = Trainer(tiny_config(), squares, tmp_path / "run", torch.device("cpu"), progress=False)
    short.start(resume=False)
    short.train()
    short.fit_encoders()
    first = load_run_checkpoint(tmp_path / "run/model.pt")
    longer = tiny_config()
    longer.train.steps = 9
    resumed = Trainer(longer, squares, tmp_path / "run", torch.device("cpu"), progress=False)
    resumed.start(resume=True)
    resumed.train()
    resumed.fit_encoders()
    second = load_run_checkpoint(tmp_path / "run/model.pt")
    assert (first["step"], second["step"]) == (6, 9)
    assert all(not torch.equal(second["style_encoder"][k], v) for k, v in first["style_encoder"].items() if v.is_floating_point() and v.numel() > 1)
    names = sorted(p.name for p in (tmp_path / "run/checkpoints").glob("encoders-*.pt"))
    assert "encoders-after-000000006-step-000000004.pt" in names and "encoders-after-000000009-step-000000004.pt" in names
    stage2 = [json.loads(line) for line in (tmp_path / "run/log.jsonl").read_text().splitlines() if '"stage": 2' in line]
    assert [r["step"] for r in stage2] == [2, 4, 2, 4]  # stage 2 ran twice
