import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader

from mvaug.data.shapenet import ShapeNetDataset
from mvaug.errors import ConfigError, DataError
from mvaug.io.binvox import read_binvox
from tests.conftest import REAL_MODELS, link_sample, rendering_dir, replace


def real_rgba(path: Path) -> np.ndarray:
    """float64 (H, W, 4) in [0, 1], decoded with PIL directly."""
    return np.asarray(Image.open(path).convert("RGBA"), dtype=np.float64) / 255.0


@pytest.fixture
def linked(realdata, tmp_path) -> Path:
    return link_sample(realdata, tmp_path / "root")


def test_real_sample_all_views(realdata):
    ds = ShapeNetDataset.from_root(realdata, split="test", n_views=24)
    assert len(ds) == 4
    assert [(m.taxonomy_id, m.model_id) for m in ds.models] == list(REAL_MODELS.items())
    for item in ds:
        tax, model = item["taxonomy_id"], item["model_id"]
        assert REAL_MODELS[tax] == model
        assert item["images"].shape == (24, 3, 137, 137) and item["images"].dtype == torch.float32
        assert 0.0 <= item["images"].min() and item["images"].max() <= 1.0
        vox = read_binvox(realdata / "ShapeNetVox32" / tax / model / "model.binvox").data
        assert item["voxels"].dtype == torch.float32 and item["voxels"].shape == (32, 32, 32)
        np.testing.assert_array_equal(item["voxels"].numpy(), vox.astype(np.float32))
        lines = np.loadtxt(rendering_dir(realdata, tax) / "rendering_metadata.txt", dtype=np.float32)
        np.testing.assert_array_equal(item["cameras"].numpy(), lines)
        assert item["view_indices"].dtype == torch.long
        assert item["view_indices"].tolist() == list(range(24))


@pytest.mark.parametrize("background", [(0.2, 0.4, 0.6), None])
def test_images_are_the_pngs_composited_on_background(realdata, background):
    ds = ShapeNetDataset.from_root(realdata, split="test", categories="bench", n_views=2, background=background)
    images = ds[0]["images"].numpy()
    for view in range(2):
        rgba = real_rgba(rendering_dir(realdata, "02828884") / f"{view:02d}.png")
        if background is None:
            expected = rgba
        else:
            expected = rgba[..., :3] * rgba[..., 3:] + np.array(background) * (1 - rgba[..., 3:])
        np.testing.assert_allclose(images[view], expected.transpose(2, 0, 1), atol=1e-6)
    assert images.shape[1] == (4 if background is None else 3)


def test_image_size_resizes_with_antialiasing(realdata):
    full = ShapeNetDataset.from_root(realdata, split="test", categories="car", n_views=24)[0]["images"]
    small = ShapeNetDataset.from_root(realdata, split="test", categories="car", n_views=24, image_size=64)[0]["images"]
    assert small.shape == (24, 3, 64, 64)
    reference = F.interpolate(full, size=(64, 64), mode="bilinear", antialias=True)
    assert (small - reference).abs().max() < 0.02  # nearest: 0.47, bicubic: 0.1


def test_categories_by_id_and_name(realdata):
    ds = ShapeNetDataset.from_root(realdata, split="test", categories=["02691156", "car"])
    assert [m.model_id for m in ds.models] == ["sample-aeroplane", "sample-car"]
    assert [c.name for c in ds.categories] == ["aeroplane", "car"]
    assert [m.model_id for m in ShapeNetDataset.from_root(realdata, split="all", categories="lamp").models] == ["sample-lamp"]


def test_unknown_category_lists_the_choices(realdata):
    with pytest.raises(DataError) as err:
        ShapeNetDataset.from_root(realdata, split="test", categories=["car", "chair"])
    message = str(err.value)
    assert "chair" in message and str(realdata / "ShapeNet.json") in message
    assert all(tax in message and name.removeprefix("sample-") in message for tax, name in REAL_MODELS.items())


