"""Pix2Vox network: official names and shapes, parameter counts, input sizes, folded views, the merger."""

import json
from pathlib import Path

import pytest
import torch
from pix2vox import Pix2Vox, Pix2VoxConfig, build_pix2vox, count_parameters, min_image_size
from pix2vox.merger import Merger

LAYOUT = json.loads((Path(__file__).parent / "pix2vox_official_layout.json").read_text())


def meta_model(variant: str, image_size: int = 224) -> Pix2Vox:
    with torch.device("meta"):
        return Pix2Vox(Pix2VoxConfig(variant=variant, image_size=image_size))


@pytest.mark.parametrize("variant", ["F", "A"])
def test_state_dict_names_and_shapes_are_the_official_ones(variant):
    model = meta_model(variant)
    expected = LAYOUT[variant]
    assert sorted(model.components()) == sorted(expected)
    for name, module in model.components().items():
        ours = {key: list(value.shape) for key, value in module.state_dict().items()}
        assert ours == expected[name], name


@pytest.mark.parametrize("variant", ["F", "A"])
def test_parameter_count_is_within_one_percent_of_the_published_size(variant):
    published = LAYOUT["parameters"][variant]
    assert abs(count_parameters(meta_model(variant)) - published) / published < 0.01


@pytest.mark.parametrize("variant, size", [("F", 224), ("F", 128), ("F", 64), ("F", 24), ("A", 224), ("A", 128), ("A", 64), ("A", 40)])
def test_every_input_size_reaches_the_same_latent_and_a_32_cubed_volume(variant, size):
    model = meta_model(variant, size)
    images = torch.empty(2, 3, 3, size, size, device="meta")
    features = model.encoder(model.normalize(images.flatten(0, 1)))
    assert tuple(features.shape[1:]) == {"F": (128, 4, 4), "A": (256, 8, 8)}[variant]
    out = model(images)
    assert tuple(out["coarse"].shape) == (2, 3, 32, 32, 32)
    assert tuple(Pix2Vox.final(out).shape) == (2, 32, 32, 32)
    assert ("refined" in out) == (variant == "A")


@pytest.mark.parametrize("variant, kernel", [("F", 4), ("A", 3)])
def test_the_224_input_keeps_upstreams_max_pooling(variant, kernel):
    pool = meta_model(variant).encoder.layer2[3]
    assert isinstance(pool, torch.nn.MaxPool2d) and pool.kernel_size == kernel
    assert isinstance(meta_model(variant, 64).encoder.layer2[3], torch.nn.AdaptiveMaxPool2d)


def test_bad_input_sizes_are_rejected_with_the_minimum():
    assert min_image_size("F") == 24 and min_image_size("A") == 40
    for variant, size in [("F", 16), ("A", 32), ("F", 100)]:
        with pytest.raises(ValueError, match="multiple of 8"):
            Pix2VoxConfig(variant=variant, image_size=size)
    with pytest.raises(ValueError, match="variant"):
        Pix2VoxConfig(variant="B")


def test_vgg_is_frozen_unless_asked():
    assert not any(p.requires_grad for p in meta_model("F").encoder.vgg.parameters())
    assert all(p.requires_grad for p in meta_model("F").encoder.layer1.parameters())
    with torch.device("meta"):
        trainable = Pix2Vox(Pix2VoxConfig(train_vgg=True))
    assert all(p.requires_grad for p in trainable.encoder.vgg.parameters())


def per_view_reference(model: Pix2Vox, images: torch.Tensor) -> torch.Tensor:
    """The upstream formulation: a loop over views for encoder, decoder and scoring, then softmax and sum."""
    raws, coarses, scores = [], [], []
    for v in range(images.shape[1]):
        raw, coarse = model.decoder(model.encoder(model.normalize(images[:, v])))
        score = raw
        for i in range(1, 6):
            score = getattr(model.merger, f"layer{i}")(score)
        raws.append(raw)
        coarses.append(coarse)
        scores.append(score.squeeze(1))
    weights = torch.softmax(torch.stack(scores, 1), dim=1)
    return (torch.stack(coarses, 1) * weights).sum(1).clamp(0, 1)


