"""Instance discrimination network Phi (Wu et al. 2018): network, memory bank, pretraining, checkpoints, CLI."""

from __future__ import annotations

import dataclasses
import io

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

from mvaug.cli.main import cli
from mvaug.config import load_config
from mvaug.disentangle.instance_disc import (
    AugmentConfig,
    InstanceDiscConfig,
    InstanceDiscNet,
    MemoryBank,
    embed,
    load_instance_net,
    pretrain_instance_discrimination,
    save_instance_net,
    score_views,
)
from mvaug.errors import ConfigError, DataError
from mvaug.io.images import write_png

# No hue jitter or greying: 8 px shapes are told apart mostly by their colours.
MILD = AugmentConfig(crop_scale=(0.35, 1.0), jitter=(0.3, 0.3, 0.3, 0.0), grayscale_p=0.0)


def shapes(n: int, size: int, seed: int = 0) -> torch.Tensor:
    """uint8 (n, 3, size, size): a random background colour, a rectangle and a disc in random colours."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    images = torch.empty(n, 3, size, size)
    for image in images:
        colours = torch.rand(3, 3, 1, generator=g)
        image[:] = colours[0, :, :, None]
        x0, y0 = torch.randint(0, size // 2, (2,), generator=g)
        w, h = torch.randint(size // 4, size // 2 + 1, (2,), generator=g)
        image[:, (xx >= x0) & (xx < x0 + w) & (yy >= y0) & (yy < y0 + h)] = colours[1]
        cx, cy = torch.randint(0, size, (2,), generator=g)
        image[:, (xx - cx) ** 2 + (yy - cy) ** 2 < (size / 6) ** 2] = colours[2]
    return images.mul(255).round().to(torch.uint8)


def tiny_config(**changes) -> InstanceDiscConfig:
    return InstanceDiscConfig(**{"image_size": 8, "epochs": 2, "batch_size": 4, "augment": MILD, **changes})


def test_embedding_is_unit_length_and_depends_on_the_image():
    net = InstanceDiscNet().eval()
    with torch.no_grad():
        v = net(torch.rand(3, 3, 32, 32))
    assert v.shape == (3, 128)
    assert torch.allclose(v.norm(dim=1), torch.ones(3), atol=1e-5)
    assert not torch.allclose(v[0], v[1], atol=1e-4)


def test_feature_maps_of_a_64px_image():
    with torch.no_grad():
        maps = InstanceDiscNet().eval().feature_maps(torch.rand(2, 3, 64, 64))
    assert [tuple(m.shape) for m in maps] == [(2, 64, 64, 64), (2, 64, 64, 64), (2, 128, 32, 32), (2, 256, 16, 16), (2, 512, 8, 8)]
    assert float(maps[0].min()) >= 0  # after the stem's ReLU


def test_memory_bank_momentum_update_by_hand():
    bank = MemoryBank(torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 4.0]]), temperature=0.1, momentum=0.25)
    assert torch.allclose(bank.vectors[2], torch.tensor([0.6, 0.8]))  # rows are normalised
    bank.update(torch.tensor([[0.0, 1.0], [0.6, -0.8]]), torch.tensor([0, 2]))
    # row 0: 0.25 * (1, 0) + 0.75 * (0, 1) = (0.25, 0.75), norm sqrt(0.625); row 2: (0.6, 0.8)*0.25 + (0.6, -0.8)*0.75 = (0.6, -0.4)
    expected = torch.tensor([[0.25, 0.75], [0.0, 1.0], [0.6, -0.4]])
    expected = expected / expected.norm(dim=1, keepdim=True)
    assert torch.allclose(bank.vectors, expected, atol=1e-6)


def test_full_softmax_loss_by_hand():
    bank = MemoryBank(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), temperature=0.5, momentum=0.5)
    loss = bank.loss(torch.tensor([[1.0, 0.0]]), torch.tensor([0]))
    # logits 1/0.5 = 2 and 0: -log(e^2 / (e^2 + 1))
    assert float(loss) == pytest.approx(-torch.log(torch.tensor(2.0).exp() / (torch.tensor(2.0).exp() + 1)).item(), rel=1e-6)


def test_a_bank_of_the_images_own_features_gives_a_lower_loss():
    torch.manual_seed(0)
    features = F.normalize(torch.randn(16, 32), dim=1)
    index = torch.arange(16)
    own = MemoryBank(features, 0.07, 0.5).loss(features, index)
    shuffled = MemoryBank(features[torch.roll(index, 1)], 0.07, 0.5).loss(features, index)
    assert float(own) < 0.5 * float(shuffled)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """16 random 8x8 shape images, 20 epochs (about 6 s on one core): the config, images and checkpoint."""
    images = shapes(16, 8)
    config = tiny_config(epochs=20, batch_size=8, lr_milestones=(1.0,))
    path = tmp_path_factory.mktemp("phi") / "phi.pt"
    stats = pretrain_instance_discrimination(images, config, path, progress=False)
    return config, images, path, stats


def _mean_scores(net: InstanceDiscNet, images: torch.Tensor, config: InstanceDiscConfig) -> dict[str, float]:
    """score_views against the network's own clean-image features, averaged over 4 view seeds."""
    bank = embed(net, images)
    runs = [score_views(net, images, bank, dataclasses.replace(config, seed=seed)) for seed in range(100, 104)]
    return {key: sum(run[key] for run in runs) / len(runs) for key in runs[0]}


