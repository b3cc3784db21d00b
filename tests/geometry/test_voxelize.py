import numpy as np
import pytest
import trimesh

from mvaug.geometry.voxel_grid import voxel_centres
from mvaug.geometry.voxelize import normalize_mesh, voxelize_mesh


def test_normalize_mesh_centres_and_scales_diagonal():
    v = np.array([[1.0, 2.0, 3.0], [4.0, 6.0, 3.5], [2.0, 2.5, 9.0]])
    n = normalize_mesh(v)
    lo, hi = n.min(0), n.max(0)
    np.testing.assert_allclose((lo + hi) / 2, 0, atol=1e-12)
    assert np.linalg.norm(hi - lo) == pytest.approx(1.0)


def test_solid_box_fills_exactly_its_voxels():
    """A box spanning the whole cube in x and y and half of it in z: solid, and mirrored in z."""
    box = trimesh.creation.box((0.8, 0.8, 0.4)).apply_translation((0, 0, 0.2 + 1e-9))
    vertices = box.vertices - (box.bounds[0] + box.bounds[1]) / 2  # centred: z spans [-0.2, 0.2]
    vox = voxelize_mesh(vertices, box.faces, 32)
    assert vox.scale == pytest.approx(0.8)
    assert vox.translate == pytest.approx((-0.4, -0.4, -0.2))
    occ = vox.data
    # z spans [-0.2, 0.2] = the middle half of the cube; faces on voxel boundaries may claim one more layer each side
    assert occ[:, :, 9:23].all()
    assert not occ[:, :, :7].any() and not occ[:, :, 25:].any()
    assert occ[5, 5, 16]  # interior filled, not a shell


def test_z_axis_is_mirrored_like_shapenetvox32():
    parts = [trimesh.creation.box((0.6, 0.1, 0.6)), trimesh.creation.box((0.1, 0.1, 0.1)).apply_translation((0, 0.25, 0.25))]
    mesh = trimesh.util.concatenate(parts)
    vertices = mesh.vertices - mesh.bounds.mean(0)
    occ = voxelize_mesh(vertices, mesh.faces, 32).data
    upper = np.argwhere(occ[:, 24:, :])  # the small cube sits high (large y) ...
    assert len(upper) > 0
    assert upper[:, 2].max() < 16  # ... and at world +z, which is array k < 16
    mesh.vertices = vertices
    all_idx = np.argwhere(np.ones_like(occ))
    inside = mesh.contains(voxel_centres(all_idx, 32, 0.6))
    assert occ[tuple(all_idx[inside].T)].all()  # complete: every voxel whose centre is inside is set
    pitch = 0.6 / 32
    distance = trimesh.proximity.signed_distance(mesh, voxel_centres(np.argwhere(occ), 32, 0.6))
    assert distance.min() > -0.87 * pitch  # sound: set voxels touch the mesh (trimesh: outside < 0)


def test_thin_plate_is_not_lost():
    plate = trimesh.creation.box((0.8, 0.004, 0.8))  # far thinner than a voxel (0.025)
    occ = voxelize_mesh(plate.vertices, plate.faces, 32).data
    assert occ.sum() >= 32 * 32 and occ.sum() <= 3 * 32 * 32


def test_uncentred_mesh_is_rejected():
    box = trimesh.creation.box((0.2, 0.2, 0.2)).apply_translation((0.3, 0, 0))
    with pytest.raises(ValueError, match="centred"):
        voxelize_mesh(box.vertices, box.faces)
