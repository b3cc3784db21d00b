import csv
import json

import numpy as np
import pytest
import torch
import trimesh
from scipy.spatial.transform import Rotation

from mvaug.data.transforms import load_image
from mvaug.errors import DataError
from mvaug.evaluate.face_eval import CONDITIONS, METRICS, FaceEvalConfig, compare_face, evaluate_face_set, evaluate_faces
from mvaug.evaluate.mesh_compare import MeshCompareConfig, compare_meshes
from mvaug.faces.dataset import FaceTripletDataset, load_face_model
from mvaug.faces.synth import image_path
from mvaug.geometry.mesh_files import read_mesh
from mvaug.io.images import read_image
from mvaug.recon.face_reconstruct import FaceReconstructor

from tests.recon.face_fixtures import one_thread, tiny_face_disentangler, tiny_face_run, tiny_faces  # noqa: F401

SMALL = FaceEvalConfig(samples=1000, icp_samples=200, bootstrap=200, figure_rows=1, render_size=32)


class RealViews:
    """A perfect view synthesiser: for a front render it returns the real left and right renders of that identity."""

    def __init__(self, root, size):
        self.image_size = size
        dataset = FaceTripletDataset(root, "all")
        self.sides = {}
        for name in dataset.names:
            front, left, right = (load_image(image_path(root, name, v), size) for v in dataset.view_indices)
            self.sides[front.numpy().tobytes()] = torch.stack([left, right])

    def generate_batch(self, images, views):
        assert [v.name for v in views] == ["az315_el00", "az045_el00"]
        return views, torch.stack([self.sides[image.numpy().tobytes()] for image in images])


class Echo:
    """Returns the input image for every view."""

    image_size = 32

    def generate_batch(self, images, views):
        return views, images[:, None].expand(-1, len(views), -1, -1, -1)


def read_rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def by_condition(rows, condition):
    return [{m: float(r[m]) for m in METRICS} for r in rows if r["condition"] == condition]


def test_a_perfect_synthesiser_scores_exactly_like_the_real_views(tiny_faces, tiny_face_run, tmp_path):
    recon = FaceReconstructor.from_checkpoint(tiny_face_run, "cpu")
    summary = evaluate_face_set(tiny_faces, recon, RealViews(tiny_faces, 32), tmp_path, split="train", config=SMALL, progress=False)
    rows = read_rows(tmp_path / "per_identity.csv")
    assert by_condition(rows, "generated") == by_condition(rows, "gt")
    assert by_condition(rows, "generated") != by_condition(rows, "single")  # the side views matter to the network
    for metric in METRICS:
        paired = summary["paired"][metric]["gt - generated"]
        assert paired["mean"] == 0.0 and paired["ci95"] == [0.0, 0.0] and paired["tie_rate"] == 1.0 and paired["better_rate"] == 0.0


def test_echoed_views_score_exactly_like_the_single_view(tiny_faces, tiny_face_run, tmp_path):
    recon = FaceReconstructor.from_checkpoint(tiny_face_run, "cpu")
    summary = evaluate_face_set(tiny_faces, recon, Echo(), tmp_path, split="test", config=SMALL, progress=False)
    rows = read_rows(tmp_path / "per_identity.csv")
    assert len(rows) == 3 and by_condition(rows, "generated") == by_condition(rows, "single")
    assert summary["mean"]["vertex_rmse"]["generated"] == summary["mean"]["vertex_rmse"]["single"]


