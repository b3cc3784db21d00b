import pytest
import torch

from mvaug.config import load_config
from mvaug.disentangle.config import CapacityConfig, ExperimentConfig, ModelConfig
from mvaug.disentangle.data import ImageSet
from mvaug.disentangle.generator import Encoder, Generator, style_and_content_encoders
from mvaug.disentangle.model import DisentangleModel, information_bottleneck
from mvaug.disentangle.recon import l1_loss
from mvaug.disentangle.trainer import Trainer, load_run_checkpoint
from mvaug.errors import ConfigError
from tests.disentangle.conftest import square_images, tiny_config


@pytest.mark.parametrize("fusion", ["multiple", "single", "concat"])
@pytest.mark.parametrize("norm", ["l2", "instance", "none"])
def test_generator_shapes_and_range(fusion, norm):
    config = ModelConfig(fusion=fusion, norm=norm)
    out = Generator(config)(torch.randn(3, 256), torch.randn(3, 128))
    assert out.shape == (3, 3, 64, 64) and out.min() >= 0 and out.max() <= 1


def test_generator_128_and_encoders():
    config = ModelConfig(image_size=128, channels=(64, 64, 32, 32, 16, 16))
    assert Generator(config)(torch.randn(2, 256), torch.randn(2, 128)).shape == (2, 3, 128, 128)
    assert Encoder(128, 128)(torch.rand(2, 3, 128, 128)).shape == (2, 128)
    with pytest.raises(ValueError, match="channels needs 6 widths"):
        ModelConfig(image_size=128)


@pytest.mark.parametrize("width", [16, 64])
def test_encoder_width_sets_the_encoders_size(width):
    """Four 4x4 stride-2 convolutions (w, 2w, 4w, 4w channels) to 4x4 at 64 px, then Linear(16 * 4w, 256), Linear(256, d)."""
    style, content = style_and_content_encoders(ModelConfig(encoder_width=width))
    convs = sum(16 * cin * cout + cout for cin, cout in ((3, width), (width, 2 * width), (2 * width, 4 * width), (4 * width, 4 * width)))
    for encoder, dim in ((style, 256), (content, 128)):
        expected = convs + (16 * 4 * width * 256 + 256) + (256 * dim + dim)
        assert sum(p.numel() for p in encoder.parameters()) == expected
        assert encoder(torch.rand(2, 3, 64, 64)).shape == (2, dim)
    with pytest.raises(ValueError, match="encoder_width must be positive"):
        ModelConfig(encoder_width=0)


def test_style_modulates_every_layer_only_with_multiple_fusion():
    """In 'multiple' the per-layer blocks see the style; 'single' fuses once, so its layer convs have no style input."""
    multiple = Generator(ModelConfig(fusion="multiple"))
    single = Generator(ModelConfig(fusion="single"))
    assert len(multiple.layer_fusions) == len(multiple.stages) + 2
    assert not hasattr(single, "layer_fusions")


def test_information_bottleneck_hand_computed():
    cfg = ExperimentConfig().loss
    cfg.content_capacity = CapacityConfig(gamma=2.0, start=1.0, end=3.0, steps=10)
    cfg.style_capacity = CapacityConfig(gamma=0.5, start=0.0, end=0.0, steps=1)
    style = torch.tensor([[1.0, 1.0], [2.0, 0.0]])  # ||s||^2 = 2, 4 -> mean 3
    content = torch.tensor([[3.0, 0.0]])  # ||c||^2 = 9
    # step 5: C_c = 2; 2 * |9 - 2| + 0.5 * |3 - 0| = 15.5
    assert float(information_bottleneck(style, content, cfg, 5)) == pytest.approx(15.5)
    assert cfg.content_capacity.capacity(100) == 3.0


def test_loss_terms_follow_the_switches(squares):
    config = tiny_config()
    model = DisentangleModel(config, len(squares))
    index = torch.arange(4)
    losses, recon = model.loss_dict(index, squares.float_images(index), 0, l1_loss)
    assert set(losses) == {"perceptual", "ib", "total"} and recon.shape == (4, 3, 32, 32)
    value = {k: float(v.detach()) for k, v in losses.items()}
    assert value["total"] == pytest.approx(5 * value["perceptual"] + value["ib"], rel=1e-5)
    config.loss.w_ib = 0.0
    config.loss.w_id = 1.0
    feats = lambda x: [x, x.mean(1, keepdim=True)]  # noqa: E731 - a stand-in Phi
    losses, _ = DisentangleModel(config, len(squares)).loss_dict(index, squares.float_images(index), 0, l1_loss, feats)
    assert set(losses) == {"perceptual", "id", "total"} and float(losses["id"].detach()) > 0


