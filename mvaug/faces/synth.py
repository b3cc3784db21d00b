"""``mvaug data synth-faces``: renders of random morphable-model faces over a pose grid.

Layout of ``OUT``::

    synth_faces_manifest.json        settings, pose grid (view index -> name, yaw, pitch), model summary
    morphable_model.npz              the morphable model the coefficients refer to (MorphableModel.load)
    split.json                       {"train": [...], "val": [...], "test": [...]} identity names
    images/<identity>/<view:03d>.png RGB renders on a plain background
    meshes/<identity>.obj            ground-truth mesh (model coordinates, mm) with vertex albedo colours
    annotations/<identity>.json      coefficients, albedo and lighting parameters; per view: pose
                                     (yaw, pitch, roll, rotation, scale, translation), 68 landmarks
                                     in pixels and their visibility (see mvaug.faces.pose)

View ``v`` is yaw ``v % len(yaws)`` at pitch ``v // len(yaws)``. Each identity is a pure function
of ``(seed, identity index)``: one identity, one expression, one albedo and one light (fixed to the
head, as in a multi-camera capture) seen from every view, with a small random jitter of scale and
translation per view. Output is byte-identical for equal settings whatever the number of workers;
an interrupted run resumes (an identity is finished once its annotation file, written last,
exists); a folder made with other settings is refused.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mvaug.config import require_at_least
from mvaug.errors import DataError
from mvaug.io.atomic import atomic_write_text, remove_stale_temps

MANIFEST = "synth_faces_manifest.json"
MODEL_FILE = "morphable_model.npz"
SPLIT_FILE = "split.json"
PROCEDURAL = "procedural"


@dataclass(frozen=True)
class SynthFacesConfig:
    """What ``mvaug data synth-faces`` makes. Equal configs give byte-identical data sets."""

    identities: int = 100
    """Number of random identities (each with its own expression, albedo and light)."""
    size: int = 128
    """Image side in pixels (64, 128 or 224 in the experiments)."""
    seed: int = 0
    """Master seed; identity i uses the stream (seed, i)."""
    yaws: tuple[float, ...] = (-90.0, -75.0, -60.0, -45.0, -30.0, -15.0, 0.0, 15.0, 30.0, 45.0, 60.0, 75.0, 90.0)
    """Yaw angles of the pose grid in degrees; positive turns the nose to the image right."""
    pitches: tuple[float, ...] = (-20.0, 0.0, 20.0)
    """Pitch angles of the pose grid in degrees; positive turns the nose up."""
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    """Train/val/test fractions of the identities (by identity, seeded)."""
    model: str = PROCEDURAL
    """'procedural' (the built-in synthetic head) or a morphable model file (.npz, BFM .mat/.h5, 3DDFA .mat)."""
    expression_std: float = 0.5
    """Expression coefficients ~ N(0, expression_std^2), in the model's standard deviations."""
    identity_clip: float = 3.0
    """Identity coefficients ~ N(0, 1) clipped to +-identity_clip."""
    fill: float = 0.85
    """Diameter of the mean head's bounding sphere as a fraction of the image side."""
    scale_jitter: float = 0.04
    """Per view, the scale is multiplied by U[1 - scale_jitter, 1 + scale_jitter]."""
    shift_jitter: float = 0.03
    """Per view, the head centre moves by U[-shift_jitter, shift_jitter] x size pixels on each axis."""
    background: tuple[float, float, float] = (0.5, 0.5, 0.5)
    """Plain background colour, RGB in [0, 1]."""
    supersample: int = 2
    """Anti-aliasing: rays per pixel along each axis."""

    def __post_init__(self) -> None:
        require_at_least(self, 1, "identities", "size", "supersample")
        if self.size < 16:
            raise ValueError(f"size must be at least 16 pixels, got {self.size}")
        if len(self.split) != 3 or min(self.split) < 0 or not math.isclose(sum(self.split), 1.0, abs_tol=1e-6):
            raise ValueError(f"split must be three non-negative fractions summing to 1, got {self.split}")
        for name, limit in (("yaws", 90.0), ("pitches", 60.0)):
            angles = getattr(self, name)
            if not angles or len(set(angles)) != len(angles) or any(abs(a) > limit for a in angles):
                raise ValueError(f"{name} must be distinct angles within +-{limit:g} degrees, got {angles}")
        if not 0.1 <= self.fill <= 1.0:
            raise ValueError(f"fill must be in [0.1, 1], got {self.fill}")
        if not (0 <= self.scale_jitter < 0.5 and 0 <= self.shift_jitter < 0.25 and self.expression_std >= 0 and self.identity_clip > 0):
            raise ValueError("scale_jitter must be in [0, 0.5), shift_jitter in [0, 0.25), expression_std >= 0 and identity_clip > 0")
        if len(self.background) != 3 or not all(0.0 <= c <= 1.0 for c in self.background):
            raise ValueError(f"background must be three floats in [0, 1], got {self.background}")

    def pose_grid(self) -> list[dict]:
        """One entry per view index: ``{"view", "name", "yaw", "pitch"}``."""
        from mvaug.faces.pose import view_name

        grid = [(float(yaw), float(pitch)) for pitch in self.pitches for yaw in self.yaws]
        return [{"view": v, "name": view_name(yaw, pitch), "yaw": yaw, "pitch": pitch} for v, (yaw, pitch) in enumerate(grid)]


