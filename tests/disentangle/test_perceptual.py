"""Reconstruction losses: VGG16 perceptual loss (LORD), weights from disk only, MS-SSIM + L1, feature L1."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mvaug.disentangle.perceptual import (
    VGG16_FILE,
    VGG_LAYERS,
    FeatureL1Loss,
    PerceptualLoss,
    VGGFeatures,
    find_vgg16_weights,
    load_vgg16_weights,
    ms_ssim,
    ms_ssim_l1_loss,
)
from mvaug.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def torchvision_vgg():
    """A randomly initialised torchvision vgg16 (the reference for the layer layout and weight format)."""
    from torchvision.models import vgg16

    torch.manual_seed(7)
    return vgg16(weights=None).eval()


@pytest.fixture(scope="module")
def hub_dir(tmp_path_factory, torchvision_vgg):
    """A torch hub folder holding checkpoints/vgg16-397923af.pth in torchvision's format (trunk + one classifier key)."""
    hub = tmp_path_factory.mktemp("hub")
    state = {k: v for k, v in torchvision_vgg.state_dict().items() if k.startswith("features.")}
    state["classifier.6.bias"] = torchvision_vgg.state_dict()["classifier.6.bias"]
    (hub / "checkpoints").mkdir()
    torch.save(state, hub / "checkpoints" / VGG16_FILE)
    return hub


@pytest.fixture
def use_hub(monkeypatch):
    """Point torch.hub.get_dir at a folder of the test's choosing."""
    return lambda folder: monkeypatch.setattr(torch.hub, "get_dir", lambda: str(folder))