def test_single_condition_against_a_direct_comparison_and_csv_against_summary(tiny_faces, tiny_face_run, tmp_path):
    recon = FaceReconstructor.from_checkpoint(tiny_face_run, "cpu")
    summary = evaluate_face_set(tiny_faces, recon, Echo(), tmp_path, split="all", config=SMALL, progress=False)
    rows = read_rows(tmp_path / "per_identity.csv")
    dataset = FaceTripletDataset(tiny_faces, "all")
    assert [r["identity"] for r in rows] == [n for n in dataset.names for _ in CONDITIONS]
    landmarks = load_face_model(tiny_faces).landmark_indices.numpy()
    for k, name in enumerate(dataset.names):
        front = load_image(image_path(tiny_faces, name, dataset.view_indices[0]), 32)
        face = recon.reconstruct(front, front, front)
        gt = read_mesh(tiny_faces / "meshes" / f"{name}.obj")
        pred = trimesh.Trimesh(face.vertices, gt.faces, process=False)
        reference = compare_meshes(pred, gt, MeshCompareConfig(samples=1000, icp_samples=200), face.vertices[landmarks], np.asarray(gt.vertices)[landmarks])
        row = by_condition(rows, "single")[k]
        assert row["point_to_plane_rmse"] == pytest.approx(reference.point_to_plane_rmse, abs=1e-6)
        assert row["chamfer"] == pytest.approx(reference.chamfer, abs=1e-6)
        assert row["vertex_rmse"] == pytest.approx(np.sqrt(((face.vertices - gt.vertices) ** 2).sum(1).mean()), abs=1e-5)
    for metric in METRICS:
        for condition in CONDITIONS:
            values = [r[metric] for r in by_condition(rows, condition)]
            assert summary["mean"][metric][condition] == pytest.approx(np.mean(values), abs=1e-5)
        diff = np.array([r[metric] for r in by_condition(rows, "generated")]) - np.array([r[metric] for r in by_condition(rows, "single")])
        low, high = summary["paired"][metric]["generated - single"]["ci95"]
        assert low - 1e-9 <= diff.mean() <= high + 1e-9
    assert json.loads((tmp_path / "summary.json").read_text())["identities"] == 4


def test_compare_face_of_a_moved_copy_and_of_a_shifted_one(tiny_faces):
    gt = read_mesh(tiny_faces / "meshes" / "face-00000.obj")
    landmarks = load_face_model(tiny_faces).landmark_indices.numpy()
    vertices = np.asarray(gt.vertices)
    moved = 1.3 * vertices @ Rotation.from_euler("xyz", [10, -20, 5], degrees=True).as_matrix().T + [5.0, -3.0, 8.0]
    scores = compare_face(moved, gt, landmarks, SMALL)
    assert scores["point_to_plane_rmse"] < 1e-3 and scores["chamfer"] < 1e-3 and scores["crop_chamfer"] < 1e-3 and scores["fscore"] == 1.0
    shifted = compare_face(vertices + [0.0, 0.0, 2.0], gt, landmarks, SMALL)
    assert shifted["vertex_rmse"] == pytest.approx(2.0, abs=1e-9) and shifted["chamfer"] < 1e-3  # alignment removes the shift


def test_evaluate_faces_end_to_end_with_a_trained_disentangler(tiny_faces, tiny_face_run, tiny_face_disentangler, tmp_path):
    summary = evaluate_faces(tiny_faces, tiny_face_run, tiny_face_disentangler, tmp_path / "eval", split="test", config=SMALL, device="cpu", progress=False,
                             refine_steps=2)
    assert summary["identities"] == 1 and summary["settings"]["views"] == ["az315_el00", "az045_el00"] and summary["settings"]["refine_steps"] == 2
    assert summary["settings"]["generator_size"] == 32 and summary["settings"]["split"] == "test"
    report = (tmp_path / "eval/report.md").read_text()
    assert "| generated |" in report and "gt - generated" in report and "refined by 2 steps" in report
    figure = read_image(tmp_path / "eval/fig13.png", "RGB")
    assert figure.shape[1] >= 9 * 32  # input, 2 generated, 2 real, 3 reconstructions, ground truth


def test_only_a_new_empty_or_face_report_folder_is_written(tiny_faces, tiny_face_run, tmp_path):
    recon = FaceReconstructor.from_checkpoint(tiny_face_run, "cpu")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "report.md").write_text("# my notes\n")
    with pytest.raises(DataError, match=r"not empty \(report.md\)"):
        evaluate_face_set(tiny_faces, recon, Echo(), mine, split="test", config=SMALL, progress=False)
    assert [p.name for p in mine.iterdir()] == ["report.md"] and (mine / "report.md").read_text() == "# my notes\n"
    first = evaluate_face_set(tiny_faces, recon, Echo(), tmp_path / "eval", split="test", config=SMALL, progress=False)
    again = evaluate_face_set(tiny_faces, recon, Echo(), tmp_path / "eval", split="test", config=SMALL, progress=False)  # its own report: replaced
    assert again["mean"] == first["mean"]
    assert sorted(p.name for p in (tmp_path / "eval").iterdir()) == ["fig13.png", "per_identity.csv", "report.md", "summary.json"]
