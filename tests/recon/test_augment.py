import numpy as np
import pytest
import torch

from mvaug.recon.augment import augment_views, composite
from mvaug.recon.config import AugmentConfig

OFF = dict(brightness=0.0, contrast=0.0, saturation=0.0, lighting_noise=0.0, permute_rgb=False, flip=False)


def random_batch(seed=0, batch=4, views=3, size=8):
    g = torch.Generator().manual_seed(seed)
    rgba = torch.rand(batch, views, 4, size, size, generator=g)
    voxels = (torch.rand(batch, 32, 32, 32, generator=g) > 0.7).float()
    return rgba, voxels


def test_composite_is_alpha_blending():
    rgba = torch.tensor([0.2, 0.4, 0.6, 0.25]).view(4, 1, 1)
    out = composite(rgba, torch.tensor([1.0, 0.0, 0.5]))
    torch.testing.assert_close(out.flatten(), torch.tensor([0.2 * 0.25 + 0.75, 0.4 * 0.25, 0.6 * 0.25 + 0.375]))


def test_each_view_gets_one_light_background_colour_from_the_range():
    rgba = torch.zeros(3, 2, 4, 5, 5)  # fully transparent: the output is the background
    images, _ = augment_views(rgba, torch.zeros(3, 32, 32, 32), AugmentConfig(background_range=(0.8, 0.9), **OFF), torch.Generator().manual_seed(1))
    colours = images[..., 0, 0]  # (B, V, 3)
    assert torch.equal(images, colours[..., None, None].expand_as(images))
    assert colours.min() >= 0.8 and colours.max() <= 0.9
    assert len(torch.unique(colours.reshape(-1, 3), dim=0)) == 6


def test_with_everything_off_only_the_background_is_added():
    rgba, voxels = random_batch()
    config = AugmentConfig(background_range=(0.5, 0.5), **OFF)
    images, out_voxels = augment_views(rgba, voxels, config, torch.Generator().manual_seed(0))
    torch.testing.assert_close(images, composite(rgba, torch.full((3,), 0.5)))
    assert torch.equal(out_voxels, voxels)


def test_colour_permutation_reorders_the_channels_of_all_views_of_a_sample_alike():
    rgba, voxels = random_batch(batch=8)
    rgba[:, :, 3] = 1.0
    images, _ = augment_views(rgba, voxels, AugmentConfig(**{**OFF, "permute_rgb": True}), torch.Generator().manual_seed(2))
    permutations = set()
    for b in range(8):
        order = [next(c for c in range(3) if torch.equal(images[b, :, k], rgba[b, :, c])) for k in range(3)]
        assert sorted(order) == [0, 1, 2]
        permutations.add(tuple(order))
    assert len(permutations) > 1


def test_a_flip_mirrors_the_images_and_the_voxels_of_the_same_samples():
    rgba, voxels = random_batch(batch=16)
    images, out_voxels = augment_views(rgba, voxels, AugmentConfig(background_range=(1.0, 1.0), **{**OFF, "flip": True}), torch.Generator().manual_seed(3))
    plain = composite(rgba, torch.ones(3))
    flipped = [bool(torch.equal(images[b], plain[b].flip(-1))) for b in range(16)]
    for b in range(16):
        expected = voxels[b].flip(-1) if flipped[b] else voxels[b]
        assert torch.equal(out_voxels[b], expected)
        assert flipped[b] or torch.equal(images[b], plain[b])
    assert 0 < sum(flipped) < 16


