"""``mvaug evaluate --kind face``: faces from one view, from generated views, from real views (paper Fig. 13, measured).

For every identity of a held-out split of a ``synth-faces`` set, the frontal render is the one real
input, and MVF-Net reconstructs the face from three (front, left, right) triplets:

* ``single``: the frontal view as all three inputs;
* ``generated``: the frontal view, and left / right views generated from it by the face disentangler
  (bank views at yaw -/+ the reconstructor's ``side_yaw``, e.g. ``az315_el00`` / ``az045_el00``), from the
  frontal view's codes as the encoders give them or refined at test time (``refine_steps``);
* ``gt``: the frontal view and the real left / right renders. With ``real_views_at_generator_size``
  (default) they first go through the disentangler's resolution, like the generated ones, so the
  difference between ``generated`` and ``gt`` is the synthesis alone, not the pixel count.

Each mesh is compared with the identity's ground-truth mesh by :func:`mvaug.evaluate.mesh_compare.compare_meshes`
(similarity alignment from the 68 landmarks, then ICP): point-to-plane RMSE, mean point-to-surface,
chamfer, F-score and normal consistency on the whole mesh, and point-to-plane RMSE and chamfer within
``crop_radius`` of the nose tip (the MICC protocol's 95 mm crop); also ``vertex_rmse``, the RMS
distance between corresponding vertices without any alignment (same topology). Units are those of
the morphable model (mm for the built-in head).

Writes OUT/per_identity.csv, OUT/summary.json (means, paired differences with bootstrap 95% intervals
over identities), OUT/report.md and OUT/fig13.png.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from mvaug.io.assets import describe_ref
from mvaug.errors import DataError

CONDITIONS = ("single", "generated", "gt")
METRICS = ("point_to_plane_rmse", "chamfer", "crop_point_to_plane_rmse", "crop_chamfer", "mean_point_to_surface", "fscore", "normal_consistency", "vertex_rmse")
HIGHER_IS_BETTER = ("fscore", "normal_consistency")
HEADLINE = ("point_to_plane_rmse", "chamfer", "crop_point_to_plane_rmse", "crop_chamfer")
PAIRS = (("generated", "single"), ("gt", "generated"), ("gt", "single"))
FIGURE_YAW = -30.0


@dataclass(frozen=True)
class FaceEvalConfig:
    """What ``mvaug evaluate --kind face`` measures (the split and the models are arguments)."""

    crop_radius: float = 95.0
    """MICC-style crop: ground truth within this distance of the nose tip (landmark 30), model units."""
    samples: int = 20000
    """Surface samples per mesh for the metrics (``MeshCompareConfig.samples``)."""
    icp_samples: int = 5000
    real_views_at_generator_size: bool = True
    """Pass the real side views of ``gt`` through the disentangler's image size, as the generated ones are."""
    views: tuple[str, str] | None = None
    """Bank views used as left and right; None = those the reconstructor was trained with (``az315_el00``, ``az045_el00``)."""
    bootstrap: int = 10000
    """Resamples of the paired bootstrap intervals."""
    seed: int = 0
    """Seeds the surface sampling and the bootstrap."""
    figure_rows: int = 4
    """Identities shown in fig13.png."""
    render_size: int = 96

    def __post_init__(self) -> None:
        if self.crop_radius <= 0 or self.samples < 100 or self.icp_samples < 10 or self.bootstrap < 1 or self.figure_rows < 0:
            raise ValueError("crop_radius must be positive, samples >= 100, icp_samples >= 10, bootstrap >= 1 and figure_rows >= 0")
        if self.views is not None and len(self.views) != 2:
            raise ValueError(f"views must name two bank views (left, right), got {self.views}")