def test_pretraining_lowers_the_loss_and_retrieves_instances(trained):
    """Bounds from 58 trainings (seeds 0-9 x 3 image sets at 2 threads, 28 of them at 1): last/first epoch loss 0.14-0.49,
    learned/untrained view loss 0.17-0.51, learned top-1 0.66-0.95 (chance 1/16). A network that does not
    learn (lr 1e-5) gives 0.72, 1.05 and 0.28, failing the last two. The top-1 gain over the untrained network
    (-0.02 to +0.38) changes with the thread count and the machine's arithmetic, so it is not asserted."""
    config, images, path, stats = trained
    torch.manual_seed(config.seed)
    untrained = _mean_scores(InstanceDiscNet(config.feature_dim), images, config)  # the network training starts from
    learned = _mean_scores(load_instance_net(path), images, config)
    assert stats["loss"] < 0.75 * stats["first_epoch_loss"]
    assert learned["loss"] < 0.7 * untrained["loss"]
    assert learned["retrieval_top1"] > 0.5
    assert stats["images_per_second"] > 0 and 0 <= stats["retrieval_top1"] <= 1


def test_checkpoint_round_trip_gives_identical_outputs(tmp_path):
    torch.manual_seed(3)
    net = InstanceDiscNet(feature_dim=16).eval()
    save_instance_net(net, InstanceDiscConfig(feature_dim=16), 5, tmp_path / "phi.pt")
    loaded = load_instance_net(tmp_path / "phi.pt")
    x = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(loaded(x), net(x))
        assert all(torch.equal(a, b) for a, b in zip(loaded.feature_maps(x), net.feature_maps(x)))
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    saved = torch.load(tmp_path / "phi.pt", weights_only=True)
    assert saved["format"] == "mvaug-instance-disc-v1" and saved["num_images"] == 5
    assert load_config(InstanceDiscConfig, saved["config"]) == InstanceDiscConfig(feature_dim=16)


def test_equal_seeds_train_equal_networks(tmp_path):
    images = shapes(8, 8, seed=1)
    runs = {}
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        stats = pretrain_instance_discrimination(images, tiny_config(seed=seed), tmp_path / f"{name}.pt", progress=False)
        runs[name] = stats["loss"], torch.load(tmp_path / f"{name}.pt", weights_only=True)["state_dict"]
    same = lambda x, y: all(torch.equal(x[1][k], y[1][k]) for k in x[1])  # noqa: E731
    assert runs["a"][0] == runs["b"][0] and same(runs["a"], runs["b"])
    assert not same(runs["a"], runs["c"])


def _torch_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "not found"),
        (b"not a checkpoint at all", "not a readable torch checkpoint"),
        ("truncated", "not a readable torch checkpoint"),
        (_torch_bytes({"format": "something-else", "state_dict": {}}), "not an mvaug-instance-disc-v1 instance discrimination checkpoint"),
        (_torch_bytes({"format": "mvaug-instance-disc-v1", "state_dict": {"w": torch.zeros(1)}, "config": {}}), "weights do not fit"),
        (_torch_bytes({"format": "mvaug-instance-disc-v1", "state_dict": {}, "config": {"feature_dim": -1}}), "invalid training config"),
    ],
    ids=["missing", "garbage", "truncated", "foreign", "wrong-weights", "bad-config"],
)
def test_a_bad_checkpoint_raises_data_error_naming_it(tmp_path, content, message):
    path = tmp_path / "phi.pt"
    if content == "truncated":
        save_instance_net(InstanceDiscNet(feature_dim=8), InstanceDiscConfig(feature_dim=8), 2, path)
        content = path.read_bytes()[:5000]
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError) as err:
        load_instance_net(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_config_validation_names_the_key():
    with pytest.raises(ConfigError, match="augment: crop_scale"):
        load_config(InstanceDiscConfig, {"augment": {"crop_scale": [0.5, 2.0]}})
    with pytest.raises(ConfigError, match="memory_momentum"):
        load_config(InstanceDiscConfig, {"memory_momentum": 1.0})


def _image_folder(root, count: int = 6):
    root.mkdir()
    for i, image in enumerate(shapes(count, 16, seed=2)):
        write_png(root / f"{i:02d}.png", image.permute(1, 2, 0).numpy())
    return root


def test_cli_trains_and_writes_a_loadable_checkpoint(tmp_path):
    data, out = _image_folder(tmp_path / "images"), tmp_path / "out" / "phi.pt"
    args = ["pretrain-id", "--data", data, "--out", out, "--epochs", "1", "--image-size", "8", "--batch-size", "4", "--device", "cpu", "--quiet"]
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    assert f"wrote {out}: 6 images, 1 epochs on cpu" in result.stdout
    saved = torch.load(out, weights_only=True)
    assert saved["num_images"] == 6 and saved["config"]["image_size"] == 8
    assert load_instance_net(out)(torch.rand(1, 3, 8, 8)).shape == (1, 128)


@pytest.mark.parametrize("problem", ["missing-data", "bad-config", "no-cuda"])
def test_cli_input_errors_are_one_line_with_exit_2(tmp_path, problem):
    data, out = tmp_path / "missing", tmp_path / "phi.pt"
    extra = []
    if problem == "bad-config":
        data = _image_folder(tmp_path / "images")
        (tmp_path / "c.yaml").write_text("temprature: 0.1\n")
        extra = ["--config", str(tmp_path / "c.yaml")]
    if problem == "no-cuda":
        if torch.cuda.is_available():
            pytest.skip("CUDA is available here")
        data = _image_folder(tmp_path / "images")
        extra = ["--device", "cuda"]
    result = CliRunner().invoke(cli, ["pretrain-id", "--data", str(data), "--out", str(out), *extra])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    expected = {"missing-data": str(data), "bad-config": "did you mean 'temperature'", "no-cuda": "CUDA is not available"}[problem]
    assert expected in result.stderr and not out.exists()