def test_mirroring_the_voxels_along_z_is_what_a_horizontally_flipped_render_shows():
    """ShapeNet cameras: the render of the z-mirrored grid from azimuth -a is the mirror image of the grid seen from a."""
    from mvaug.geometry.camera import ShapeNetCamera
    from mvaug.viz.previews import voxel_views

    grid = np.zeros((32, 32, 32), dtype=bool)
    grid[8:24, 4:10, 6:26] = True  # a seat
    grid[8:12, 10:28, 6:26] = True  # a back at low x
    grid[20:24, 10:18, 20:26] = True  # one armrest at high z: not symmetric
    for azimuth in (30.0, 130.0):
        seen = voxel_views(grid, 1.0, [ShapeNetCamera(azimuth, 25.0, 0.0, 0.8)], 48)[0]
        mirrored = voxel_views(grid[:, :, ::-1], 1.0, [ShapeNetCamera(-azimuth, 25.0, 0.0, 0.8)], 48)[0]
        wrong_axis = voxel_views(grid[::-1], 1.0, [ShapeNetCamera(-azimuth, 25.0, 0.0, 0.8)], 48)[0]
        silhouette = seen.min(-1)[:, ::-1] < 250  # shading differs: the renderer's light stays put
        assert np.array_equal(mirrored.min(-1) < 250, silhouette)
        assert ((wrong_axis.min(-1) < 250) != silhouette).mean() > 0.05


def test_the_same_generator_seed_gives_the_same_batch():
    rgba, voxels = random_batch()
    one = augment_views(rgba, voxels, AugmentConfig(), torch.Generator().manual_seed(9))
    two = augment_views(rgba, voxels, AugmentConfig(), torch.Generator().manual_seed(9))
    three = augment_views(rgba, voxels, AugmentConfig(), torch.Generator().manual_seed(10))
    assert torch.equal(one[0], two[0]) and torch.equal(one[1], two[1])
    assert not torch.equal(one[0], three[0])
    assert one[0].min() >= 0 and one[0].max() <= 1


@pytest.mark.parametrize("field", ["brightness", "contrast", "saturation"])
def test_colour_jitter_changes_colours_but_not_the_shape(field):
    rgba, voxels = random_batch()
    config = AugmentConfig(background_range=(1.0, 1.0), **{**OFF, field: 0.4})
    images, _ = augment_views(rgba, voxels, config, torch.Generator().manual_seed(4))
    assert images.shape == (4, 3, 3, 8, 8)
    assert not torch.allclose(images, composite(rgba, torch.ones(3)))


def test_low_res_views_are_picked_per_view_and_lose_their_fine_detail():
    rgba, voxels = random_batch(batch=8, views=4, size=16)
    rgba[:, :, 3] = 1.0  # opaque: the background plays no part
    sharp = composite(rgba, torch.full((3,), 0.5))
    config = AugmentConfig(background_range=(0.5, 0.5), low_res_prob=0.5, low_res_size=4, **OFF)
    images, _ = augment_views(rgba, voxels, config, torch.Generator().manual_seed(2))
    changed = (images - sharp).abs().amax(dim=(-3, -2, -1)) > 1e-6  # (B, V)
    assert 0 < changed.sum() < changed.numel() and not (changed.all(1) | ~changed.any(1)).all()  # per view, not per sample
    block_means = sharp.unfold(-2, 4, 4).unfold(-2, 4, 4).mean(dim=(-2, -1))  # (B, V, 3, 4, 4): the 4 px picture
    reduced = torch.nn.functional.interpolate(images[changed], size=(4, 4), mode="area")
    assert (reduced - block_means[changed]).abs().mean() < 0.03  # the coarse picture is kept
    assert images[changed].std() < 0.7 * sharp[changed].std()  # the pixel noise is gone
    with pytest.raises(ValueError, match="low_res_prob"):
        AugmentConfig(low_res_prob=1.5)


def test_low_res_sharp_first_keeps_the_first_view_of_every_sample_sharp():
    rgba, voxels = random_batch(batch=8, views=4, size=16)
    sharp = composite(rgba, torch.full((3,), 0.5))
    config = AugmentConfig(background_range=(0.5, 0.5), low_res_prob=0.9, low_res_size=4, low_res_sharp_first=True, **OFF)
    images, _ = augment_views(rgba, voxels, config, torch.Generator().manual_seed(2))
    changed = (images - sharp).abs().amax(dim=(-3, -2, -1)) > 1e-6  # (B, V)
    assert not changed[:, 0].any() and changed[:, 1:].float().mean() > 0.7

