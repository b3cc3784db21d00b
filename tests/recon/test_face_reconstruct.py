import json

import numpy as np
import pytest
import torch

from mvaug.data.transforms import load_image
from mvaug.errors import ConfigError, DataError
from mvaug.faces.pose import project
from mvaug.faces.synth import image_path
from mvaug.geometry.mesh_files import read_mesh
from mvaug.io.checkpoint import save_checkpoint
from mvaug.io.images import read_image
from mvaug.multiview.synthesizer import MultiViewSynthesizer
from mvaug.multiview.views import parse_view
from mvaug.recon.face_reconstruct import FaceReconstructor, run_face_reconstruct

from tests.recon.face_fixtures import one_thread, tiny_face_disentangler, tiny_face_run, tiny_faces  # noqa: F401


def views_of(root, name="face-00000", views=(1, 0, 2), size=None):
    """front (yaw 0 = grid view 1), left (yaw -45 = view 0), right (yaw 45 = view 2) of the tiny set."""
    return [image_path(root, name, v) for v in views], [load_image(image_path(root, name, v), size) for v in views]


def test_reconstruction_is_the_morphable_model_of_the_predicted_coefficients(tiny_faces, tiny_face_run):
    recon = FaceReconstructor.from_checkpoint(tiny_face_run, "cpu")
    assert recon.path.name == "best.pt" and recon.image_size == 32
    assert recon.side_views() == ("az315_el00", "az045_el00")  # left = yaw -45, the nose towards the image left
    _, (front, left, right) = views_of(tiny_faces)
    face = recon.reconstruct(front, left, right)
    out = recon.model(torch.stack([front, left, right])[None])
    torch.testing.assert_close(torch.from_numpy(face.id_coef), out["id"][0])
    expected = recon.morphable.vertices(out["id"], out["exp"])[0].double().numpy()
    np.testing.assert_allclose(face.vertices, expected, atol=1e-9)
    np.testing.assert_allclose(face.landmarks, expected[recon.morphable.landmark_indices.numpy()], atol=1e-5)
    for v, view in enumerate(face.views):  # pixel pose through the face data's own projection reproduces the landmarks
        pixels = project(face.landmarks, view["rotation"].astype(np.float64), np.float64(view["scale"]), view["translation"].astype(np.float64))
        np.testing.assert_allclose(view["landmarks"], pixels, atol=1e-3)
        torch.testing.assert_close(torch.from_numpy(view["rotation"]), out["rotation"][0, v])
    bigger = recon.reconstruct(*(torch.nn.functional.interpolate(x[None], size=64, mode="nearest")[0] for x in (front, left, right)))
    assert bigger.vertices.shape == face.vertices.shape  # other sizes are resized to the network's


def test_three_views_write_the_mesh_the_picture_and_the_coefficients(tiny_faces, tiny_face_run, tmp_path):
    paths, images = views_of(tiny_faces)
    result = run_face_reconstruct(paths, tiny_face_run, out=tmp_path / "out" / "face", device="cpu", render_size=48)
    assert result.generated is None and [p.name for p in (result.obj, result.png, result.json)] == ["face.obj", "face.png", "face.json"]
    mesh = read_mesh(result.obj)
    np.testing.assert_allclose(mesh.vertices, result.reconstruction.vertices, atol=1e-3)  # written to 1 um
    np.testing.assert_array_equal(mesh.faces, result.reconstruction.triangles)
    record = json.loads(result.json.read_text())
    assert record["inputs"] == [str(p) for p in paths] and record["generated_views"] is None
    assert [v["name"] for v in record["views"]] == ["front", "left", "right"] and record["vertices"] == len(mesh.vertices)
    np.testing.assert_allclose(record["id_coef"], result.reconstruction.id_coef, atol=1e-6)
    expected = FaceReconstructor.from_checkpoint(tiny_face_run, "cpu").reconstruct(*images)
    np.testing.assert_allclose(result.reconstruction.vertices, expected.vertices)
    picture = read_image(result.png, "RGB")
    assert picture.shape[1] >= 5 * 48 and picture.shape[0] >= 2 * 48


