import socket

import pytest
import torch

from mvaug.errors import DataError
from mvaug.evaluate.image_distance import (
    BACKBONE_FILES,
    SSIM_NAME,
    default_distance,
    find_backbone_weights,
    l1_distance,
    lpips_distance,
    ssim_distance,
)


def _images(seed: int, b: int = 3, size: int = 16) -> torch.Tensor:
    return torch.rand((b, 3, size, size), generator=torch.Generator().manual_seed(seed))


@pytest.fixture
def offline(monkeypatch):
    """Fail the test on any attempt to reach the network or torch's downloader."""

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)


@pytest.fixture
def empty_hub(monkeypatch, tmp_path):
    """torch's hub cache is an empty folder."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))


def _save_alexnet(path, seed: int) -> dict:
    """A random torchvision alexnet's state dict (features, and one classifier key as torchvision has)."""
    import torchvision

    torch.manual_seed(seed)
    state = {k: v for k, v in torchvision.models.alexnet(weights=None).state_dict().items() if k.startswith("features.")}
    state["classifier.6.bias"] = torch.zeros(1000)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return state


def test_ssim_distance_zero_for_identical_and_symmetric():
    d = ssim_distance()
    x, y = _images(0), _images(1)
    assert d.name == SSIM_NAME
    torch.testing.assert_close(d(x, x), torch.zeros(3, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(d(x, y), d(y, x))
    assert d(x, y).dtype == torch.float64 and d(x, y).shape == (3,)


def test_ssim_distance_grows_with_noise():
    d = ssim_distance()
    x = _images(0, b=1) * 0.5 + 0.25
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(2))
    scores = [float(d(x, (x + s * noise).clamp(0, 1))) for s in (0.01, 0.05, 0.2)]
    assert 0 < scores[0] < scores[1] < scores[2]


def test_l1_distance_by_hand():
    x = torch.zeros((2, 3, 2, 2))
    y = torch.zeros((2, 3, 2, 2))
    y[0, 0, 0, 0] = 0.6  # one pixel of one channel: 0.6 / 12
    y[1] = 0.25
    torch.testing.assert_close(l1_distance()(x, y), torch.tensor([0.05, 0.25], dtype=torch.float64))
    assert l1_distance().name == "L1"


def test_mismatched_batches_are_rejected():
    with pytest.raises(ValueError, match="same shape"):
        l1_distance()(_images(0, b=2), _images(0, b=3))
    with pytest.raises(ValueError, match="float"):
        l1_distance()(torch.zeros((1, 3, 8, 8), dtype=torch.uint8), torch.zeros((1, 3, 8, 8), dtype=torch.uint8))


def test_default_distance_falls_back_to_ssim_without_weights(empty_hub, offline):
    assert find_backbone_weights() is None
    d = default_distance()
    assert d.name == SSIM_NAME
    x = _images(0)
    torch.testing.assert_close(d(x, x), torch.zeros(3, dtype=torch.float64), atol=1e-12, rtol=0)


def test_lpips_without_weights_is_a_clear_error(empty_hub, offline, tmp_path):
    with pytest.raises(DataError, match="never downloads"):
        lpips_distance()
    with pytest.raises(DataError, match="never downloads"):
        lpips_distance(tmp_path / "nowhere.pth")


def test_lpips_rejects_a_file_that_is_not_an_alexnet(offline, tmp_path):
    path = tmp_path / "bad.pth"
    torch.save({"conv.weight": torch.zeros(1)}, path)
    with pytest.raises(DataError, match="no 'features"):
        lpips_distance(path)
    torch.save({"features.0.weight": torch.zeros(1)}, path)
    with pytest.raises(DataError, match="'features.0.bias' is missing"):
        lpips_distance(path)


@pytest.mark.filterwarnings("ignore:.*(pretrained|weight enum).*:UserWarning")  # lpips's torchvision call
def test_lpips_loads_backbone_from_disk(offline, tmp_path):
    import lpips

    path = tmp_path / "hub" / "checkpoints" / BACKBONE_FILES["alex"]
    state = _save_alexnet(path, seed=0)
    d = lpips_distance(path.parent)  # found under torchvision's file name in a folder
    assert d.name == "LPIPS (alex)"
    x, y = _images(0, b=2, size=64), _images(1, b=2, size=64)
    assert torch.equal(d(x, x), torch.zeros(2, dtype=torch.float64))
    assert (d(x, y) > 0).all()

    # Reference: lpips with its packaged linear layers and the same backbone copied module by module.
    reference = lpips.LPIPS(pretrained=True, net="alex", pnet_rand=True, verbose=False).eval()
    for block in (reference.net.slice1, reference.net.slice2, reference.net.slice3, reference.net.slice4, reference.net.slice5):
        for name, module in block.named_children():
            for param_name, param in module.named_parameters():
                param.data.copy_(state[f"features.{name}.{param_name}"])
    with torch.no_grad():
        expected = reference(x, y, normalize=True).flatten().double()
    torch.testing.assert_close(d(x, y), expected)

    other = tmp_path / "other.pth"
    _save_alexnet(other, seed=1)
    assert not torch.allclose(lpips_distance(other)(x, y), d(x, y))  # the weights come from the file


def test_default_distance_uses_lpips_when_weights_exist(offline, tmp_path, monkeypatch):
    _save_alexnet(tmp_path / "hub" / "checkpoints" / BACKBONE_FILES["alex"], seed=0)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    assert default_distance().name == "LPIPS (alex)"