def scene(size: int = 64) -> torch.Tensor:
    """float (2, 3, size, size): two images of a bright disc and a dark bar on a mid-grey ground."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    images = torch.full((2, 3, size, size), 0.5)
    for image, (cx, cy) in zip(images, ((0.35, 0.4), (0.6, 0.55))):
        image[:, (xx - cx) ** 2 + (yy - cy) ** 2 < 0.04] = torch.tensor([0.9, 0.8, 0.2])[:, None]
        image[:, (yy > 0.75) & (yy < 0.85) & (xx > 0.1)] = torch.tensor([0.1, 0.2, 0.5])[:, None]
    return images


def test_taps_are_relu1_2_relu2_2_relu3_2_relu4_3_and_pool5():
    vgg = VGGFeatures()
    layers = list(vgg.features)
    assert len(layers) == 31
    for name, index in VGG_LAYERS.items():
        assert isinstance(layers[index], nn.MaxPool2d if name == "pool5" else nn.ReLU)
    convs_before = [sum(isinstance(m, nn.Conv2d) for m in layers[:i]) for i in VGG_LAYERS.values()]
    assert convs_before == [2, 4, 6, 10, 13]  # conv1_2, conv2_2, conv3_2, conv4_3, conv5_3 (then pool5)
    with torch.no_grad():
        maps = vgg(torch.rand(1, 3, 64, 64))
    assert [tuple(m.shape[1:]) for m in maps] == [(64, 64, 64), (128, 32, 32), (256, 16, 16), (512, 8, 8), (512, 2, 2)]
    assert all(float(m.min()) >= 0 for m in maps)
    assert not any(p.requires_grad for p in vgg.parameters())


def test_torchvision_weights_load_and_give_identical_features(hub_dir, torchvision_vgg):
    from torchvision.models.feature_extraction import create_feature_extractor

    vgg = VGGFeatures()
    load_vgg16_weights(vgg, hub_dir / "checkpoints" / VGG16_FILE)
    reference = create_feature_extractor(torchvision_vgg, {f"features.{i}": name for name, i in VGG_LAYERS.items()})
    mean, std = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        expected = reference((x - mean) / std)
        got = vgg(x)
    for name, features in zip(VGG_LAYERS, got):
        assert torch.allclose(features, expected[name], atol=1e-5), name


def test_imagenet_source_finds_the_hub_cache(hub_dir, torchvision_vgg, use_hub):
    use_hub(hub_dir)
    assert find_vgg16_weights() == hub_dir / "checkpoints" / VGG16_FILE
    loss = PerceptualLoss("imagenet")
    assert torch.equal(loss.vgg.features[28].weight, torchvision_vgg.features[28].weight)


def test_missing_imagenet_weights(tmp_path, use_hub):
    use_hub(tmp_path)
    assert find_vgg16_weights() is None
    with pytest.raises(ConfigError) as err:
        PerceptualLoss("imagenet")
    assert "--vgg-weights PATH" in str(err.value) and str(tmp_path / "checkpoints" / VGG16_FILE) in str(err.value)
    with pytest.raises(DataError, match="VGG16 weights file not found") as err:
        find_vgg16_weights(tmp_path / "nowhere.pth")
    assert str(tmp_path / "nowhere.pth") in str(err.value)


@pytest.mark.parametrize("problem", ["garbage", "wrong-shape", "no-trunk", "not-a-dict"])
def test_bad_weight_files_raise_data_error_naming_them(tmp_path, problem, hub_dir):
    path = tmp_path / "vgg.pth"
    if problem == "garbage":
        path.write_bytes(b"\x00junk" * 100)
    elif problem == "wrong-shape":
        state = torch.load(hub_dir / "checkpoints" / VGG16_FILE, weights_only=True)
        state["features.0.weight"] = torch.zeros(32, 3, 3, 3)
        torch.save(state, path)
    elif problem == "no-trunk":
        torch.save({"classifier.6.bias": torch.zeros(1000)}, path)
    else:
        torch.save([1, 2, 3], path)
    with pytest.raises(DataError) as err:
        load_vgg16_weights(VGGFeatures(), path)
    assert str(path) in str(err.value)
    if problem == "wrong-shape":
        assert "features.0.weight" in str(err.value)


def test_perceptual_loss_is_zero_for_equal_images_and_grows_with_blur_and_shift():
    from torchvision.transforms.v2.functional import gaussian_blur

    loss = PerceptualLoss("random", seed=0)
    x = scene()
    with torch.no_grad():
        assert float(loss(x, x)) == 0.0
        blurred = [float(loss(x, gaussian_blur(x, [13, 13], [sigma, sigma]))) for sigma in (0.7, 1.5, 3.0)]
        shifted = [float(loss(x, torch.roll(x, shift, dims=-1))) for shift in (1, 3, 8)]
    assert 0 < blurred[0] < blurred[1] < blurred[2]
    assert 0 < shifted[0] < shifted[1] < shifted[2]


def test_random_source_is_seeded_and_none_is_pixel_l1():
    first, again, other = (PerceptualLoss("random", seed=s).vgg.features[0].weight for s in (3, 3, 4))
    assert torch.equal(first, again) and not torch.equal(first, other)
    x, y = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    none = PerceptualLoss("none")
    assert none.vgg is None and float(none(x, y)) == pytest.approx(float((x - y).abs().mean()))
    with pytest.raises(ConfigError, match="layer_weights needs 5 values"):
        PerceptualLoss("none", layer_weights=(1.0, 1.0))


def test_gradients_reach_the_image_but_not_the_vgg():
    loss = PerceptualLoss("random")
    x = torch.rand(1, 3, 32, 32, requires_grad=True)
    loss(x, torch.rand(1, 3, 32, 32)).backward()
    assert float(x.grad.abs().sum()) > 0
    assert all(p.grad is None for p in loss.parameters())


def test_ms_ssim_is_one_for_equal_images_symmetric_and_falls_with_noise():
    x = scene()
    torch.manual_seed(0)
    noise = torch.randn_like(x)
    assert torch.allclose(ms_ssim(x, x), torch.ones(2), atol=1e-6)
    y = (x + 0.1 * noise).clamp(0, 1)
    assert torch.allclose(ms_ssim(x, y), ms_ssim(y, x), atol=1e-6)
    scores = [ms_ssim(x, (x + level * noise).clamp(0, 1)) for level in (0.02, 0.05, 0.1, 0.2)]
    assert all(bool((a > b).all()) for a, b in zip(scores, scores[1:]))
    assert float(ms_ssim_l1_loss(x, x)) == pytest.approx(0.0, abs=1e-6)
    expected = (x - y).abs().mean() + (1 - ms_ssim(x, y)).mean()
    assert float(ms_ssim_l1_loss(x, y)) == pytest.approx(float(expected), rel=1e-6)


def test_ms_ssim_of_flat_images_by_hand():
    """Flat images a, b: every contrast-structure term is 1 and the luminance term is (2ab + C1) / (a^2 + b^2 + C1),
    so a 64 px image (3 scales) scores that luminance to the power 0.3001 / (0.0448 + 0.2856 + 0.3001)."""
    a, b, c1 = 0.2, 0.6, 0.01**2
    x, y = torch.full((1, 3, 64, 64), a, dtype=torch.float64), torch.full((1, 3, 64, 64), b, dtype=torch.float64)
    luminance = (2 * a * b + c1) / (a * a + b * b + c1)
    assert float(ms_ssim(x, y)) == pytest.approx(luminance ** (0.3001 / 0.6305), rel=1e-9)
    assert float(ms_ssim(x, y, scales=1)) == pytest.approx(luminance, rel=1e-9)
    with pytest.raises(ValueError, match="too small"):
        ms_ssim(x[..., :8, :8], y[..., :8, :8])
    with pytest.raises(ValueError, match="too small"):
        ms_ssim(x, y, scales=4)  # 64 / 8 = 8 px < 11 px window


def test_feature_l1_loss_by_hand():
    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    y = torch.zeros_like(x)
    stub = lambda t: [t, 3 * t[..., :1, :1]]  # noqa: E731
    # map 1: mean |x| = 2.5; map 2: |3 * 1| = 3, weight 0.5; pixel L1 = 2.5
    assert float(FeatureL1Loss(stub, (1.0, 0.5))(x, y)) == pytest.approx(2.5 + 1.5)
    assert float(FeatureL1Loss(stub)(x, y)) == pytest.approx(2.5 + 3.0)
    assert float(FeatureL1Loss(stub, (1.0, 0.5), pixel_l1=True)(x, y)) == pytest.approx(2.5 + 1.5 + 2.5)
    with pytest.raises(ValueError, match="2 and 2 feature maps for 3 weights"):
        FeatureL1Loss(stub, (1.0, 1.0, 1.0))(x, y)


def test_ms_ssim_under_bf16_autocast_equals_fp32():
    """bf16 autocast (how the trainer runs L_P) must not reach the SSIM statistics: there E[x^2] - E[x]^2 of a
    near-white render cancels to 0 or below and a training step's loss became -inf."""
    torch.manual_seed(1)
    x = (0.92 + 0.02 * torch.randn(4, 3, 64, 64)).clamp(0, 1)
    y = (0.92 + 0.02 * torch.randn(4, 3, 64, 64)).clamp(0, 1)
    expected = ms_ssim(x, y)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = ms_ssim(x, y)
        from_bf16 = ms_ssim(x.bfloat16(), y.bfloat16())
        loss = ms_ssim_l1_loss(x, y)
    assert got.dtype == torch.float32 and torch.allclose(got, expected, atol=1e-6)
    assert torch.isfinite(from_bf16).all() and torch.allclose(from_bf16, ms_ssim(x.bfloat16().float(), y.bfloat16().float()), atol=1e-6)
    assert 0.0 <= float(loss) <= 2.0