def compare_face(pred_vertices: np.ndarray, gt_mesh, landmark_indices: np.ndarray, config: FaceEvalConfig) -> dict[str, float]:
    """The metrics of :data:`METRICS` for predicted vertices (N, 3) on the ground truth's topology."""
    import trimesh

    from mvaug.evaluate.mesh_compare import MeshCompareConfig, compare_meshes

    pred = trimesh.Trimesh(pred_vertices, gt_mesh.faces, process=False)
    pred_marks, gt_marks = pred_vertices[landmark_indices], np.asarray(gt_mesh.vertices)[landmark_indices]
    common = {"samples": config.samples, "icp_samples": config.icp_samples, "seed": config.seed}
    whole = compare_meshes(pred, gt_mesh, MeshCompareConfig(**common), pred_marks, gt_marks)
    crop = compare_meshes(pred, gt_mesh, MeshCompareConfig(**common, crop_radius=config.crop_radius), pred_marks, gt_marks)
    return {
        "point_to_plane_rmse": whole.point_to_plane_rmse,
        "chamfer": whole.chamfer,
        "crop_point_to_plane_rmse": crop.point_to_plane_rmse,
        "crop_chamfer": crop.chamfer,
        "mean_point_to_surface": whole.mean_point_to_surface,
        "fscore": whole.fscore,
        "normal_consistency": whole.normal_consistency,
        "vertex_rmse": float(np.sqrt(((pred_vertices - np.asarray(gt_mesh.vertices)) ** 2).sum(1).mean())),
    }


def evaluate_faces(
    data: str | os.PathLike,
    recon: str | os.PathLike,
    run: str | os.PathLike,
    out: str | os.PathLike,
    bank: str | os.PathLike | None = None,
    split: str = "test",
    limit: int | None = None,
    config: FaceEvalConfig | None = None,
    device: str = "auto",
    progress: bool = True,
    refine_steps: int = 0,
) -> dict:
    """Evaluate the face reconstructor ``recon`` with views generated by the disentangler ``run`` (module docstring);
    ``refine_steps``: test-time optimisation of each front view's codes first (:class:`MultiViewSynthesizer`)."""
    from mvaug.engine.device import resolve_device
    from mvaug.multiview.synthesizer import MultiViewSynthesizer
    from mvaug.recon.face_reconstruct import FaceReconstructor

    check_face_report_folder(out)
    torch_device = resolve_device(device)
    reconstructor = FaceReconstructor.from_checkpoint(recon, torch_device)
    synth = MultiViewSynthesizer.from_run(run, bank, torch_device, refine_steps)
    settings = {"data": str(Path(data).resolve()), "recon": describe_ref(recon), "run": describe_ref(run), "bank": describe_ref(bank),
                "split": split, "limit": limit, **({"refine_steps": refine_steps} if refine_steps else {})}
    return evaluate_face_set(data, reconstructor, synth, out, split, limit, config, progress, settings)


