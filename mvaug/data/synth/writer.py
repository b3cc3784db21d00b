"""Write procedural chairs as a ShapeNet data set (ShapeNetRendering + ShapeNetVox32 + split JSON).

Every model is a pure function of ``(seed, model index)``, so the output does not depend on the
number of workers, and a run that stops part-way resumes where it stopped: finished models are
kept, the rest are written again (every file is written atomically).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from mvaug.config import require_at_least
from mvaug.errors import DataError
from mvaug.geometry.camera import ShapeNetCamera, write_rendering_metadata
from mvaug.io.atomic import atomic_write_text, remove_stale_temps

CHAIR_TAXONOMY = "03001627"
MANIFEST = "synth_manifest.json"
SPLIT_FILE = "ShapeNet.json"

# 3D Chairs (Aubry et al. 2014) renders every chair at 31 azimuths and 2 elevations.
DENSE_AZIMUTHS = tuple(round(360.0 * a / 31, 6) for a in range(31))
DENSE_ELEVATIONS = (20.0, 30.0)
DENSE_DISTANCE_RATIO = 0.8

LOOKS = ("flat", "realistic", "mixed")
# the realistic look moves every camera by up to these: degrees of azimuth and elevation, a fraction of the distance
JITTER_AZIMUTH, JITTER_ELEVATION, JITTER_DISTANCE = 4.0, 3.0, 0.04


@dataclass(frozen=True)
class SynthChairsConfig:
    """What ``mvaug data synth-chairs`` makes. Equal configs give byte-identical data sets."""

    models: int = 100
    """Number of chair models."""
    views: int = 24
    """Random views per model (ignored with ``dense``, which renders 62)."""
    size: int = 137
    """Render size in pixels (ShapeNetRendering uses 137)."""
    seed: int = 0
    """Master seed; model i uses the stream (seed, i)."""
    dense: bool = False
    """Render the fixed 3D-Chairs-like grid: 31 azimuths x 2 elevations, view index = file number."""
    supersample: int = 2
    """Anti-aliasing: rays per pixel along each axis."""
    split: tuple[float, float, float] = (0.7, 0.1, 0.2)
    """Train/val/test fractions of the models (by model, seeded)."""
    families: tuple[str, ...] = ()
    """Restrict to these chair families (empty: all)."""
    voxel_dim: int = 32
    look: str = "flat"
    """flat: per-part colours under fixed lights (the original look); realistic: smooth shading, procedural wood,
    fabric and metal, random lights per view, jittered cameras (random views only; the dense grid stays exact) and
    more families; mixed: every chair flat or realistic with equal odds (model i is then model i of the flat or of the
    realistic set of the same seed)."""

    def __post_init__(self) -> None:
        from mvaug.data.synth.chair_models import REALISTIC_FAMILIES

        require_at_least(self, 1, "models", "views", "size", "supersample", "voxel_dim")
        if len(self.split) != 3 or min(self.split) < 0 or not math.isclose(sum(self.split), 1.0, abs_tol=1e-6):
            raise ValueError(f"split must be three non-negative fractions summing to 1, got {self.split}")
        if self.look not in LOOKS:
            raise ValueError(f"unknown look {self.look!r}; choose from {', '.join(LOOKS)}")
        unknown = sorted(set(self.families) - set(self.family_choices))
        if unknown and set(unknown) <= set(REALISTIC_FAMILIES):
            raise ValueError(f"chair families {unknown} need look 'realistic' (--look realistic)")
        if unknown:
            raise ValueError(f"unknown chair families {unknown}; choose from {', '.join(self.family_choices)}")

    @property
    def family_choices(self) -> tuple[str, ...]:
        """The families this look draws from (mixed: those of either look)."""
        return families_of_look("flat" if self.look == "flat" else "realistic")

    @property
    def view_count(self) -> int:
        return len(DENSE_AZIMUTHS) * len(DENSE_ELEVATIONS) if self.dense else self.views


@dataclass
class SynthSummary:
    root: Path
    models: list[str]
    written: int
    skipped: int
    splits: dict[str, int] = field(default_factory=dict)


def families_of_look(look: str) -> tuple[str, ...]:
    """The chair families that chairs of ``look`` ('flat' or 'realistic') are drawn from."""
    from mvaug.data.synth.chair_models import FAMILIES, REALISTIC_FAMILIES

    return REALISTIC_FAMILIES if look == "realistic" else FAMILIES


def model_look(config: SynthChairsConfig, index: int) -> str:
    """The look of model ``index``: the config's, or for ``mixed`` flat or realistic with equal odds, drawn from a
    fourth stream of (seed, index) so that the other three stay those of the plain looks."""
    if config.look != "mixed":
        return config.look
    stream = np.random.SeedSequence([config.seed, index]).spawn(4)[3]
    return "realistic" if np.random.default_rng(stream).random() < 0.5 else "flat"


def model_name(index: int) -> str:
    return f"synth-{index:05d}"


def dense_cameras() -> list[ShapeNetCamera]:
    """The 62 cameras of the dense grid; view index = elevation_index * 31 + azimuth_index."""
    return [ShapeNetCamera(az, el, 0.0, DENSE_DISTANCE_RATIO) for el in DENSE_ELEVATIONS for az in DENSE_AZIMUTHS]


def random_cameras(rng: np.random.Generator, count: int) -> list[ShapeNetCamera]:
    """Views drawn like ShapeNetRendering's: azimuth U[0, 360), elevation U[25, 30], distance U[0.65, 0.95]."""
    az = rng.uniform(0.0, 360.0, count)
    el = rng.uniform(25.0, 30.0, count)
    dist = rng.uniform(0.65, 0.95, count)
    return [ShapeNetCamera(float(a), float(e), 0.0, float(d)) for a, e, d in zip(az, el, dist)]


