from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mvaug.data import ImageFolderDataset
from mvaug.errors import DataError
from mvaug.io.images import write_png


def solid(height: int, width: int, colour: tuple[int, ...]) -> np.ndarray:
    return np.broadcast_to(np.array(colour, dtype=np.uint8), (height, width, len(colour))).copy()


@pytest.fixture
def folder(tmp_path) -> Path:
    root = tmp_path / "images"
    write_png(root / "b.png", solid(12, 12, (255, 0, 0, 128)))  # half-transparent red
    write_png(root / "a.png", solid(12, 12, (0, 0, 255)))
    (root / "sub" / "deeper").mkdir(parents=True)
    Image.fromarray(solid(12, 12, (0, 200, 0))).save(root / "sub" / "c.JPG", format="JPEG", quality=95)
    Image.fromarray(solid(12, 12, (10, 20, 30))).save(root / "sub" / "deeper" / "d.bmp")
    Image.fromarray(solid(12, 12, (90, 90, 90))).save(root / "e.webp", lossless=True)
    write_png(root / ".hidden.png", solid(4, 4, (0, 0, 0)))
    write_png(root / ".cache" / "f.png", solid(4, 4, (0, 0, 0)))
    (root / "notes.txt").write_text("not an image")
    return root


def test_sorted_recursive_listing_skips_hidden_and_other_files(folder):
    ds = ImageFolderDataset(folder)
    assert [p.relative_to(folder).as_posix() for p in ds.paths] == ["a.png", "b.png", "e.webp", "sub/c.JPG", "sub/deeper/d.bmp"]
    flat = ImageFolderDataset(folder, recursive=False)
    assert [p.name for p in flat.paths] == ["a.png", "b.png", "e.webp"]
    assert flat[2]["path"] == str(folder / "e.webp")


def test_values_alpha_on_white_and_resize(folder):
    ds = ImageFolderDataset(folder, image_size=5)
    images = {Path(item["path"]).name: item["image"] for item in ds}
    assert all(image.shape == (3, 5, 5) and image.dtype == torch.float32 for image in images.values())
    half = 128 / 255
    expected = {
        "a.png": (0, 0, 1),
        "b.png": (1, 1 - half, 1 - half),
        "e.webp": (90 / 255,) * 3,
        "c.JPG": (0, 200 / 255, 0),
        "d.bmp": (10 / 255, 20 / 255, 30 / 255),
    }
    for name, rgb in expected.items():
        target = torch.tensor(rgb, dtype=torch.float32).view(3, 1, 1).expand(3, 5, 5)
        torch.testing.assert_close(images[name], target, atol=3 / 255 if name.endswith("JPG") else 1e-6, rtol=0)


def test_centre_crop_like_celeba(tmp_path):
    image = np.zeros((24, 20, 3), dtype=np.uint8)  # H=24, W=20, each row a different grey
    image[:] = (np.arange(24, dtype=np.uint8) * 10)[:, None, None]
    write_png(tmp_path / "face.png", image)
    item = ImageFolderDataset(tmp_path, image_size=None, crop=20)[0]
    assert item["image"].shape == (3, 20, 20)
    rows = item["image"][0, :, 0] * 255
    torch.testing.assert_close(rows, torch.arange(2, 22, dtype=torch.float32) * 10)  # rows 2..21 kept
    assert ImageFolderDataset(tmp_path, image_size=8, crop=20)[0]["image"].shape == (3, 8, 8)


def test_empty_or_missing_folder(tmp_path, folder):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "sub" / "list.txt").write_text("a.png")
    with pytest.raises(DataError, match="no images") as err:
        ImageFolderDataset(tmp_path / "empty")
    assert str(tmp_path / "empty") in str(err.value)
    with pytest.raises(DataError, match="not found"):
        ImageFolderDataset(tmp_path / "nowhere")
    with pytest.raises(DataError, match="must be a folder"):
        ImageFolderDataset(folder / "a.png")
    (tmp_path / "top").mkdir()
    write_png(tmp_path / "top" / "sub" / "x.png", solid(2, 2, (0, 0, 0)))
    with pytest.raises(DataError, match="no images"):
        ImageFolderDataset(tmp_path / "top", recursive=False)


def test_corrupt_image_is_named(folder):
    (folder / "a.png").write_bytes((folder / "a.png").read_bytes()[:40])
    ds = ImageFolderDataset(folder)
    with pytest.raises(DataError) as err:
        ds[0]
    assert str(folder / "a.png") in str(err.value)