def evaluate_face_set(
    data: str | os.PathLike,
    reconstructor,
    synth,
    out: str | os.PathLike,
    split: str = "test",
    limit: int | None = None,
    config: FaceEvalConfig | None = None,
    progress: bool = True,
    settings: dict | None = None,
) -> dict:
    """:func:`evaluate_faces` with loaded models: ``reconstructor`` a :class:`~mvaug.recon.face_reconstruct.FaceReconstructor`,
    ``synth`` anything with ``image_size`` and ``generate_batch(images (B, 3, s, s), views) -> (views, (B, V, 3, s, s))``.

    OUT must be new, empty or hold an earlier face report (replaced as one set at the end)."""
    from tqdm import tqdm

    from mvaug.data.transforms import load_image
    from mvaug.faces.dataset import FaceTripletDataset, load_face_model
    from mvaug.faces.synth import image_path
    from mvaug.geometry.mesh_files import read_mesh
    from mvaug.io.atomic import atomic_write_text
    from mvaug.io.outputs import output_set
    from mvaug.multiview.views import parse_view
    from mvaug.recon.face_data import resize_views

    config = config or FaceEvalConfig()
    root, out = Path(data), Path(out)
    check_face_report_folder(out)
    side = reconstructor.config.data
    dataset = FaceTripletDataset(root, split, image_size=None, side_yaw=side.side_yaw, pitch=side.pitch)
    if len(dataset) == 0:
        raise DataError(f"the {split} split holds no identities", root)
    morphable = load_face_model(root)
    if morphable.vertex_count != reconstructor.morphable.vertex_count or not torch.equal(morphable.triangles.cpu(), reconstructor.morphable.triangles.cpu()):
        raise DataError("the face set's morphable model has another mesh than the reconstructor's; evaluate on data made with the model it was trained on", root)
    landmark_indices = morphable.landmark_indices.numpy()
    names = config.views or reconstructor.side_views()
    side_views = [parse_view(n) for n in names]
    size, small = reconstructor.image_size, synth.image_size
    count = len(dataset) if limit is None else min(limit, len(dataset))
    records, figure_rows = [], []
    for k in tqdm(range(count), desc="evaluate faces", unit="identity", disable=not progress, dynamic_ncols=True):
        name = dataset.names[k]
        paths = [image_path(root, name, v) for v in dataset.view_indices]
        _, generated = synth.generate_batch(load_image(paths[0], small)[None], side_views)  # (1, 2, 3, s, s)
        generated = generated[0].float().cpu()
        real = torch.stack([load_image(p, small if config.real_views_at_generator_size else None) for p in paths[1:]])
        front = load_image(paths[0], size)
        triplets = {
            "single": torch.stack([front, front, front]),
            "generated": torch.cat([front[None], resize_views(generated, size)]),
            "gt": torch.cat([front[None], resize_views(real, size)]),
        }
        faces = {c: reconstructor.reconstruct_batch(triplets[c][None])[0] for c in CONDITIONS}  # one at a time: equal inputs give equal meshes
        gt_mesh = read_mesh(dataset.records[k]["mesh"])
        metrics = {c: compare_face(faces[c].vertices, gt_mesh, landmark_indices, config) for c in CONDITIONS}
        records.append({"identity": name, "metrics": metrics})
        if len(figure_rows) < config.figure_rows:
            figure_rows.append(_figure_row(name, triplets, generated, real, faces, gt_mesh, metrics, config.render_size))

    summary = summarise_faces(records, config)
    summary["settings"] = {**(settings or {"data": str(root.resolve()), "split": split, "limit": limit}), "views": list(names),
                           "side_yaw": side.side_yaw, "pitch": side.pitch, "reconstructor_size": size, "generator_size": small, "config": asdict(config)}
    files = ("per_identity.csv", "summary.json", "report.md") + (("fig13.png",) if figure_rows else ())
    with output_set({name: out / name for name in files}) as temp:
        atomic_write_text(temp["per_identity.csv"], per_identity_csv(records))
        atomic_write_text(temp["summary.json"], json.dumps(summary, indent=2) + "\n")
        atomic_write_text(temp["report.md"], format_face_report(summary) + "\n")
        if figure_rows:
            write_fig13(temp["fig13.png"], figure_rows, config.render_size)
    return summary


def check_face_report_folder(out: str | os.PathLike) -> None:
    """Refuse an --out that is a file, or a non-empty folder without a face report (its summary.json counts identities)."""
    from mvaug.io.outputs import check_output_folder

    def is_face_report(folder: Path) -> bool:
        try:
            summary = json.loads((folder / "summary.json").read_text())
        except (OSError, ValueError):
            return False
        return isinstance(summary, dict) and "identities" in summary and summary.get("conditions") == list(CONDITIONS)

    check_output_folder(out, is_face_report, "a report folder of 'mvaug evaluate --kind face'")


def summarise_faces(records: list[dict], config: FaceEvalConfig) -> dict:
    """Means per condition and metric; paired differences (first - second) with bootstrap intervals over identities."""
    from mvaug.evaluate.reconstruction import bootstrap_interval

    values = {m: {c: np.array([r["metrics"][c][m] for r in records]) for c in CONDITIONS} for m in METRICS}
    summary = {"identities": len(records), "conditions": list(CONDITIONS),
               "mean": {m: {c: float(values[m][c].mean()) for c in CONDITIONS} for m in METRICS}, "paired": {}}
    for m in METRICS:
        summary["paired"][m] = {}
        for first, second in PAIRS:
            diff = values[m][first] - values[m][second]
            low, high = bootstrap_interval(diff, config.bootstrap, config.seed)
            better = diff > 0 if m in HIGHER_IS_BETTER else diff < 0
            summary["paired"][m][f"{first} - {second}"] = {"mean": float(diff.mean()), "ci95": [low, high], "better_rate": float(better.mean()), "tie_rate": float((diff == 0).mean())}
    return summary


