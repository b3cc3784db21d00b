import numpy as np
import pytest
import torch
from mvfnet import project_landmarks

from mvaug.faces.dataset import FaceTripletDataset, load_face_model
from mvaug.faces.pose import project, rotation_from_angles
from mvaug.recon.face_data import (
    FaceTriplets,
    augment_views,
    normalized_to_pixels,
    pixels_to_normalized,
    pose_to_normalized,
    pose_to_pixels,
    resize_views,
    rotation_angles,
)

from tests.recon.face_fixtures import one_thread, tiny_faces  # noqa: F401


def test_frame_conversion_of_hand_worked_points():
    # S = 64: the image centre is (0, 0); the top-left corner is (-1, +1) because y points up.
    points = torch.tensor([[32.0, 32.0], [0.0, 0.0], [64.0, 48.0]])
    expected = torch.tensor([[0.0, 0.0], [-1.0, 1.0], [1.0, -0.5]])
    torch.testing.assert_close(pixels_to_normalized(points, 64), expected)
    torch.testing.assert_close(normalized_to_pixels(expected, 64), points)
    log_scale, translation = pose_to_normalized(torch.tensor([0.25]), torch.tensor([[40.0, 24.0]]), 64)
    torch.testing.assert_close(log_scale, torch.log(torch.tensor([0.5 / 64])))
    torch.testing.assert_close(translation, torch.tensor([[0.25, 0.25]]))
    scale, pixels = pose_to_pixels(log_scale, translation, 64)
    torch.testing.assert_close(scale, torch.tensor([0.25]))
    torch.testing.assert_close(pixels, torch.tensor([[40.0, 24.0]]))


@pytest.mark.parametrize("image_size", [32, 64])
def test_stored_coefficients_projected_with_the_converted_pose_give_the_converted_landmarks(tiny_faces, image_size):
    triplets = FaceTriplets.load(tiny_faces, "all", image_size, [(45.0, 0.0)])
    model = load_face_model(tiny_faces)
    projected = project_landmarks(model.landmarks, None, triplets.id_coef, triplets.exp_coef, triplets.rotation, triplets.translation, triplets.log_scale)
    assert projected.shape == triplets.landmarks.shape == (4, 3, 68, 2)
    # the annotations are rounded to 1e-4 px; the normalised frame has S / 2 pixels per unit
    assert float((projected - triplets.landmarks).abs().max()) * image_size / 2 < 1e-3
    # and the same in pixels through the face data's own projection (v down)
    marks = model.landmarks(triplets.id_coef, triplets.exp_coef)[:, None]
    scale, translation = pose_to_pixels(triplets.log_scale, triplets.translation, image_size)
    pixels = project(marks, triplets.rotation, scale, translation)
    torch.testing.assert_close(normalized_to_pixels(triplets.landmarks, image_size), pixels, atol=1e-3, rtol=0)


def test_left_is_the_view_turned_to_the_image_left(tiny_faces):
    dataset = FaceTripletDataset(tiny_faces, "all", side_yaw=45)
    item = dataset[0]
    nose_tip = item["landmarks"][:, 30, 0]
    jaw_middle = 0.5 * (item["landmarks"][:, 0, 0] + item["landmarks"][:, 16, 0])
    assert nose_tip[1] < jaw_middle[1] and nose_tip[2] > jaw_middle[2]  # left view: nose towards the image left
    assert abs(float(nose_tip[0] - jaw_middle[0])) < abs(float(nose_tip[1] - jaw_middle[1]))
    yaws = [rotation_angles(r)[0] for r in item["rotation"]]
    assert yaws == pytest.approx([0.0, -45.0, 45.0], abs=1e-4)


def test_rotation_angles_invert_the_face_convention():
    rng = np.random.default_rng(0)
    for yaw, pitch, roll in rng.uniform([-89, -60, -30], [89, 60, 30], size=(20, 3)):
        angles = rotation_angles(torch.from_numpy(rotation_from_angles(yaw, pitch, roll)))
        assert angles == pytest.approx((yaw, pitch, roll), abs=1e-6)


def test_augmentation_keeps_the_front_view_and_is_reproducible():
    images = torch.rand(3, 3, 3, 32, 32)
    out = augment_views(images, torch.Generator().manual_seed(1), low_res_prob=1.0, low_res_size=8, brightness=0.0)
    torch.testing.assert_close(out[:, 0], images[:, 0], rtol=0, atol=0)
    torch.testing.assert_close(out[:, 1:], resize_views(resize_views(images[:, 1:], 8), 32), rtol=0, atol=0)
    again = augment_views(images, torch.Generator().manual_seed(1), 0.5, 8, 0.2)
    torch.testing.assert_close(again, augment_views(images, torch.Generator().manual_seed(1), 0.5, 8, 0.2), rtol=0, atol=0)
    untouched = augment_views(images, torch.Generator().manual_seed(1), 0.0, 8, 0.0)
    torch.testing.assert_close(untouched, images, rtol=0, atol=0)
    brighter = augment_views(torch.full((1, 3, 3, 4, 4), 0.5), torch.Generator().manual_seed(2), 0.0, 8, 0.2)
    factors = brighter[0, :, 0, 0, 0] / 0.5
    assert ((factors >= 0.8) & (factors <= 1.2)).all() and torch.equal(brighter[0].amax((1, 2, 3)), brighter[0].amin((1, 2, 3)))


def test_several_poses_give_one_triplet_per_identity_and_pose(tiny_faces):
    triplets = FaceTriplets.load(tiny_faces, "train", 32, [(45.0, 0.0), (40.0, 0.0)])
    assert len(triplets) == 4 and triplets.poses == [(45.0, 0.0)] * 2 + [(40.0, 0.0)] * 2
    assert triplets.images.dtype == torch.uint8 and triplets.images.shape == (4, 3, 3, 32, 32)
    assert float(triplets.float_images(torch.tensor([0])).max()) == pytest.approx(float(triplets.images[0].max()) / 255.0, rel=1e-6)