@dataclass
class SynthFacesSummary:
    root: Path
    identities: list[str]
    written: int
    skipped: int
    splits: dict[str, int] = field(default_factory=dict)


def identity_name(index: int) -> str:
    return f"face-{index:05d}"


def image_path(root: Path, identity: str, view: int) -> Path:
    return root / "images" / identity / f"{view:03d}.png"


@functools.lru_cache(maxsize=2)
def load_model_setting(model: str):
    """The :class:`MorphableModel` named by a config's ``model`` (cached per process)."""
    from mvaug.faces.loaders import load_morphable_model
    from mvaug.faces.procedural import procedural_head_model

    return procedural_head_model() if model == PROCEDURAL else load_morphable_model(model)


@functools.lru_cache(maxsize=2)
def _model_context(model: str) -> dict:
    """Numpy arrays shared by every identity: mean, triangles, landmarks, colour regions, head radius."""
    from mvaug.faces.appearance import face_regions

    mm = load_model_setting(model)
    if mm.landmark_indices is None:
        raise DataError("the morphable model has no 68 landmark indices; save it with them (MorphableModel.save) first", model)
    mean = mm.mean.numpy().astype(np.float64)
    landmarks = mm.landmark_indices.numpy()
    return {
        "model": mm,
        "triangles": mm.triangles.numpy(),
        "landmarks": landmarks,
        "regions": face_regions(mean, landmarks),
        "radius": float(np.linalg.norm(mean - mean.mean(0), axis=1).max()),
        "centre": mean.mean(0),
    }


def build_identity(config: SynthFacesConfig, index: int) -> dict:
    """Everything about identity ``index`` except its images: vertices, albedo, lighting, per-view poses."""
    import torch

    from mvaug.faces.appearance import sample_albedo, sample_lighting
    from mvaug.faces.pose import project, rotation_from_angles

    ctx = _model_context(config.model)
    mm = ctx["model"]
    shape_seq, look_seq, view_seq = np.random.SeedSequence([config.seed, index]).spawn(3)
    shape_rng = np.random.default_rng(shape_seq)
    id_coef = np.clip(shape_rng.normal(size=mm.id_count), -config.identity_clip, config.identity_clip)
    exp_coef = shape_rng.normal(size=mm.exp_count) * config.expression_std
    with torch.no_grad():
        vertices = mm.vertices(torch.tensor(id_coef[None], dtype=torch.float32), torch.tensor(exp_coef[None], dtype=torch.float32))[0]
    vertices = vertices.numpy().astype(np.float64)
    look_rng = np.random.default_rng(look_seq)
    albedo, albedo_params = sample_albedo(ctx["regions"], look_rng)
    lighting = sample_lighting(look_rng)
    view_rng = np.random.default_rng(view_seq)
    base_scale = config.fill * config.size / (2.0 * ctx["radius"])
    views = []
    for entry in config.pose_grid():
        rotation = rotation_from_angles(entry["yaw"], entry["pitch"])
        scale = base_scale * (1.0 + view_rng.uniform(-config.scale_jitter, config.scale_jitter))
        centre_at = config.size / 2.0 + view_rng.uniform(-config.shift_jitter, config.shift_jitter, 2) * config.size
        translation = centre_at - project(ctx["centre"][None], rotation, np.float64(scale), np.zeros(2))[0]  # mean head centre -> centre_at
        marks = project(vertices[ctx["landmarks"]], rotation, np.float64(scale), translation)
        views.append({**entry, "roll": 0.0, "rotation": rotation, "scale": float(scale), "translation": translation, "landmarks": marks})
    return {
        "name": identity_name(index),
        "vertices": vertices,
        "albedo": albedo,
        "lighting": lighting,
        "views": views,
        "record": {
            "identity": identity_name(index),
            "index": index,
            "model": mm.name,
            "id_coef": [round(float(c), 6) for c in id_coef],
            "exp_coef": [round(float(c), 6) for c in exp_coef],
            "albedo": albedo_params,
            "lighting": dataclasses.asdict(lighting),
        },
    }


