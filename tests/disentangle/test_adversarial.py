import json
import logging

import pytest
import torch
import torch.nn.functional as F

from mvaug.config import load_config
from mvaug.disentangle.adversarial import Adversary, PatchDiscriminator, discriminator_loss, generator_adversarial_loss
from mvaug.disentangle.config import AdversarialConfig, ExperimentConfig
from mvaug.disentangle.trainer import Trainer, load_run_checkpoint
from mvaug.errors import ConfigError
from tests.disentangle.conftest import tiny_config


def adversarial_config(weight: float = 0.5, start_step: int = 2) -> ExperimentConfig:
    config = tiny_config()
    config.loss.adversarial = AdversarialConfig(weight=weight, start_step=start_step, channels=(8, 16))
    return config


def test_discriminator_gives_one_logit_per_patch_and_the_losses_match_their_formulas():
    network = PatchDiscriminator((8, 16, 32))
    assert network(torch.rand(2, 3, 64, 64)).shape == (2, 1, 8, 8)
    logits_real, logits_fake = torch.randn(4, 1, 8, 8), torch.randn(4, 1, 8, 8)
    by_hand = lambda t: torch.log1p(torch.exp(t)).mean()  # softplus
    assert float(generator_adversarial_loss(logits_fake)) == pytest.approx(float(by_hand(-logits_fake)), rel=1e-5)
    assert float(discriminator_loss(logits_real, logits_fake)) == pytest.approx(float(by_hand(-logits_real) + by_hand(logits_fake)), rel=1e-5)


def test_the_discriminator_learns_to_tell_images_from_blurred_ones_and_keeps_the_global_rng(squares):
    torch.manual_seed(5)
    expected_next = torch.rand(3)
    torch.manual_seed(5)
    adversary = Adversary(AdversarialConfig(weight=1.0, channels=(8, 16), lr=2e-3), (0.5, 0.999), torch.device("cpu"), "fp32", seed=0)
    assert torch.equal(torch.rand(3), expected_next)  # D is drawn from its own seed
    real = squares.images.float() / 255
    blurred = F.avg_pool2d(real, 5, stride=1, padding=2)
    first = float(adversary.step(real, blurred))
    for _ in range(60):
        last = float(adversary.step(real, blurred))
    assert last < first - 0.4
    with torch.no_grad():
        assert float(adversary.network.eval()(real).mean() - adversary.network(blurred).mean()) > 1.0
    adversary.optimizer.zero_grad(set_to_none=True)
    fake = blurred.clone().requires_grad_(True)
    adversary.generator_loss(fake).backward()
    assert fake.grad.abs().sum() > 0 and all(p.grad is None for p in adversary.network.parameters())  # D is frozen there


def test_the_term_starts_at_its_step_trains_d_and_resumes_exactly(squares, tmp_path):
    plain = Trainer(tiny_config(), squares, tmp_path / "plain", torch.device("cpu"), progress=False)
    plain.start(resume=False)
    plain.train()
    straight = Trainer(adversarial_config(), squares, tmp_path / "a", torch.device("cpu"), progress=False)
    initial_d = {k: v.clone() for k, v in straight.stage1.adversary.network.state_dict().items()}
    straight.start(resume=False)
    straight.train()
    log = [json.loads(line) for line in (tmp_path / "a/log.jsonl").read_text().splitlines()]
    assert "adv" not in log[0] and {"adv", "adv_d"} <= log[1].keys()  # records at steps 2 (steps 0-1 before the start) and 4
    w = straight.config.loss
    assert log[1]["total"] == pytest.approx(w.w_perceptual * log[1]["perceptual"] + w.w_ib * log[1]["ib"] + 0.5 * log[1]["adv"], rel=1e-4)
    assert any(not torch.equal(v, initial_d[k]) for k, v in straight.stage1.adversary.network.state_dict().items())
    generator = lambda t: t.model.generator.state_dict()
    assert any(not torch.equal(v, generator(plain)[k]) for k, v in generator(straight).items())
    first = Trainer(adversarial_config(), squares, tmp_path / "b", torch.device("cpu"), progress=False)
    first.start(resume=False)
    first.train(max_steps=3)
    assert "adversary" in load_run_checkpoint(tmp_path / "b/checkpoints/step-000000003.pt", stage=1)
    resumed = Trainer(adversarial_config(), squares, tmp_path / "b", torch.device("cpu"), progress=False)
    resumed.start(resume=True)
    resumed.train()
    for name, a, b in (("model", straight.model, resumed.model), ("D", straight.stage1.adversary.network, resumed.stage1.adversary.network)):
        for key, value in a.state_dict().items():
            torch.testing.assert_close(b.state_dict()[key], value, rtol=0, atol=0, msg=f"{name}: {key}")


def test_a_run_without_the_term_continues_with_a_new_discriminator(squares, tmp_path, caplog):
    first = Trainer(tiny_config(), squares, tmp_path / "run", torch.device("cpu"), progress=False)
    first.start(resume=False)
    first.train(max_steps=3)
    later = Trainer(adversarial_config(start_step=0), squares, tmp_path / "run", torch.device("cpu"), progress=False)
    with caplog.at_level(logging.WARNING):
        later.start(resume=True)
    assert later.step == 3 and "holds no discriminator; a new one starts" in caplog.text
    record = later.train()
    assert record["step"] == 6 and "adv_d" in record


def test_bad_adversarial_settings_name_their_key():
    with pytest.raises(ConfigError, match="loss.adversarial: weight and start_step must be non-negative"):
        load_config(ExperimentConfig, {"loss": {"adversarial": {"weight": -0.1}}})
    with pytest.raises(ConfigError, match="loss.adversarial: channels must be one or more positive widths"):
        load_config(ExperimentConfig, {"loss": {"adversarial": {"channels": []}}})
    with pytest.raises(ConfigError, match="unknown key 'loss.adversarial.wieght'"):
        load_config(ExperimentConfig, {"loss": {"adversarial": {"wieght": 0.1}}})
    assert load_config(ExperimentConfig, {"loss": {"adversarial": {"weight": 0.01}}}).loss.adversarial.lr == 2e-4