def jitter_cameras(rng: np.random.Generator, cameras: list[ShapeNetCamera]) -> list[ShapeNetCamera]:
    """Every camera moved a little (azimuth, elevation, distance), rounded so the metadata records it exactly."""
    n = len(cameras)
    azimuth = rng.uniform(-JITTER_AZIMUTH, JITTER_AZIMUTH, n)
    elevation = rng.uniform(-JITTER_ELEVATION, JITTER_ELEVATION, n)
    distance = rng.uniform(1 - JITTER_DISTANCE, 1 + JITTER_DISTANCE, n)
    return [
        ShapeNetCamera(round(c.azimuth + a, 6) % 360.0, round(c.elevation + e, 6), c.in_plane, round(c.distance_ratio * d, 6))
        for c, a, e, d in zip(cameras, azimuth, elevation, distance)
    ]


class SynthModel(NamedTuple):
    """One chair ready to write: the normalised mesh (trimesh, face colours), its manifest record, cameras, the
    lighting of every view and, for the realistic look, every face's material kind and grain axis."""

    mesh: object
    record: dict
    cameras: list[ShapeNetCamera]
    lightings: list
    face_kinds: np.ndarray | None
    face_axes: np.ndarray | None


def _paths(root: Path, name: str) -> dict[str, Path]:
    return {
        "rendering": root / "ShapeNetRendering" / CHAIR_TAXONOMY / name / "rendering",
        "binvox": root / "ShapeNetVox32" / CHAIR_TAXONOMY / name / "model.binvox",
        "obj": root / "ShapeNetCore.v1" / CHAIR_TAXONOMY / name / "model.obj",
    }


def _is_complete(root: Path, name: str) -> bool:
    paths = _paths(root, name)
    return (paths["rendering"] / "renderings.txt").is_file() and paths["binvox"].is_file() and paths["obj"].is_file()