def per_identity_csv(records: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["identity", "condition", *METRICS])
    for record in records:
        for condition in CONDITIONS:
            writer.writerow([record["identity"], condition, *[f"{record['metrics'][condition][m]:.6f}" for m in METRICS]])
    return buffer.getvalue()


def format_face_report(summary: dict) -> str:
    s = summary["settings"]
    lines = [
        "# Faces from one view, generated views and real views (MVF-Net)",
        "",
        f"{summary['identities']} held-out identities ({s.get('split', 'test')} split of {s.get('data', '?')}); the frontal render is the input. "
        f"Left / right: bank views {', '.join(s.get('views', []))} (yaw -/+{s.get('side_yaw', 45):g}, pitch {s.get('pitch', 0):g})"
        + (f", generated from the front view's codes refined by {s['refine_steps']} steps. " if s.get("refine_steps") else ". ") +
        f"Mesh errors against the ground-truth mesh after landmark similarity alignment and ICP, in model units (mm); "
        f"crop = ground truth within {s['config']['crop_radius']:g} of the nose tip. Lower is better except F-score and normal consistency.",
        "",
        "| Condition | " + " | ".join(METRICS) + " |",
        "|---|" + "--:|" * len(METRICS),
    ]
    for condition in CONDITIONS:
        lines.append(f"| {condition} | " + " | ".join(f"{summary['mean'][m][condition]:.3f}" for m in METRICS) + " |")
    lines += ["", "Paired differences per identity, mean with 95% bootstrap interval; 'better' = share of identities where the first condition wins:", "",
              "| Metric | Difference | Mean | 95% CI | Better | Ties |", "|---|---|--:|--:|--:|--:|"]
    for m in HEADLINE + ("vertex_rmse",):
        for pair, d in summary["paired"][m].items():
            lines.append(f"| {m} | {pair} | {d['mean']:+.3f} | [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}] | {d['better_rate']:.0%} | {d['tie_rate']:.0%} |")
    lines += ["", f"Real side views {'at the disentangler size (' + str(s.get('generator_size')) + ' px)' if s['config']['real_views_at_generator_size'] else 'at full size'}; "
              f"MVF-Net input {s.get('reconstructor_size')} px.", "", "![Fig. 13](fig13.png)"]
    return "\n".join(lines)


def _figure_row(name, triplets, generated, real, faces, gt_mesh, metrics, size) -> dict:
    from mvaug.recon.face_reconstruct import render_mesh, to_uint8_image

    pictures = [to_uint8_image(triplets["gt"][0], size), *[to_uint8_image(im, size) for im in generated], *[to_uint8_image(im, size) for im in real]]
    meshes = [faces[c].vertices for c in CONDITIONS] + [np.asarray(gt_mesh.vertices)]
    pictures += [render_mesh(v, np.asarray(gt_mesh.faces), (FIGURE_YAW,), size)[0] for v in meshes]
    captions = ["input", "generated left", "generated right", "real left", "real right",
                *[f"{c} {metrics[c]['point_to_plane_rmse']:.2f}" for c in CONDITIONS], "ground truth"]
    return {"title": name, "pictures": pictures, "captions": captions}


def write_fig13(path: Path, rows: list[dict], size: int) -> None:
    """Rows = identities; columns = input, generated and real side views, meshes of single / generated / gt and the truth."""
    from mvaug.io.images import write_png
    from mvaug.viz.labelled import captioned_grid

    titles = [f"{r['title']} (captions under meshes: point-to-plane RMSE, mm; renders at yaw {FIGURE_YAW:+g})" if k == 0 else r["title"] for k, r in enumerate(rows)]
    write_png(path, captioned_grid([r["pictures"] for r in rows], [r["captions"] for r in rows], titles, min_side=size))