def test_reparametric_noise_warmup_and_eval_mode():
    config = tiny_config(noise_std=1.0, noise_warmup_steps=10)
    model = DisentangleModel(config, 4)
    code = torch.zeros(1000, 8)
    assert model.noise_std(5) == pytest.approx(0.5)
    assert float(model.reparametrize(code, 5).std()) == pytest.approx(0.5, rel=0.05)
    model.eval()
    assert torch.equal(model.reparametrize(code, 5), code)
    assert DisentangleModel(tiny_config(noise_std=0.0), 4).noise_std(100) == 0.0


def test_param_groups_split_networks_and_embeddings():
    model = DisentangleModel(tiny_config(), 10)
    groups = model.param_groups()
    assert [p.shape for p in groups["embeddings"]] == [(10, 16), (10, 8)]
    assert sum(p.numel() for p in groups["networks"]) == sum(p.numel() for p in model.generator.parameters())
    amortised = DisentangleModel(tiny_config(latent_optimization=False), 10)
    assert amortised.param_groups()["embeddings"] == []
    codes = amortised.codes(torch.arange(2), torch.rand(2, 3, 32, 32))
    assert codes[0].shape == (2, 16) and codes[1].shape == (2, 8)


def test_unknown_key_in_experiment_config_is_named():
    with pytest.raises(ConfigError, match=r"unknown key 'model.fuson'; did you mean 'fusion'"):
        load_config(ExperimentConfig, {"model": {"fuson": "single"}})


def test_style_delay_hides_the_style_from_the_generator(squares):
    """With style_delay_steps, early steps give the style embeddings no gradient: only content learns."""
    model = DisentangleModel(tiny_config(style_delay_steps=5, noise_std=0.0), len(squares))
    index = torch.arange(4)
    losses, _ = model.loss_dict(index, squares.float_images(index), 2, l1_loss)
    losses["total"].backward()
    assert model.style.weight.grad is None or float(model.style.weight.grad.abs().sum()) == 0.0
    assert float(model.content.weight.grad.abs().sum()) > 0.0
    model.zero_grad()
    losses, _ = model.loss_dict(index, squares.float_images(index), 5, l1_loss)
    losses["perceptual"].backward()
    assert float(model.style.weight.grad.abs().sum()) > 0.0


def test_style_noise_can_differ_from_content_noise():
    model = DisentangleModel(tiny_config(noise_std=0.5, style_noise_std=2.0), 4)
    assert (model.noise_std(0), model.noise_std(0, style=True)) == (0.5, 2.0)
    assert DisentangleModel(tiny_config(noise_std=0.5), 4).noise_std(0, style=True) == 0.5


def test_training_lengths_must_be_positive():
    with pytest.raises(ConfigError, match="train: encoder_steps must be at least 1, got 0"):
        load_config(ExperimentConfig, {"train": {"encoder_steps": 0}})


def test_object_supervision_shares_one_style_code_among_an_objects_views(tmp_path):
    images = square_images(identities=3, views=4)
    config = tiny_config(supervision="object")
    config.train.steps, config.train.encoder_steps = 3, 2
    trainer = Trainer(config, images, tmp_path / "run", torch.device("cpu"), progress=False)
    assert trainer.model.style.weight.shape[0] == 3 and trainer.model.content.weight.shape[0] == 12
    trainer.start(resume=False)
    trainer.train()
    style, content = trainer.model.codes(torch.arange(12), images.float_images(slice(None)))
    for identity in range(3):
        same = style[images.identities == identity]
        assert torch.equal(same, same[:1].expand_as(same))  # every view of the object: one code
    assert not torch.equal(style[0], style[4]) and not torch.equal(content[0], content[1])
    trainer.fit_encoders()
    payload = load_run_checkpoint(tmp_path / "run/model.pt")
    assert payload["style_embeddings"].shape == (12, 16) and torch.equal(payload["style_embeddings"], style)
    resumed = Trainer(config, images, tmp_path / "run", torch.device("cpu"), progress=False)
    assert resumed.restore_latest() and torch.equal(resumed.model.style_rows, trainer.model.style_rows)


def test_object_supervision_needs_named_objects_and_learned_codes():
    unnamed = ImageSet(torch.zeros(4, 3, 32, 32, dtype=torch.uint8), None, None, ["a", "b", "c", "d"], "folder")
    with pytest.raises(ConfigError, match="needs the object of every image; folder data names none"):
        Trainer(tiny_config(supervision="object"), unnamed, "unused", torch.device("cpu"), progress=False)
    with pytest.raises(ConfigError, match="model: supervision 'object' .* needs latent_optimization"):
        load_config(ExperimentConfig, {"model": {"supervision": "object", "latent_optimization": False}})