def build_model(config: SynthChairsConfig, index: int) -> SynthModel:
    """Model ``index`` from the streams that (seed, index) spawns: shape, views, and the realistic look's lights and
    camera jitter (unused by the flat look)."""
    from mvaug.data.synth.chair_models import sample_chair
    from mvaug.geometry.voxelize import normalize_mesh
    from mvaug.render.raycast import Lighting, sample_studio_lighting

    look = model_look(config, index)
    shape_seq, view_seq, look_seq = np.random.SeedSequence([config.seed, index]).spawn(3)
    shape_rng = np.random.default_rng(shape_seq)
    family = str(shape_rng.choice(config.families)) if config.families else None
    chair = sample_chair(shape_rng, family, families_of_look(look))
    mesh = chair.to_mesh()
    mesh.vertices = normalize_mesh(mesh.vertices)
    cameras = dense_cameras() if config.dense else random_cameras(np.random.default_rng(view_seq), config.views)
    record = {"model": model_name(index), "family": chair.family, "params": chair.params}
    if config.look == "mixed":
        record["look"] = look
    if look == "flat":
        return SynthModel(mesh, record, cameras, [Lighting()] * len(cameras), None, None)
    look_rng = np.random.default_rng(look_seq)
    if not config.dense:  # the dense grid is a fixed rig: its views are matched to bank cameras within 0.5 degrees
        cameras = jitter_cameras(look_rng, cameras)
    lightings = [sample_studio_lighting(look_rng) for _ in cameras]
    return SynthModel(mesh, record, cameras, lightings, chair.face_kinds(), chair.face_axes())


def write_model(root: Path, config: SynthChairsConfig, index: int) -> dict:
    """Render, voxelise and save model ``index``; the rendering index file is written last."""
    from mvaug.geometry.voxel_mesh import export_mesh
    from mvaug.geometry.voxelize import voxelize_mesh
    from mvaug.io.binvox import write_binvox
    from mvaug.io.images import write_png
    from mvaug.render.raycast import MeshRenderer

    model = build_model(config, index)
    mesh, cameras = model.mesh, model.cameras
    paths = _paths(root, model.record["model"])
    export_mesh(mesh, paths["obj"])
    write_binvox(paths["binvox"], voxelize_mesh(mesh.vertices, mesh.faces, config.voxel_dim))
    renderer = MeshRenderer.from_trimesh(mesh, nthreads=1, face_kinds=model.face_kinds, face_axes=model.face_axes)
    names = [f"{view:02d}.png" for view in range(len(cameras))]
    for name, camera, lighting in zip(names, cameras, model.lightings):
        write_png(paths["rendering"] / name, renderer.render(camera, config.size, config.supersample, lighting))
    write_rendering_metadata(paths["rendering"] / "rendering_metadata.txt", cameras)
    atomic_write_text(paths["rendering"] / "renderings.txt", "".join(n + "\n" for n in names))
    return model.record


def split_models(names: list[str], fractions: tuple[float, float, float], seed: int) -> dict[str, list[str]]:
    """Seeded split by model into train/val/test, sizes rounded so they add up."""
    order = np.random.default_rng(np.random.SeedSequence([seed, 0x5EED])).permutation(len(names))
    n_train = int(round(fractions[0] * len(names)))
    n_val = int(round(fractions[1] * len(names)))
    n_val = min(n_val, len(names) - n_train)
    picked = [names[i] for i in order]
    return {
        "train": sorted(picked[:n_train]),
        "val": sorted(picked[n_train : n_train + n_val]),
        "test": sorted(picked[n_train + n_val :]),
    }


def _manifest_config(config: SynthChairsConfig) -> dict:
    from mvaug import __version__

    fields = dataclasses.asdict(config)
    if config.look == "flat":
        del fields["look"]  # as manifests recorded the flat look before there were others: those sets still resume
    return {"generator": f"mvaug {__version__}", **fields}


