"""synth-faces: determinism, resume, refusal of other settings, annotations consistent with the model."""

import dataclasses
import json
import shutil

import numpy as np
import pytest
import torch
import trimesh
from click.testing import CliRunner

from mvaug.cli.faces import synth_faces
from mvaug.cli.main import MvaugGroup
from mvaug.errors import DataError
from mvaug.faces.dataset import load_face_model
from mvaug.faces.morphable_model import MorphableModel
from mvaug.faces.pose import project
from mvaug.faces.procedural import procedural_head_model
from mvaug.faces.synth import MANIFEST, SynthFacesConfig, synthesize_faces
from mvaug.io.images import read_image
from tests.conftest import torch_threads_started


def tree(root) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_settings_give_identical_bytes_with_any_workers(face_set, face_config, tmp_path):
    synthesize_faces(tmp_path / "two", face_config, workers=2, progress=False)
    assert tree(face_set) == tree(tmp_path / "two")
    synthesize_faces(tmp_path / "other", dataclasses.replace(face_config, seed=6), workers=1, progress=False)
    a, b = tree(face_set), tree(tmp_path / "other")
    assert all(a[k] != b[k] for k in a if k.endswith(".png"))


def doubled_head() -> MorphableModel:
    """The built-in head listed twice: 13,828 vertices, enough for torch to sum an identity's shape on several
    threads (the built-in head's 6,914 are not)."""
    head = procedural_head_model()
    n = head.vertex_count
    return MorphableModel(
        torch.cat([head.mean, head.mean]),
        torch.cat([head.id_basis, head.id_basis], 1),
        head.id_std,
        torch.cat([head.exp_basis, head.exp_basis], 1),
        head.exp_std,
        torch.cat([head.triangles, head.triangles + n]),
        head.landmark_indices,
        name="doubled-head",
    )


@pytest.mark.timeout(120)
def test_workers_do_not_hang_after_torch_threads_ran(tmp_path):
    """Workers forked (the old start method) from a process whose torch threads had run hung in their first multi-threaded op."""
    doubled_head().save(tmp_path / "head.npz")
    config = SynthFacesConfig(identities=2, size=24, yaws=(0.0,), pitches=(0.0,), split=(0.5, 0.5, 0.0), model=str(tmp_path / "head.npz"))
    synthesize_faces(tmp_path / "one", config, workers=1, progress=False)
    with torch_threads_started():
        synthesize_faces(tmp_path / "two", config, workers=2, progress=False)
    assert tree(tmp_path / "one") == tree(tmp_path / "two")


def test_interrupted_run_resumes_to_the_same_bytes(face_set, face_config, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(face_set, copy)
    (copy / "annotations" / "face-00001.json").unlink()  # identity 1 was being written
    (copy / "images" / "face-00001" / "004.png").write_bytes(b"half")
    (copy / "images" / "face-00001" / ".005.png.k1ll3d.tmp").write_bytes(b"cut short")  # a write the kill stopped
    (copy / "split.json").unlink()
    manifest = json.loads((copy / MANIFEST).read_text())
    (copy / MANIFEST).write_text(json.dumps({**manifest, "complete": False}))
    summary = synthesize_faces(copy, face_config, workers=1, progress=False)
    assert (summary.written, summary.skipped) == (1, 2)
    assert tree(copy) == tree(face_set)


def test_refuses_other_settings_and_foreign_folders(face_set, face_config, tmp_path):
    with pytest.raises(DataError, match=r"other settings \(size\)"):
        synthesize_faces(face_set, dataclasses.replace(face_config, size=48), progress=False)
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="not empty"):
        synthesize_faces(tmp_path / "foreign", face_config, progress=False)


def test_config_is_validated():
    with pytest.raises(ValueError, match="yaws must be distinct"):
        SynthFacesConfig(yaws=(0.0, 0.0))
    with pytest.raises(ValueError, match="split must be"):
        SynthFacesConfig(split=(0.5, 0.5, 0.5))


def test_annotations_agree_with_the_model_images_and_meshes(face_set):
    model = load_face_model(face_set)
    manifest = json.loads((face_set / MANIFEST).read_text())
    assert [v["name"] for v in manifest["views"]] == ["yaw-45_pitch+0", "yaw+0_pitch+0", "yaw+45_pitch+0", "yaw-45_pitch+15", "yaw+0_pitch+15", "yaw+45_pitch+15"]
    for name in manifest["identities"]:
        record = json.loads((face_set / "annotations" / f"{name}.json").read_text())
        coef = torch.tensor([record["id_coef"]]), torch.tensor([record["exp_coef"]])
        vertices = model.vertices(*coef)[0].double().numpy()
        mesh = trimesh.load(face_set / record["mesh"], process=False)
        np.testing.assert_allclose(mesh.vertices, vertices, atol=2e-3)
        assert np.array_equal(mesh.faces, model.triangles.numpy())
        marks3d = vertices[model.landmark_indices.numpy()]
        views = {v["name"]: v for v in record["views"]}
        for view in record["views"]:
            uv = project(marks3d, np.array(view["rotation"]), np.float64(view["scale"]), np.array(view["translation"]))
            np.testing.assert_allclose(view["landmarks"], uv, atol=2e-3)
            image = read_image(face_set / view["image"], "RGB")
            assert image.shape == (32, 32, 3)
            assert np.all(image[0, 0] == 128) and np.all(image[-1, -1] == 128)  # plain background
            u, v = np.floor(view["landmarks"][30]).astype(int)
            assert not np.all(image[v, u] == 128)  # the nose tip lies on the face
        front, left, right = views["yaw+0_pitch+0"], views["yaw-45_pitch+0"], views["yaw+45_pitch+0"]
        assert all(front["landmarks_visible"][17:48])  # brows, nose and eyes face the camera
        assert not left["landmarks_visible"][0] and left["landmarks_visible"][16]  # the subject's right turns away
        assert right["landmarks_visible"][0] and not right["landmarks_visible"][16]
        assert left["landmarks"][30][0] < front["landmarks"][30][0] < right["landmarks"][30][0]


def test_split_is_by_identity(face_set):
    splits = json.loads((face_set / "split.json").read_text())
    names = [n for part in ("train", "val", "test") for n in splits[part]]
    assert sorted(names) == ["face-00000", "face-00001", "face-00002"] and len(set(names)) == 3


def test_cli_writes_a_set_and_reports_bad_input_in_one_line(tmp_path):
    group = MvaugGroup()
    group.add_command(synth_faces)
    out = tmp_path / "cli"
    args = ["synth-faces", str(out), "--identities", "1", "--size", "24", "--yaws", "-30,0,30", "--pitches", "0", "--quiet"]
    result = CliRunner().invoke(group, args)
    assert result.exit_code == 0, result.output
    assert "1 identities x 3 views" in result.output
    assert sorted(p.name for p in (out / "images" / "face-00000").iterdir()) == ["000.png", "001.png", "002.png"]
    again = CliRunner().invoke(group, [*args[:5], "32", *args[6:]])
    assert again.exit_code == 2 and "other settings (size)" in again.output
    bad = CliRunner().invoke(group, ["synth-faces", str(tmp_path / "x"), "--yaws", "left"])
    assert bad.exit_code == 2 and "comma-separated numbers" in bad.output
