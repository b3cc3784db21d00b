import numpy as np
import pytest
import trimesh

from mvaug.geometry.voxel_boxes import voxel_box_mesh


def test_exposed_faces_only_and_closed_outward_surface():
    occ = np.zeros((4, 4, 4), dtype=bool)
    occ[1:3, 1:3, 1] = True  # a 2x2x1 slab ...
    occ[1, 1, 2] = True  # ... with one voxel on top
    vertices, faces = voxel_box_mesh(occ, side=4.0)  # voxel edge 1
    # exposed quads: slab 2*4 + 4*2 = 16 faces, minus the one covered by the top voxel, plus its 5
    assert len(faces) == 2 * (16 - 1 + 5)
    mesh = trimesh.Trimesh(vertices, faces)
    mesh.merge_vertices()
    assert mesh.is_watertight and mesh.is_winding_consistent
    assert mesh.volume == pytest.approx(5.0)  # positive: normals point out


def test_placement_follows_the_shapenetvox32_convention():
    occ = np.zeros((8, 8, 8), dtype=bool)
    occ[7, 0, 0] = True  # last x, first y, first k (= most positive world z)
    vertices, _ = voxel_box_mesh(occ, side=2.0)
    np.testing.assert_allclose(vertices.min(0), [0.75, -1.0, 0.75])
    np.testing.assert_allclose(vertices.max(0), [1.0, -0.75, 1.0])


def test_empty_grid_gives_empty_mesh():
    vertices, faces = voxel_box_mesh(np.zeros((3, 3, 3), dtype=bool))
    assert vertices.shape == (0, 3) and faces.shape == (0, 3)
