import logging

import numpy as np
import pytest
import torch
from PIL import Image

from mvaug.data.transforms import load_image
from mvaug.data.user_image import UserImageOptions, load_user_image, prepare_user_image
from mvaug.errors import DataError


def _save(path, array, mode=None, exif=None):
    image = Image.fromarray(array, mode) if mode else Image.fromarray(array)
    if exif is not None:
        image.save(path, exif=exif)
    else:
        image.save(path)
    return path


def _object_box(tensor: torch.Tensor, background=(1.0, 1.0, 1.0)):
    """(top, left, bottom, right) of pixels differing from the background in a (3, S, S) tensor."""
    diff = (tensor - torch.tensor(background).view(3, 1, 1)).abs().amax(0) > 0.2
    rows, cols = torch.nonzero(diff, as_tuple=True)
    return int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1


def test_rgba_object_is_cropped_centred_and_fills_the_frame(tmp_path):
    canvas = np.zeros((300, 500, 4), dtype=np.uint8)
    canvas[20:80, 350:470] = (200, 30, 30, 255)  # a 60 x 120 object near the top-right corner
    path = _save(tmp_path / "chair.png", canvas)
    out = load_user_image(path, 64, options=UserImageOptions(fill=0.8))
    assert out.shape == (3, 64, 64)
    top, left, bottom, right = _object_box(out)
    assert abs((right - left) / 64 - 0.8) < 0.05  # the longer side spans `fill`
    assert abs((top + bottom) / 2 - 32) <= 1.5 and abs((left + right) / 2 - 32) <= 1.5
    corner = out[:, 0, 0]
    assert torch.allclose(corner, torch.ones(3))  # transparent -> the training background


def test_rgb_background_is_estimated_from_the_border_and_replaced(tmp_path):
    image = np.full((120, 160, 3), (90, 140, 90), dtype=np.uint8)  # green backdrop
    image[30:90, 40:120] = (20, 20, 200)
    path = _save(tmp_path / "photo.jpg", image)
    result = prepare_user_image(path, 32, background=(1.0, 1.0, 1.0))
    assert any("estimated from the border" in note for note in result.notes)
    out = result.tensor
    assert torch.allclose(out[:, 0, 0], torch.ones(3), atol=0.02)  # backdrop became white
    centre = out[:, 16, 16]
    assert centre[2] > 0.7 and centre[0] < 0.2  # the blue object stays blue


def test_non_uniform_background_without_cutout_keeps_the_whole_image_and_warns(tmp_path, caplog):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, size=(64, 64, 3), dtype=np.uint8)
    path = _save(tmp_path / "noise.png", image)
    with caplog.at_level(logging.WARNING, logger="mvaug.data.user_image"):
        out = load_user_image(path, 64, options=UserImageOptions(cutout=False))
    assert "not uniform" in caplog.text
    assert torch.allclose(out, torch.tensor(image).permute(2, 0, 1).float() / 255.0, atol=1e-6)


def test_a_known_drawing_background_masks_an_image_whose_border_is_not_uniform(tmp_path, caplog):
    image = np.full((64, 64, 3), 255, dtype=np.uint8)  # drawn on white
    image[20:44, 0:64] = (200, 30, 30)  # the object runs off both sides: the border is not uniform
    path = _save(tmp_path / "bench.png", image)
    with caplog.at_level(logging.WARNING, logger="mvaug.data.user_image"):
        result = prepare_user_image(path, 64, background=(0.5, 0.5, 0.5), options=UserImageOptions(framing="keep", cutout=False, drawn_on=(1.0, 1.0, 1.0)))
    assert "not uniform" not in caplog.text and any("known background colour" in note for note in result.notes)
    out = result.tensor
    assert torch.allclose(out[:, 5, 32], torch.full((3,), 0.5), atol=0.01)  # white became the asked background
    assert torch.allclose(out[:, 32, 2], torch.tensor([200, 30, 30]) / 255.0, atol=0.02)  # the object stays
    whole = prepare_user_image(path, 64, background=(0.5, 0.5, 0.5), options=UserImageOptions(framing="keep", cutout=False))
    assert torch.allclose(whole.tensor[:, 5, 32], torch.ones(3), atol=0.01)  # without it the white stays


def test_framed_render_is_left_as_training_loads_it(tmp_path):
    render = np.zeros((137, 137, 4), dtype=np.uint8)
    render[30:110, 50:90] = (60, 120, 180, 255)
    path = _save(tmp_path / "00.png", render)
    assert torch.allclose(load_user_image(path, 64), load_image(path, 64), atol=1e-6)


def test_exif_orientation_is_applied(tmp_path):
    image = np.full((40, 80, 3), 255, dtype=np.uint8)
    image[:, :20] = (0, 0, 0)  # a black band on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": the band ends up at the top
    path = _save(tmp_path / "phone.jpg", image, exif=exif)
    out = load_user_image(path, 40, options=UserImageOptions(framing="keep"))
    gray = out.mean(0)  # the upright image is 40 wide, 80 tall, padded to 80 x 80: columns 10-30 at 40 px
    assert gray[:8, 12:28].mean() < 0.2 and gray[-20:, 12:28].mean() > 0.8


def test_grayscale_image_gives_three_equal_channels(tmp_path):
    image = np.full((50, 50), 255, dtype=np.uint8)
    image[10:40, 10:40] = 40
    out = load_user_image(_save(tmp_path / "gray.png", image, "L"), 32)
    assert torch.allclose(out[0], out[1]) and torch.allclose(out[1], out[2])
    assert out[0, 16, 16] < 0.3


def test_empty_and_corrupt_images_name_the_file(tmp_path):
    empty = _save(tmp_path / "empty.png", np.zeros((20, 20, 4), dtype=np.uint8))
    with pytest.raises(DataError, match="no object") as err:
        load_user_image(empty, 32)
    assert "empty.png" in str(err.value)
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(DataError, match="corrupt.png"):
        load_user_image(corrupt, 32)


def test_options_are_validated():
    with pytest.raises(ValueError, match="framing"):
        UserImageOptions(framing="zoom")
    with pytest.raises(ValueError, match="fill"):
        UserImageOptions(fill=0.0)
