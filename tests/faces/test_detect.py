import numpy as np
import pytest
import torch
from PIL import Image
from skimage.data import astronaut

from mvaug.errors import DataError
from mvaug.faces.detect import FaceBox, crop_around, detect_faces, load_face_image


def test_the_astronaut_photo_has_its_face_found_where_it_is():
    boxes = detect_faces(astronaut())  # (512, 512, 3), the face is in the upper middle
    assert boxes and boxes[0].area == max(b.area for b in boxes)
    face = boxes[0]
    centre = (face.row + face.height / 2, face.col + face.width / 2)
    assert 60 < centre[0] < 170 and 200 < centre[1] < 280 and 70 <= face.height <= 130


def test_crop_around_is_a_square_centred_on_the_box_and_padded_at_the_border():
    image = np.arange(20 * 30 * 3, dtype=np.uint8).reshape(20, 30, 3)
    crop = crop_around(image, FaceBox(row=5, col=10, height=4, width=4), margin=0.5)
    assert crop.shape == (8, 8, 3)
    np.testing.assert_array_equal(crop, image[3:11, 8:16])  # centre (7, 12), side 8
    corner = crop_around(image, FaceBox(row=0, col=0, height=4, width=4), margin=0.5)  # leaves the picture
    assert corner.shape == (8, 8, 3)
    np.testing.assert_array_equal(corner[0, 0], image[0, 0])  # edge-padded


def test_load_face_image_crops_photos_and_leaves_small_crops_alone(tmp_path):
    photo = tmp_path / "astronaut.jpg"
    Image.fromarray(astronaut()).save(photo)
    face = load_face_image(photo, 64)  # 512 >= 3 x 64: a photo, cut to the face
    whole = load_face_image(photo, 64, mode="none")
    assert face.shape == whole.shape == (3, 64, 64) and face.dtype == torch.float32
    assert float((face - whole).abs().mean()) > 0.05  # a different picture: the crop
    small = tmp_path / "render.png"
    Image.fromarray(np.full((96, 96, 3), 120, np.uint8)).save(small)  # < 3 x 64: taken as a face crop
    np.testing.assert_allclose(load_face_image(small, 64).numpy(), 120 / 255, atol=1e-6)


def test_a_photo_without_a_face_is_a_clear_error(tmp_path):
    blank = tmp_path / "wall.png"
    Image.fromarray(np.full((300, 300, 3), 200, np.uint8)).save(blank)
    with pytest.raises(DataError, match="no face found.*--face-crop none") as err:
        load_face_image(blank, 64)
    assert err.value.path == str(blank)
    with pytest.raises(DataError, match="no face found"):
        load_face_image(blank, 256, mode="detect")