def write_identity(root: Path, config: SynthFacesConfig, index: int) -> None:
    """Render and save identity ``index``; its annotation file is written last."""
    from mvaug.faces.render import FaceRenderer
    from mvaug.io.images import write_png

    ident = build_identity(config, index)
    ctx = _model_context(config.model)
    name = ident["name"]
    renderer = FaceRenderer(ident["vertices"], ctx["triangles"], ident["albedo"], nthreads=1)
    views = []
    for view in ident["views"]:
        image = renderer.render(view["rotation"], view["scale"], view["translation"], config.size, ident["lighting"], config.background, config.supersample)
        write_png(image_path(root, name, view["view"]), image)
        visible = renderer.visible(ident["vertices"][ctx["landmarks"]], view["rotation"])
        views.append(
            {
                "view": view["view"],
                "name": view["name"],
                "image": image_path(Path("."), name, view["view"]).as_posix(),
                "yaw": view["yaw"],
                "pitch": view["pitch"],
                "roll": view["roll"],
                "rotation": np.round(view["rotation"], 8).tolist(),
                "scale": round(view["scale"], 8),
                "translation": np.round(view["translation"], 6).tolist(),
                "landmarks": np.round(view["landmarks"], 4).tolist(),
                "landmarks_visible": visible.tolist(),
            }
        )
    write_obj(root / "meshes" / f"{name}.obj", ident["vertices"], ctx["triangles"], ident["albedo"])
    record = {**ident["record"], "mesh": f"meshes/{name}.obj", "views": views}
    atomic_write_text(root / "annotations" / f"{name}.json", json.dumps(record, separators=(",", ":")) + "\n")


def write_obj(path: Path, vertices: np.ndarray, triangles: np.ndarray, colours: np.ndarray | None = None) -> None:
    """Compact Wavefront OBJ: ``v x y z [r g b]`` (mm to 1 um, colours in [0, 1]) and 1-based ``f`` lines; atomic."""
    rows = vertices if colours is None else np.concatenate([vertices, colours], 1)
    fmt = "v" + " %.3f" * rows.shape[1]
    lines = [fmt % tuple(row) for row in rows.tolist()]
    lines += ["f %d %d %d" % tuple(t) for t in (np.asarray(triangles) + 1).tolist()]
    atomic_write_text(path, "\n".join(lines) + "\n")


def _manifest_config(config: SynthFacesConfig) -> dict:
    from mvaug import __version__

    return json.loads(json.dumps({"generator": f"mvaug {__version__}", **dataclasses.asdict(config)}))


def _write_manifest(root: Path, config: SynthFacesConfig, complete: bool) -> None:
    mm = _model_context(config.model)["model"]
    manifest = {
        "config": _manifest_config(config),
        "complete": complete,
        "identities": [identity_name(i) for i in range(config.identities)],
        "views": config.pose_grid(),
        "model": {"file": MODEL_FILE, "name": mm.name, "vertices": mm.vertex_count, "id_count": mm.id_count, "exp_count": mm.exp_count},
        "layout": {"image": "images/<identity>/<view:03d>.png", "annotation": "annotations/<identity>.json", "mesh": "meshes/<identity>.obj"},
    }
    atomic_write_text(root / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def synthesize_faces(root: str | Path, config: SynthFacesConfig, workers: int = 1, progress: bool = True) -> SynthFacesSummary:
    """Write ``config.identities`` synthetic faces under ``root`` (layout in the module docstring)."""
    import multiprocessing as mp

    from tqdm import tqdm

    from mvaug.data.synth.writer import check_existing, split_models

    root = Path(root)
    check_existing(root, MANIFEST, _manifest_config(config), "face data set", "face manifest")
    _write_manifest(root, config, complete=False)  # marks the folder as ours before any identity is written
    if not (root / MODEL_FILE).is_file():
        _model_context(config.model)["model"].save(root / MODEL_FILE)
    names = [identity_name(i) for i in range(config.identities)]
    remove_stale_temps(root)  # writes a killed run had begun
    todo = [i for i, name in enumerate(names) if not (root / "annotations" / f"{name}.json").is_file()]
    with tqdm(total=len(todo), desc="synth-faces", unit="identity", disable=not progress) as bar:
        if workers > 1 and len(todo) > 1:
            # spawn, not fork: a child forked after torch/OpenMP threads ran hangs in its first multi-threaded op
            with mp.get_context("spawn").Pool(min(workers, len(todo)), initializer=_init_worker) as pool:
                for _ in pool.imap_unordered(_write_identity_task, [(root, config, i) for i in todo]):
                    bar.update()
        else:
            for i in todo:
                write_identity(root, config, i)
                bar.update()
    splits = split_models(names, config.split, config.seed)
    atomic_write_text(root / SPLIT_FILE, json.dumps(splits, indent=1) + "\n")
    _write_manifest(root, config, complete=True)
    return SynthFacesSummary(root, names, len(todo), len(names) - len(todo), {k: len(v) for k, v in splits.items()})


def _init_worker() -> None:
    """One torch thread per worker: the workers are the parallelism (a spawned process would start one per core)."""
    import torch

    torch.set_num_threads(1)


def _write_identity_task(task: tuple[Path, SynthFacesConfig, int]) -> None:
    write_identity(*task)
