import numpy as np
import pytest
import trimesh

from mvaug.errors import DataError
from mvaug.geometry.mesh_files import read_landmarks, read_mesh


@pytest.mark.parametrize("suffix", [".obj", ".ply", ".off", ".stl"])
def test_read_mesh_round_trips_each_format(tmp_path, suffix):
    box = trimesh.creation.box((1.0, 2.0, 3.0))
    path = tmp_path / f"box{suffix}"
    box.export(path)
    mesh = read_mesh(path)
    assert mesh.area == pytest.approx(box.area)
    assert len(mesh.faces) == len(box.faces)


def test_read_mesh_keeps_vertex_order(tmp_path):
    mesh = trimesh.creation.icosphere(1)
    mesh.export(tmp_path / "s.obj")
    np.testing.assert_allclose(read_mesh(tmp_path / "s.obj").vertices, mesh.vertices, atol=1e-6)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("missing.obj", None, "not found"),
        ("mesh.xyz", b"1 2 3\n", "unsupported mesh format"),
        ("empty.obj", b"", "no triangles"),
        ("points.obj", b"v 0 0 0\nv 1 0 0\n", "no triangles"),
        ("broken.ply", b"ply\nformat ascii 1.0\nelement vertex 3\nend_header\n1 2\n", "mesh"),
        ("nan.obj", b"v 0 0 0\nv 1 0 nan\nv 0 1 0\nf 1 2 3\n", "non-finite"),
    ],
)
def test_read_mesh_errors_name_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=message) as info:
        read_mesh(path)
    assert info.value.path == str(path)


def test_read_mesh_rejects_a_folder(tmp_path):
    (tmp_path / "dir.obj").mkdir()
    with pytest.raises(DataError, match="folder"):
        read_mesh(tmp_path / "dir.obj")


def test_landmarks_as_points_or_vertex_indices(tmp_path):
    vertices = np.arange(30, dtype=float).reshape(10, 3)
    (tmp_path / "points.txt").write_text("# x y z\n0.5 1 2\n3 4 5\n6 7 8.25\n")
    np.testing.assert_allclose(read_landmarks(tmp_path / "points.txt", vertices), [[0.5, 1, 2], [3, 4, 5], [6, 7, 8.25]])
    (tmp_path / "points.csv").write_text("0.5,1,2\n3,4,5\n")
    np.testing.assert_allclose(read_landmarks(tmp_path / "points.csv", vertices), [[0.5, 1, 2], [3, 4, 5]])
    np.save(tmp_path / "indices.npy", np.array([4, 0, 9]))
    np.testing.assert_allclose(read_landmarks(tmp_path / "indices.npy", vertices), vertices[[4, 0, 9]])
    (tmp_path / "indices.txt").write_text("2\n7\n1\n")
    np.testing.assert_allclose(read_landmarks(tmp_path / "indices.txt", vertices), vertices[[2, 7, 1]])


@pytest.mark.parametrize(
    "content, message",
    [
        ("1 2\n3 4\n", "shape"),
        ("1.5\n2\n", "integer"),
        ("0\n10\n", r"\[0, 9\]"),
        ("a b c\n", "readable"),
        ("1 2 nan\n0 0 0\n", "finite"),
        ("1 2 3 4\n", "shape"),
    ],
)
def test_landmark_errors_name_the_file(tmp_path, content, message):
    path = tmp_path / "lm.txt"
    path.write_text(content)
    with pytest.raises(DataError, match=message) as info:
        read_landmarks(path, np.zeros((10, 3)))
    assert info.value.path == str(path)
    with pytest.raises(DataError, match="not found"):
        read_landmarks(tmp_path / "none.txt", np.zeros((10, 3)))