def test_one_image_uses_the_generated_side_views(tiny_faces, tiny_face_run, tiny_face_disentangler, tmp_path):
    paths, _ = views_of(tiny_faces)
    result = run_face_reconstruct(paths[:1], tiny_face_run, run=tiny_face_disentangler, out=tmp_path / "one", device="cpu", render_size=32)
    assert result.generated == ["az315_el00", "az045_el00"]
    synth = MultiViewSynthesizer.from_run(tiny_face_disentangler)
    _, sides = synth.generate_batch(load_image(paths[0], 32)[None], [parse_view("az315_el00"), parse_view("az045_el00")])
    expected = FaceReconstructor.from_checkpoint(tiny_face_run, "cpu").reconstruct(load_image(paths[0], 32), sides[0, 0], sides[0, 1])
    np.testing.assert_allclose(result.reconstruction.vertices, expected.vertices, atol=1e-6)
    assert json.loads(result.json.read_text())["generated_views"] == ["az315_el00", "az045_el00"]
    refined = run_face_reconstruct(paths[:1], tiny_face_run, run=tiny_face_disentangler, out=tmp_path / "refined", device="cpu", render_size=32, refine_steps=3)
    synth.refine_steps = 3
    _, sides = synth.generate_batch(load_image(paths[0], 32)[None], [parse_view("az315_el00"), parse_view("az045_el00")])
    expected = FaceReconstructor.from_checkpoint(tiny_face_run, "cpu").reconstruct(load_image(paths[0], 32), sides[0, 0], sides[0, 1])
    np.testing.assert_allclose(refined.reconstruction.vertices, expected.vertices, atol=1e-6)
    assert np.abs(refined.reconstruction.vertices - result.reconstruction.vertices).max() > 1e-6  # the refined codes draw other side views
    assert json.loads(refined.json.read_text())["refine_steps"] == 3
    with pytest.raises(ConfigError, match="the bank has no view az090_el00"):
        run_face_reconstruct(paths[:1], tiny_face_run, run=tiny_face_disentangler, out=tmp_path / "two", views=("az090_el00", "az045_el00"), device="cpu")


def test_wrong_kinds_of_checkpoint_are_named(tiny_face_run, tiny_face_disentangler, tmp_path):
    pix2vox = tmp_path / "pix2vox.pt"
    save_checkpoint(pix2vox, {"format": "mvaug-recon-v1", "kind": "chair", "encoder_state_dict": {}})
    with pytest.raises(DataError, match="Pix2Vox reconstructor of 'chair' objects, not a face reconstructor") as err:
        FaceReconstructor.from_checkpoint(pix2vox, "cpu")
    assert err.value.path == str(pix2vox)
    with pytest.raises(DataError, match="disentangler run folder"):
        FaceReconstructor.from_checkpoint(tiny_face_disentangler, "cpu")
    with pytest.raises(DataError, match="disentangler checkpoint"):
        FaceReconstructor.from_checkpoint(sorted((tiny_face_disentangler / "checkpoints").glob("step-*.pt"))[-1], "cpu")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="not a readable face reconstructor checkpoint"):
        FaceReconstructor.from_checkpoint(garbage, "cpu")
    with pytest.raises(DataError, match="not found"):
        FaceReconstructor.from_checkpoint(tmp_path / "missing", "cpu")
    damaged = tmp_path / "damaged.pt"
    payload = torch.load(tiny_face_run / "best.pt", weights_only=True)
    del payload["morphable"]["mean"]
    save_checkpoint(damaged, payload)
    with pytest.raises(DataError, match="damaged face reconstructor checkpoint"):
        FaceReconstructor.from_checkpoint(damaged, "cpu")


def test_bad_inputs_are_clear_errors(tiny_faces, tiny_face_run, tmp_path, monkeypatch):
    paths, _ = views_of(tiny_faces)
    with pytest.raises(ConfigError, match="one face image .* or three"):
        run_face_reconstruct(paths[:2], tiny_face_run, device="cpu")
    monkeypatch.setenv("MVAUG_ASSETS", str(tmp_path / "no-assets"))  # one image and no --run: the built-in face disentangler
    with pytest.raises(DataError, match="train_defaults.py"):
        run_face_reconstruct(paths[:1], tiny_face_run, device="cpu")
    with pytest.raises(DataError, match="input image not found"):
        run_face_reconstruct([tmp_path / "nope.png", *paths[1:]], tiny_face_run, device="cpu")
    with pytest.raises(DataError, match="overwrite the input"):
        run_face_reconstruct(paths, tiny_face_run, out=paths[0].with_suffix(""), device="cpu")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG broken")
    with pytest.raises(DataError) as err:
        run_face_reconstruct([broken, *paths[1:]], tiny_face_run, out=tmp_path / "x", device="cpu")
    assert err.value.path == str(broken)