def test_folded_views_equal_a_loop_over_views():
    torch.manual_seed(0)
    model = build_pix2vox(variant="F", image_size=32).eval()
    for module in model.modules():  # non-trivial running statistics, so eval-mode BN is not the identity
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    images = torch.rand(2, 3, 3, 32, 32)
    with torch.no_grad():
        folded = model(images)["merged"]
        looped = per_view_reference(model, images)
    torch.testing.assert_close(folded, looped, rtol=1e-5, atol=1e-6)


def test_bgr_input_reverses_the_channels():
    with torch.device("meta"):
        model = Pix2Vox(Pix2VoxConfig(bgr_input=True))
    images = torch.rand(1, 3, 4, 4)
    torch.testing.assert_close(model.normalize(images), (images[:, [2, 1, 0]] - 0.5) / 0.5)


@pytest.fixture
def merger() -> Merger:
    torch.manual_seed(1)
    merger = Merger(Pix2VoxConfig())
    merger.apply(lambda m: torch.nn.init.normal_(m.weight, 0, 0.3) if isinstance(m, torch.nn.Conv3d) else None)
    return merger.eval()


@torch.no_grad()
def test_merger_weights_are_a_softmax_over_views(merger):
    raw = torch.randn(2, 4, 9, 8, 8, 8)
    weights = torch.softmax(merger.scores(raw), dim=1)
    torch.testing.assert_close(weights.sum(1), torch.ones(2, 8, 8, 8))
    assert weights.std() > 0  # the scores differ between views, so the weights are not uniform
    coarse = torch.rand(2, 4, 8, 8, 8)
    fused = merger(raw, coarse)
    assert (fused >= coarse.min(1).values - 1e-6).all() and (fused <= coarse.max(1).values + 1e-6).all()
    torch.testing.assert_close(fused, (coarse * weights).sum(1))


@torch.no_grad()
def test_merger_is_invariant_to_view_order_and_keeps_agreeing_views(merger):
    raw, coarse = torch.randn(1, 3, 9, 8, 8, 8), torch.rand(1, 3, 8, 8, 8)
    order = torch.tensor([2, 0, 1])
    torch.testing.assert_close(merger(raw[:, order], coarse[:, order]), merger(raw, coarse))
    same = coarse[:, :1].expand(1, 3, 8, 8, 8)
    torch.testing.assert_close(merger(raw, same), coarse[:, 0])
    torch.testing.assert_close(merger(raw[:, :1], coarse[:, :1]), coarse[:, 0])  # one view: weight 1 (scoring skipped)
    merger.train()  # the scoring network runs in training mode, and the softmax over one view is still exactly 1
    torch.testing.assert_close(merger(raw[:, :1], coarse[:, :1]), coarse[:, 0], rtol=0, atol=0)


def test_without_the_merger_the_views_are_averaged():
    model = build_pix2vox(variant="F", image_size=32).eval()
    images = torch.rand(1, 2, 3, 32, 32)
    with torch.no_grad():
        out = model(images, use_merger=False)
    torch.testing.assert_close(out["merged"], out["coarse"].mean(1))


def test_frozen_views_train_the_merger_only_and_match_the_test_time_volumes():
    torch.manual_seed(0)
    model = build_pix2vox(Pix2VoxConfig(variant="F", image_size=64))
    model.train()
    images = torch.rand(2, 3, 3, 64, 64)
    stats = {k: v.clone() for k, v in model.state_dict().items() if "running" in k and k.startswith(("encoder.", "decoder."))}
    out = model(images, use_merger=True, frozen_views=True)
    out["merged"].mean().backward()
    assert all(p.grad is None for p in [*model.encoder.parameters(), *model.decoder.parameters()])
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.merger.parameters())
    assert stats and all(torch.equal(model.state_dict()[k], v) for k, v in stats.items())  # their BatchNorm statistics stay
    assert model.encoder.training and model.decoder.training
    model.encoder.eval(), model.decoder.eval()
    with torch.no_grad():
        _, coarse = model.per_view(images)
    torch.testing.assert_close(out["coarse"], coarse)
    model.train()  # in training mode (batch statistics) the volumes differ
    assert not torch.allclose(model(images, use_merger=True)["coarse"], coarse)
