import numpy as np
import pytest
import torch
from pix2vox import Pix2Vox

from mvaug.geometry.voxel_iou import voxel_iou
from mvaug.recon.checkpoint import load_reconstructor
from mvaug.recon.data import ShapeNetViews
from mvaug.recon.view_sets import iou_by_view_count


@pytest.fixture(scope="module")
def loaded(trained_run):
    return load_reconstructor(trained_run)


def test_one_view_is_the_mean_of_every_single_view_and_all_views_the_fixed_set(loaded, chairs):
    data = ShapeNetViews(chairs, "train", loaded.config)
    background, cpu = loaded.config.augment.val_background, torch.device("cpu")
    ious = iou_by_view_count(loaded.model, data, [1, 2, 4], seed=5, background=background, device=cpu, batch_size=3)
    assert {c: a.shape for c, a in ious.items()} == {1: (4, 4), 2: (4, 4), 4: (4, 4)}
    images, voxels = data.eval_batch(list(range(len(data))), 4, 5, background)
    loaded.model.eval()
    with torch.no_grad():
        single = [voxel_iou(Pix2Vox.final(loaded.model(images[:, v : v + 1])), voxels).numpy() for v in range(4)]
        pairs = [voxel_iou(Pix2Vox.final(loaded.model(images[:, v : v + 2])), voxels).numpy() for v in (0, 2)]
    np.testing.assert_allclose(ious[1], np.mean(single, axis=0), atol=1e-6)
    np.testing.assert_allclose(ious[2], np.mean(pairs, axis=0), atol=1e-6)
    with torch.no_grad():
        fixed = voxel_iou(Pix2Vox.final(loaded.model(images)), voxels).numpy()  # the whole fixed set at once
    np.testing.assert_allclose(ious[4], fixed, atol=2e-3)  # other batch sizes: a voxel at a threshold may flip


def test_counts_must_split_the_views_into_whole_sets(loaded, chairs):
    data = ShapeNetViews(chairs, "test", loaded.config)
    with pytest.raises(ValueError, match=r"\[3\]"):
        iou_by_view_count(loaded.model, data, [1, 3, 4], seed=0, background=0.9, device=torch.device("cpu"))


def test_drawn_views_set_how_many_single_views_are_averaged(loaded, chairs):
    data = ShapeNetViews(chairs, "train", loaded.config)
    background, cpu = loaded.config.augment.val_background, torch.device("cpu")
    ious = iou_by_view_count(loaded.model, data, [1], seed=5, background=background, device=cpu, drawn=4)
    four = iou_by_view_count(loaded.model, data, [1, 4], seed=5, background=background, device=cpu)
    np.testing.assert_allclose(ious[1], four[1], atol=1e-6)  # the same four views, one at a time
    two = iou_by_view_count(loaded.model, data, [1], seed=5, background=background, device=cpu, drawn=2)
    images, voxels = data.eval_batch(list(range(len(data))), 2, 5, background)
    loaded.model.eval()
    with torch.no_grad():
        single = [voxel_iou(Pix2Vox.final(loaded.model(images[:, v : v + 1])), voxels).numpy() for v in range(2)]
    np.testing.assert_allclose(two[1], np.mean(single, axis=0), atol=1e-6)
