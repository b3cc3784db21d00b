from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate

from mvaug.data.chairs3d import Chairs3DDataset
from mvaug.errors import DataError
from mvaug.io.images import write_png

# chair hash -> its (elevation, azimuth) views; the sets overlap, so view indices must be shared
CHAIRS = {
    "1a6f615e8b1b5ae4dbbc9440457e303e": [(20, 0), (30, 11)],
    "1b05971a4373c7d2463600025db2266": [(20, 0), (20, 11), (30, 11)],
    "2a0e8f5b7c3d4e1f9a8b7c6d5e4f3a2b": [(30, 348)],
}
VIEWS = [(20.0, 0.0), (20.0, 11.0), (30.0, 11.0), (30.0, 348.0)]


def render(chair: int, view: int) -> np.ndarray:
    """A 60x60 white render whose central 40x40 block has a colour coding (chair, view)."""
    image = np.full((60, 60, 3), 255, dtype=np.uint8)
    image[10:50, 10:50] = (40 * chair, 50 * view, 7)
    return image


def make_chairs(root: Path) -> Path:
    for chair, (name, views) in enumerate(CHAIRS.items()):
        for number, (el, az) in enumerate(views):
            view = VIEWS.index((el, az))
            path = root / "rendered_chairs" / name / "renders" / f"image_{number:03d}_p{el:03d}_t{az:03d}_r096.png"
            write_png(path, render(chair, view))
    (root / "rendered_chairs" / "all_chair_names.mat").write_bytes(b"MATLAB")
    return root


@pytest.fixture
def chairs(tmp_path) -> Path:
    return make_chairs(tmp_path / "chairs")


def test_labels_and_shared_view_indices(chairs):
    ds = Chairs3DDataset(chairs, image_size=None, crop=40)
    assert ds.chairs == sorted(CHAIRS)
    assert ds.views == VIEWS
    assert len(ds) == 6
    seen = set()
    for item in ds:
        chair, view = int(item["chair_index"]), int(item["view_index"])
        assert item["chair_index"].dtype == torch.long and item["view_index"].dtype == torch.long
        assert Path(item["path"]).parts[-3] == ds.chairs[chair]
        assert (float(item["elevation"]), float(item["azimuth"])) == VIEWS[view]
        assert (VIEWS[view][0], VIEWS[view][1]) in [(float(e), float(a)) for e, a in CHAIRS[ds.chairs[chair]]]
        expected = torch.tensor([40 * chair, 50 * view, 7], dtype=torch.float32) / 255  # the colour encodes both labels
        torch.testing.assert_close(item["image"], expected.view(3, 1, 1).expand(3, 40, 40))
        seen.add((chair, view))
    assert seen == {(0, 0), (0, 2), (1, 0), (1, 1), (1, 2), (2, 3)}


def test_root_may_be_rendered_chairs_or_its_parent(chairs):
    a, b = Chairs3DDataset(chairs), Chairs3DDataset(chairs / "rendered_chairs")
    assert [r.path for r in a.renders] == [r.path for r in b.renders]


@pytest.mark.parametrize(
    "image_size, crop, shape, white_border",
    [(None, None, (3, 60, 60), 10), (None, 44, (3, 44, 44), 2), (30, None, (3, 30, 30), 5), (8, 40, (3, 8, 8), 0)],
)
def test_crop_and_resize(chairs, image_size, crop, shape, white_border):
    ds = Chairs3DDataset(chairs, image_size=image_size, crop=crop)
    index = next(i for i, r in enumerate(ds.renders) if r.chair_index == 1 and (r.elevation, r.azimuth) == (20.0, 11.0))
    image = ds[index]["image"]
    assert image.shape == shape and image.dtype == torch.float32
    colour = torch.tensor([40, 50, 7], dtype=torch.float32).view(3, 1) / 255
    size, b = shape[1], white_border
    inner = image[:, b + 1 : size - b - 1, b + 1 : size - b - 1].reshape(3, -1)
    torch.testing.assert_close(inner, colour.expand_as(inner), atol=1e-6, rtol=0)
    if b:
        assert torch.all(image[:, : b - 1] == 1) and torch.all(image[:, size - b + 1 :] == 1)
        assert torch.all(image[:, :, : b - 1] == 1) and torch.all(image[:, :, size - b + 1 :] == 1)


def test_batches_collate(chairs):
    ds = Chairs3DDataset(chairs, image_size=16, crop=40)
    batch = default_collate([ds[i] for i in range(4)])
    assert batch["image"].shape == (4, 3, 16, 16)
    assert batch["view_index"].shape == (4,) and batch["view_index"].dtype == torch.long
    assert batch["azimuth"].dtype == torch.float32


def test_crop_larger_than_render_names_it(chairs):
    ds = Chairs3DDataset(chairs, crop=61)
    with pytest.raises(DataError, match="60x60, smaller than the 61x61 crop") as err:
        ds[0]
    assert str(ds.renders[0].path) in str(err.value)


def test_bad_render_name_is_an_error_but_other_files_are_ignored(chairs):
    renders = chairs / "rendered_chairs" / sorted(CHAIRS)[1] / "renders"
    (renders / "readme.txt").write_text("not an image")
    assert len(Chairs3DDataset(chairs)) == 6
    write_png(renders / "image_003_p020_t011.png", render(0, 0))  # no distance field
    with pytest.raises(DataError, match="does not match") as err:
        Chairs3DDataset(chairs)
    assert str(renders / "image_003_p020_t011.png") in str(err.value)


def test_missing_or_empty_folders(tmp_path, chairs):
    with pytest.raises(DataError, match="not found") as err:
        Chairs3DDataset(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(err.value)
    (tmp_path / "empty" / "rendered_chairs").mkdir(parents=True)
    with pytest.raises(DataError, match="no chair folders") as err:
        Chairs3DDataset(tmp_path / "empty")
    assert str(tmp_path / "empty" / "rendered_chairs") in str(err.value)
    bare = chairs / "rendered_chairs" / "ffff" / "renders"
    bare.mkdir(parents=True)
    with pytest.raises(DataError, match="no renders") as err:
        Chairs3DDataset(chairs)
    assert str(bare) in str(err.value)
    bare.rmdir()
    with pytest.raises(DataError, match="renders folder not found") as err:
        Chairs3DDataset(chairs)
    assert str(bare) in str(err.value)