def check_existing(root: Path, manifest: str, config: dict, data_set: str = "data set", manifest_label: str = "data manifest") -> None:
    """Allow an empty folder, or one holding a (possibly unfinished) synthetic data set whose ``manifest`` file records
    ``config``; the errors call it a ``data_set`` and its manifest a ``manifest_label``."""
    path = root / manifest
    if not path.exists():
        if root.exists() and not root.is_dir():
            raise DataError("output path exists and is not a folder", root)
        if root.exists() and any(root.iterdir()):
            raise DataError(f"output folder is not empty and holds no synthetic {data_set}; choose an empty or new folder", root)
        return
    try:
        previous = json.loads(path.read_text())["config"]
    except (ValueError, KeyError, TypeError):
        raise DataError(f"unreadable synthetic {manifest_label}; delete the folder or choose another", path) from None
    wanted = json.loads(json.dumps(config))  # as the manifest stores it
    if previous != wanted:
        diff = sorted(k for k in set(previous) | set(wanted) if previous.get(k) != wanted.get(k))
        raise DataError(f"folder holds a {data_set} made with other settings ({', '.join(diff)}); choose another folder", root)


def synthesize_chairs(root: str | Path, config: SynthChairsConfig, workers: int = 1, progress: bool = True) -> SynthSummary:
    """Write ``config.models`` chairs under ``root`` in the ShapeNet layout, with ``workers`` processes."""
    import multiprocessing as mp

    from tqdm import tqdm

    root = Path(root)
    check_existing(root, MANIFEST, _manifest_config(config))
    _write_manifest(root, config, records=None)  # marks the folder as ours before any model is written
    names = [model_name(i) for i in range(config.models)]
    remove_stale_temps(root)  # writes a killed run had begun
    todo = [i for i, name in enumerate(names) if not _is_complete(root, name)]
    records: dict[int, dict] = {}
    with tqdm(total=len(todo), desc="synth-chairs", unit="model", disable=not progress) as bar:
        if workers > 1 and len(todo) > 1:
            # spawn, not fork: a child forked after torch/OpenMP threads ran hangs in its first multi-threaded op
            with mp.get_context("spawn").Pool(min(workers, len(todo))) as pool:
                for index, record in pool.imap_unordered(_write_model_task, [(root, config, i) for i in todo]):
                    records[index] = record
                    bar.update()
        else:
            for i in todo:
                records[i] = write_model(root, config, i)
                bar.update()
    for i in set(range(config.models)) - set(records):  # models kept from an earlier run
        records[i] = build_model(config, i).record
    splits = split_models(names, config.split, config.seed)
    split_entry = {"taxonomy_id": CHAIR_TAXONOMY, "taxonomy_name": "chair", "baseline": {}, **splits}
    atomic_write_text(root / SPLIT_FILE, json.dumps([split_entry], indent=2) + "\n")
    _write_manifest(root, config, [records[i] for i in range(config.models)])
    return SynthSummary(root, names, len(todo), len(names) - len(todo), {k: len(v) for k, v in splits.items()})


def _write_model_task(task: tuple[Path, SynthChairsConfig, int]) -> tuple[int, dict]:
    return task[2], write_model(*task)


def _write_manifest(root: Path, config: SynthChairsConfig, records: list[dict] | None) -> None:
    """The run's config; once finished (``complete``), every model's family and parameters too."""
    manifest = {"config": _manifest_config(config), "taxonomy_id": CHAIR_TAXONOMY, "complete": records is not None}
    if records is not None:
        manifest["models"] = records
    if config.dense:
        manifest["dense_views"] = [
            {"view": v, "azimuth": c.azimuth, "elevation": c.elevation, "distance_ratio": c.distance_ratio}
            for v, c in enumerate(dense_cameras())
        ]
    atomic_write_text(root / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def read_model_families(root: str | Path) -> dict[str, str]:
    """model id -> chair family, from the manifest of a synthetic set; empty for other data."""
    path = Path(root) / MANIFEST
    if not path.is_file():
        return {}
    try:
        return {m["model"]: m["family"] for m in json.loads(path.read_text()).get("models") or []}
    except (ValueError, KeyError, TypeError, AttributeError):
        raise DataError("unreadable synthetic data manifest", path) from None
