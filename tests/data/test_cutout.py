"""The GrabCut cut-out of objects in cluttered photos: real ShapeNet renders pasted on scikit-image's photographs."""

import numpy as np
import pytest
import torch
from PIL import Image

from mvaug.data import cutout as cutout_module
from mvaug.data.composite import SCENES, mask_iou, paste_object, scene_image
from mvaug.data.cutout import cut_out
from mvaug.data.transforms import resize_square, to_tensor
from mvaug.data.user_image import UserImageOptions, frame_image, prepare_user_image
from mvaug.io.images import read_image

COLOURFUL_SCENES = ("coffee-table", "coffee-saucer", "cat-room", "rocket-left", "rocket-right")
"""The scenes whose colours differ from the renders' grey and white (what the cut-out relies on); the grey
ones (astronaut-*, garage-*) defeat it, as scripts/eval_cutout.py shows."""


def first_views(realdata):
    """The first render (view 00) of each real ShapeNet sample: aeroplane, bench, car, lamp."""
    return [read_image(path, "RGBA") for path in sorted(realdata.glob("ShapeNetRendering/*/*/rendering/00.png"))]


def opaque(photo: np.ndarray) -> np.ndarray:
    return np.concatenate([photo, np.full(photo.shape[:2] + (1,), 255, np.uint8)], axis=-1)


def test_renders_pasted_on_photographs_are_cut_out_far_better_than_the_whole_image(realdata):
    renders = first_views(realdata)
    assert len(renders) == 4
    scores = []
    for scene in COLOURFUL_SCENES:
        for render in renders:
            photo, truth = paste_object(render, scene_image(scene))
            prepared = frame_image(opaque(photo), 64)
            assert prepared.cutout is not None, (scene, prepared.notes)  # the border is not uniform: the cut-out path
            found = prepared.cutout[..., 3] > 127
            cut, whole = mask_iou(found, truth), mask_iou(np.ones_like(truth), truth)
            assert cut > 0.5 and cut > whole + 0.4, (scene, cut, whole)
            scores.append(cut)
    assert len(scores) == 20 and np.mean(scores) >= 0.85, np.round(scores, 3)


def test_the_cut_is_deterministic_and_follows_the_photo_at_full_resolution(realdata):
    render = first_views(realdata)[1]  # the bench
    photo, truth = paste_object(render, scene_image("rocket-left"))
    large = np.asarray(Image.fromarray(photo).resize((photo.shape[1] * 3, photo.shape[0] * 3), Image.Resampling.BICUBIC))
    large_truth = truth.repeat(3, axis=0).repeat(3, axis=1)
    mask = cut_out(large)  # cut at WORK_SIDE, scaled back
    assert mask.shape == large.shape[:2] and set(np.unique(mask)) <= {0, 255}
    assert max(large.shape[:2]) > 2 * cutout_module.WORK_SIDE
    assert mask_iou(mask > 0, large_truth) > 0.85
    np.testing.assert_array_equal(cut_out(large), mask)


def test_something_found_only_away_from_the_middle_leaves_the_whole_image(caplog):
    photo = scene_image("rocket-right")
    height, width = photo.shape[:2]
    centred = np.s_[height // 2 - 20 : height // 2 + 20, width // 2 - 15 : width // 2 + 15]
    middle, corner = photo.copy(), photo.copy()
    middle[centred] = (220, 30, 30)
    corner[20:60, 15:45] = (220, 30, 30)  # the same red block, in the top-left quarter
    assert (cut_out(middle)[centred] == 255).all()
    assert not cut_out(corner).any()
    assert not cut_out(np.random.default_rng(0).integers(0, 256, (3, 3, 3), dtype=np.uint8)).any()  # no room inside the border
    prepared = frame_image(opaque(corner), 32)
    assert prepared.cutout is None and "using the whole image" in caplog.text
    assert any("whole image is used" in note for note in prepared.notes)


def test_without_the_cutout_a_cluttered_photo_is_used_whole(realdata):
    photo, _ = paste_object(first_views(realdata)[2], scene_image("coffee-saucer"))
    prepared = frame_image(opaque(photo), 48, options=UserImageOptions(cutout=False))
    assert prepared.cutout is None
    side = max(photo.shape[:2])
    square = np.zeros((side, side, 4), np.uint8)  # the photo centred on a transparent square, as before the cut-out
    top, left = (side - photo.shape[0]) // 2, (side - photo.shape[1]) // 2
    square[top : top + photo.shape[0], left : left + photo.shape[1]] = opaque(photo)
    assert torch.equal(prepared.tensor, to_tensor(resize_square(square, 48)))
    assert not torch.equal(frame_image(opaque(photo), 48).tensor, prepared.tensor)  # the cut-out crops to the object


def uniform_photo() -> np.ndarray:
    photo = np.full((90, 120, 3), (70, 130, 80), np.uint8)  # a green backdrop
    photo[20:75, 40:85] = (200, 40, 40)
    return photo


def rgba_render(realdata) -> np.ndarray:
    return first_views(realdata)[3]  # the lamp, with transparent pixels


@pytest.mark.parametrize("kind", ["rgba", "uniform"])
def test_rgba_and_uniform_background_images_are_framed_exactly_as_before(realdata, tmp_path, monkeypatch, kind):
    """The cut-out only touches opaque images with a cluttered border: these are framed without it, byte for byte."""
    image = rgba_render(realdata) if kind == "rgba" else opaque(uniform_photo())
    path = tmp_path / f"{kind}.png"
    Image.fromarray(image).save(path)
    before = prepare_user_image(path, 64, options=UserImageOptions(cutout=False))

    def never(rgb):
        raise AssertionError("cut_out called for an image that needs no cut-out")

    monkeypatch.setattr(cutout_module, "cut_out", never)
    after = prepare_user_image(path, 64)
    assert after.cutout is None and after.notes == before.notes
    assert torch.equal(after.tensor, before.tensor)
    assert any(("alpha channel" if kind == "rgba" else "estimated from the border") in note for note in after.notes)


def test_a_render_is_pasted_centred_at_the_chosen_fill(realdata):
    render = first_views(realdata)[0]  # the aeroplane: wider than tall
    backdrop = scene_image("rocket-right")
    photo, truth = paste_object(render, backdrop, fill=0.6)
    rows, cols = np.nonzero(truth)
    height, width = truth.shape
    extent = max((np.ptp(rows) + 1) / height, (np.ptp(cols) + 1) / width)
    assert abs(extent - 0.6) < 0.04  # the mask is the alpha above one half, a few edge pixels short of the box
    assert abs((rows.min() + rows.max()) / 2 - height / 2) < 3 and abs((cols.min() + cols.max()) / 2 - width / 2) < 3
    outside = np.ones_like(truth)
    outside[rows.min() - 2 : rows.max() + 3, cols.min() - 2 : cols.max() + 3] = False
    np.testing.assert_array_equal(photo[outside], backdrop[outside])
    for name in SCENES:
        assert max(scene_image(name).shape[:2]) == 240