def test_random_views_reproducible_and_vary_with_epoch(realdata):
    def views(seed: int, epoch: int) -> list[list[int]]:
        ds = ShapeNetDataset.from_root(realdata, split="test", n_views=5, view_selection="random", seed=seed)
        ds.set_epoch(epoch)
        return [ds[i]["view_indices"].tolist() for i in range(len(ds))]

    first = views(seed=0, epoch=0)
    assert first == views(seed=0, epoch=0)
    assert first != views(seed=0, epoch=1)
    assert first != views(seed=1, epoch=0)
    assert len({tuple(v) for v in first}) > 1  # differs across models
    for indices in first:
        assert len(set(indices)) == 5 and all(0 <= i < 24 for i in indices)
    assert first != [[0, 1, 2, 3, 4]] * 4


def test_random_views_match_their_images_and_cameras(realdata):
    ds = ShapeNetDataset.from_root(realdata, split="test", categories="lamp", n_views=3, view_selection="random", seed=7)
    item = ds[0]
    everything = ShapeNetDataset.from_root(realdata, split="test", categories="lamp", n_views=24)[0]
    chosen = item["view_indices"]
    torch.testing.assert_close(item["images"], everything["images"][chosen], rtol=0, atol=0)
    torch.testing.assert_close(item["cameras"], everything["cameras"][chosen], rtol=0, atol=0)


def test_default_collate(realdata):
    ds = ShapeNetDataset.from_root(realdata, split="test", n_views=2, image_size=32)
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert batch["images"].shape == (4, 2, 3, 32, 32)
    assert batch["voxels"].shape == (4, 32, 32, 32)
    assert batch["cameras"].shape == (4, 2, 5)
    assert batch["taxonomy_id"] == list(REAL_MODELS)


def test_explicit_roots_and_other_split_file_name(linked):
    (linked / "ShapeNet.json").rename(linked / "mine.json")
    assert len(ShapeNetDataset.from_root(linked, split="test")) == 4
    ds = ShapeNetDataset(linked / "ShapeNetRendering", linked / "ShapeNetVox32", linked / "mine.json", split="test")
    assert len(ds) == 4
    (linked / "other.json").write_text("[]")
    with pytest.raises(DataError, match="mine.json, other.json"):
        ShapeNetDataset.from_root(linked, split="test")


