import numpy as np
import pytest
import trimesh

from mvaug.errors import DataError
from mvaug.geometry.voxel_grid import grid_to_world
from mvaug.geometry.voxel_mesh import MESH_SUFFIXES, export_mesh, voxels_to_mesh
from mvaug.io.binvox import read_binvox


def _extent(lo: np.ndarray, hi: np.ndarray, dim: int, side: float) -> np.ndarray:
    """World bounds (2, 3) of the grid box from corner ``lo`` to corner ``hi`` (grid units)."""
    corners = grid_to_world(np.stack([lo, hi]).astype(float), dim, side)
    return np.stack([corners.min(0), corners.max(0)])


def _bevelled_box_volume(a: int, b: int, c: int) -> float:
    """Volume (voxel units) of marching cubes at level 0.5 around a solid a x b x c box.

    The faces lie on the voxel faces; each of the 12 edges is bevelled by a prism whose cross-section
    is a right triangle with legs 1/2 (area 1/8), so 4 (a + b + c) / 8 goes; the three prisms that meet
    at a corner overlap there by 1/12 voxel, given back 8 times. A single voxel becomes the octahedron
    of volume 1/6 = 1 - 3/2 + 2/3.
    """
    return a * b * c - (a + b + c) / 2 + 2 / 3


def _box_grid(dim: int, lo: tuple[int, int, int], hi: tuple[int, int, int]) -> np.ndarray:
    grid = np.zeros((dim, dim, dim), dtype=bool)
    grid[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] = True
    return grid


@pytest.mark.parametrize(("lo", "hi"), [((2, 1, 3), (6, 7, 5)), ((0, 0, 0), (8, 8, 8)), ((7, 0, 3), (8, 1, 4))])
def test_solid_box_is_watertight_with_expected_volume_and_bounds(lo, hi):
    dim, side = 8, 0.8
    mesh = voxels_to_mesh(_box_grid(dim, lo, hi), side=side)
    assert mesh.is_watertight and mesh.is_winding_consistent
    a, b, c = np.subtract(hi, lo)
    voxel_volume = (side / dim) ** 3
    assert mesh.volume == pytest.approx(_bevelled_box_volume(a, b, c) * voxel_volume, rel=1e-9)
    # looser statement of the same: the bevels remove at most (a + b + c) / 2 voxels, never add any
    assert (a * b * c - (a + b + c) / 2) * voxel_volume <= mesh.volume <= a * b * c * voxel_volume
    np.testing.assert_allclose(mesh.bounds, _extent(np.array(lo), np.array(hi), dim, side), atol=1e-12)
    assert np.all(np.abs(mesh.bounds) <= side / 2 + 1e-12)


def test_normals_point_outwards():
    mesh = voxels_to_mesh(_box_grid(8, (2, 1, 3), (6, 7, 5)), side=2.0)
    centre = mesh.bounds.mean(0)
    assert mesh.volume > 0
    assert np.all(np.einsum("ij,ij->i", mesh.face_normals, mesh.triangles_center - centre) > 0)


def test_random_grids_give_closed_outward_meshes():
    """Diagonal contacts are the hard cases: every random grid must still mesh watertight and outward."""
    rng = np.random.default_rng(4)
    for _ in range(40):
        dim = int(rng.integers(3, 10))
        grid = rng.random((dim, dim, dim)) < rng.uniform(0.1, 0.9)
        mesh = voxels_to_mesh(grid)
        assert mesh.is_watertight and mesh.is_winding_consistent
        assert 0 < mesh.volume < grid.sum() / dim**3


def test_diagonal_voxels_stay_separate():
    checker = np.indices((2, 2, 2)).sum(0) % 2 == 0  # 4 voxels touching only along edges
    parts = voxels_to_mesh(checker).split(only_watertight=False)
    assert len(parts) == 4 and all(part.volume == pytest.approx(1 / 6 / 8) for part in parts)  # octahedra


def test_threshold_selects_voxels_and_translate_shifts():
    grid = np.zeros((6, 6, 6))
    grid[1:3, 1:3, 1:3] = 0.6
    grid[3:5, 1:3, 1:3] = 0.3
    strict, loose = voxels_to_mesh(grid, threshold=0.5), voxels_to_mesh(grid, threshold=0.3)
    assert strict.volume == pytest.approx(_bevelled_box_volume(2, 2, 2) / 6**3)
    assert loose.volume == pytest.approx(_bevelled_box_volume(4, 2, 2) / 6**3)
    moved = voxels_to_mesh(grid, threshold=0.5, translate=(1.0, -2.0, 0.5))
    np.testing.assert_allclose(moved.bounds, strict.bounds + [1.0, -2.0, 0.5], atol=1e-12)


def test_empty_grid_gives_empty_mesh_and_non_cubic_is_rejected():
    assert voxels_to_mesh(np.full((4, 4, 4), 0.2)).is_empty
    with pytest.raises(ValueError, match=r"\(4, 4, 5\)"):
        voxels_to_mesh(np.ones((4, 4, 5)))


def test_real_voxels_mesh_spans_the_occupied_voxels(realdata):
    vox = read_binvox(realdata / "ShapeNetVox32/02958343/sample-car/model.binvox")
    mesh = voxels_to_mesh(vox.data, side=vox.scale)
    assert mesh.is_watertight and mesh.volume > 0
    idx = np.argwhere(vox.data)
    np.testing.assert_allclose(mesh.bounds, _extent(idx.min(0), idx.max(0) + 1, 32, vox.scale), atol=1e-9)
    assert np.all(np.abs(mesh.bounds) <= vox.scale / 2 + 1e-9)
    occupied = vox.data.sum() * (vox.scale / 32) ** 3
    assert 0.9 * occupied < mesh.volume < occupied  # bevelled edges only remove volume


@pytest.fixture(scope="module")
def lamp_mesh(realdata) -> trimesh.Trimesh:
    vox = read_binvox(realdata / "ShapeNetVox32/03636649/sample-lamp/model.binvox")
    return voxels_to_mesh(vox.data, side=vox.scale)


@pytest.mark.parametrize("suffix", MESH_SUFFIXES)
def test_export_round_trip(lamp_mesh, tmp_path, suffix):
    path = tmp_path / f"lamp{suffix}"
    export_mesh(lamp_mesh, path)
    back = trimesh.load(path, force="mesh")
    assert len(back.vertices) == len(lamp_mesh.vertices) and len(back.faces) == len(lamp_mesh.faces)
    assert back.volume == pytest.approx(lamp_mesh.volume, rel=1e-6)  # float32 (ply, stl) or text (obj, off)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind


def test_export_rejects_unknown_suffix(lamp_mesh, tmp_path):
    with pytest.raises(DataError, match=r"\.glb.*\.obj, \.ply, \.off, \.stl") as err:
        export_mesh(lamp_mesh, tmp_path / "lamp.glb")
    assert err.value.path == str(tmp_path / "lamp.glb")
    assert not any(tmp_path.iterdir())