def test_missing_folders(linked, tmp_path):
    with pytest.raises(DataError, match="ShapeNet root not found") as err:
        ShapeNetDataset.from_root(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(err.value)
    (linked / "ShapeNetVox32").rename(linked / "voxels")
    with pytest.raises(DataError) as err:
        ShapeNetDataset.from_root(linked, split="test")
    assert str(linked / "ShapeNetVox32") in str(err.value)


def test_missing_split_file(linked):
    (linked / "ShapeNet.json").unlink()
    with pytest.raises(DataError, match="no split file") as err:
        ShapeNetDataset.from_root(linked, split="test")
    assert str(linked) in str(err.value)
    with pytest.raises(DataError, match="split file not found") as err:
        ShapeNetDataset(linked / "ShapeNetRendering", linked / "ShapeNetVox32", linked / "gone.json", split="test")
    assert str(linked / "gone.json") in str(err.value)


@pytest.mark.parametrize(
    "text, match",
    [
        ('[{"taxonomy_id": "02691156", "test": ["a"],', "not valid JSON \\(line 1"),
        ('{"taxonomy_id": "02691156"}', "list of categories"),
        ('[{"taxonomy_name": "car", "test": []}]', "entry 0 .*taxonomy_id"),
        ('[{"taxonomy_id": "02958343", "test": "sample-car"}]', "'test' of taxonomy 02958343"),
    ],
)
def test_bad_split_file(linked, text, match):
    (linked / "ShapeNet.json").write_text(text)
    with pytest.raises(DataError, match=match) as err:
        ShapeNetDataset.from_root(linked, split="test")
    assert str(linked / "ShapeNet.json") in str(err.value)


def test_empty_split(realdata):
    with pytest.raises(DataError, match="no models in split train") as err:
        ShapeNetDataset.from_root(realdata, split="train")
    assert str(realdata / "ShapeNet.json") in str(err.value)


def test_split_naming_absent_models(linked):
    split = json.loads((linked / "ShapeNet.json").read_text())
    split[2]["test"].append("no-such-car")
    (linked / "ShapeNet.json").write_text(json.dumps(split))
    missing = linked / "ShapeNetRendering" / "02958343" / "no-such-car" / "rendering"
    with pytest.raises(DataError, match="no-such-car, test split") as err:
        ShapeNetDataset.from_root(linked, split="test")
    assert str(missing) in str(err.value)

    bench_voxels = linked / "ShapeNetVox32" / "02828884" / "sample-bench" / "model.binvox"
    bench_voxels.unlink()
    with pytest.warns(UserWarning, match="skipped 2 of 5 models") as record:
        ds = ShapeNetDataset.from_root(linked, split="test", skip_missing=True)
    assert len(record) == 1
    assert [m.model_id for m in ds.models] == ["sample-aeroplane", "sample-car", "sample-lamp"]
    with pytest.raises(DataError) as err:
        ShapeNetDataset.from_root(linked, split="test", categories="bench")
    assert str(bench_voxels) in str(err.value)


def test_truncated_png_names_the_png(linked):
    png = rendering_dir(linked, "02958343") / "01.png"
    replace(png, png.read_bytes()[:900])
    ds = ShapeNetDataset.from_root(linked, split="test", categories="car", n_views=2)
    assert ShapeNetDataset.from_root(linked, split="test", categories="car", n_views=1)[0]["images"].shape[0] == 1
    with pytest.raises(DataError) as err:
        ds[0]
    assert str(png) in str(err.value)
    with pytest.raises(DataError) as err:
        ds.verify(0)
    assert str(png) in str(err.value)


def test_metadata_shorter_than_views(linked):
    metadata = rendering_dir(linked, "03636649") / "rendering_metadata.txt"
    lines = metadata.read_text().splitlines(keepends=True)
    replace(metadata, "".join(lines[:20]).encode())
    ds = ShapeNetDataset.from_root(linked, split="test", categories="lamp")
    with pytest.raises(DataError, match="20 camera lines for 24 rendered views") as err:
        ds[0]
    assert str(metadata) in str(err.value)


def test_views_from_renderings_txt_or_png_names(linked):
    folder = rendering_dir(linked, "02691156")
    replace(folder / "renderings.txt", b"03.png\n07.png\n\n")
    ds = ShapeNetDataset.from_root(linked, split="test", categories="aeroplane", n_views=2)
    item = ds[0]
    np.testing.assert_allclose(item["images"][1, :, :, :].numpy(), _white(real_rgba(folder / "07.png")), atol=1e-6)
    lines = np.loadtxt(folder / "rendering_metadata.txt", dtype=np.float32)
    np.testing.assert_array_equal(item["cameras"].numpy(), lines[:2])  # metadata line i describes listed view i
    ds.n_views = 3
    with pytest.raises(DataError, match="2 views rendered, n_views=3"):
        ds[0]

    (folder / "renderings.txt").unlink()
    ds = ShapeNetDataset.from_root(linked, split="test", categories="aeroplane", n_views=24)
    assert ds.summary()[0].views == (24, 24)
    np.testing.assert_allclose(ds[0]["images"][11].numpy(), _white(real_rgba(folder / "11.png")), atol=1e-6)
    (folder / "05.png").unlink()
    with pytest.raises(DataError, match="view missing") as err:
        ds[0]
    assert str(folder / "05.png") in str(err.value)


def _white(rgba: np.ndarray) -> np.ndarray:
    """(H, W, 4) in [0, 1] -> (3, H, W) on white."""
    return (rgba[..., :3] * rgba[..., 3:] + 1 - rgba[..., 3:]).transpose(2, 0, 1)


@pytest.mark.parametrize(
    "kwargs",
    [{"n_views": 0}, {"view_selection": "best"}, {"split": "dev"}, {"image_size": 0}, {"background": (1.0, 2.0, 0.0)}],
)
def test_bad_options(realdata, kwargs):
    with pytest.raises(ConfigError):
        ShapeNetDataset.from_root(realdata, **{"split": "test", **kwargs})


def test_summary_counts_models_and_views(realdata):
    rows = ShapeNetDataset.from_root(realdata, split="all").summary()
    assert [(r.taxonomy_id, r.name) for r in rows] == [(t, m.removeprefix("sample-")) for t, m in REAL_MODELS.items()]
    assert all(r.models == {"train": 0, "val": 0, "test": 1} and r.views == (24, 24) for r in rows)
