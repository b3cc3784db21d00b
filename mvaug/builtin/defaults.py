"""Train the built-in models from nothing, evaluate them and export them (``scripts/train_defaults.py``).

Chairs: the demo's data and training (:func:`mvaug.demo.train_chair_models`), with 48 dense chairs
instead of 20 and chairs-quick's schedule stretched to the same number of epochs for the disentangler + bank (``configs/chairs-quick.yaml``: its style
encoder must generalise to chairs it never saw, and 16 training chairs were too few, see
docs/results.md); 120 chairs x 12 views for Pix2Vox-F (``configs/pix2vox-quick.yaml``). Faces: 80 identities at 64 px for the face disentangler
(``configs/faces-quick.yaml``) and its bank of the front and +-45 degree views; 4000 identities for
MVF-Net (``configs/mvfnet-synth.yaml``). Then ``mvaug evaluate`` on fresh held-out sets (seeds no
training used) fills the cards' metrics. Every stage is skipped when done (``WORK/stages.json``,
which also keeps its wall time), and the trainings resume when interrupted.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from mvaug.io.assets import DEFAULT_NAMES, assets_dir, card_path, read_card, write_card
from mvaug.demo import CONFIGS, FAST, FULL, DemoPlan

HELDOUT_SEED = 2000
"""Seed of the held-out chairs and faces of the cards' metrics (training data: seeds 0 and 1; demo: 1000)."""
CHECK_SEED = 3000
"""Seed of the chairs of :func:`chair_check` (the shipped-model test)."""
FLOOR_FRACTION = 0.8
"""``iou_floor`` = this fraction of the lower of the held-out mean single-view IoU@0.3 and :func:`chair_check`'s mean."""
FACE_BANK_VIEWS = "az000_el00,az315_el00,az045_el00"


@dataclass(frozen=True)
class DefaultsPlan:
    """Sizes of the default-model training."""

    chairs: DemoPlan = replace(FULL, dense_models=48, disentangler_overrides=(
        # chairs-quick's schedule is tuned for 992 training images; 38 chairs x 62 views = 2356 images
        # get the same number of epochs for each phase (x2.4), else the content collapses again
        "train.steps=2400", "model.noise_warmup_steps=950", "model.style_delay_steps=700", "loss.content_capacity.steps=2400",
    ))
    """Chair data and training: the demo's full plan with more chairs for the disentangler."""
    face_identities: int = 80
    face_size: int = 64
    face_split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    face_disentangler_overrides: tuple[str, ...] = ()
    mvfnet_identities: int = 4000
    mvfnet_yaws: tuple[float, ...] = (-60.0, -45.0, -30.0, 0.0, 30.0, 45.0, 60.0)
    mvfnet_split: tuple[float, float, float] = (0.98, 0.02, 0.0)
    mvfnet_overrides: tuple[str, ...] = ()
    heldout_chairs: int = 16
    heldout_faces: int = 16
    eval_views: tuple[int, ...] = (1, 2, 4)
    check_chairs: int = 4
    """Chairs of :func:`chair_check`."""
    supersample: int = 2


FULL_DEFAULTS = DefaultsPlan()
TINY_DEFAULTS = DefaultsPlan(
    chairs=FAST,
    face_identities=4,
    face_size=32,
    face_split=(0.5, 0.25, 0.25),
    face_disentangler_overrides=FAST.disentangler_overrides[:4] + ("train.steps=3", "train.batch_size=8", "train.encoder_steps=2", "train.checkpoint_every=3", "train.sample_every=3"),
    mvfnet_identities=4,
    mvfnet_yaws=(-45.0, 0.0, 45.0),
    mvfnet_split=(0.5, 0.5, 0.0),
    mvfnet_overrides=("model.width=2", "data.image_size=32", "data.train_side_yaws=[45.0]", "augment.low_res_size=16", "train.steps=2",
                      "train.batch_size=2", "train.checkpoint_every=1", "train.log_every=1", "train.val_every=1"),
    heldout_chairs=2,
    heldout_faces=2,
    eval_views=(1,),
    check_chairs=2,
    supersample=1,
)


@dataclass
class DefaultsResult:
    cards: dict[str, dict] = field(default_factory=dict)
    stages: dict[str, float] = field(default_factory=dict)
    """Wall time (s) of each stage, including those of earlier calls."""


def train_defaults(work: str | Path, assets: Path | None = None, only: str | None = None, tiny: bool = False, seed: int = 0,
                   workers: int = 2, device: str = "auto", progress: bool = True) -> DefaultsResult:
    """Train, evaluate and export the chair (``only='chairs'``), face (``'faces'``) or all default models into ``assets``."""
    plan = TINY_DEFAULTS if tiny else FULL_DEFAULTS
    work, folder = Path(work), assets or assets_dir()
    stages = _Stages(work / "stages.json")
    result = DefaultsResult()
    if only in (None, "chairs"):
        result.cards.update(_chairs(work, folder, plan, seed, workers, device, progress, stages))
    if only in (None, "faces"):
        result.cards.update(_faces(work, folder, plan, seed, workers, device, progress, stages))
    result.stages = stages.times()
    return result


def chair_check(assets: Path | None, work: Path, count: int, seed: int = CHECK_SEED, device: str = "cpu") -> dict:
    """Reconstruct view 0 of ``count`` fresh synthetic chairs with the built-in Pix2Vox: IoU@0.3 per chair and the mean."""
    import numpy as np
    import torch

    from mvaug.builtin.load import load_reconstructor
    from mvaug.data.shapenet import ShapeNetDataset, list_views
    from mvaug.data.synth.writer import SynthChairsConfig, synthesize_chairs
    from mvaug.geometry.voxel_iou import voxel_iou
    from mvaug.io.voxel_files import read_occupancy
    from mvaug.recon.reconstruct import Reconstructor

    synthesize_chairs(work, SynthChairsConfig(models=count, views=1, seed=seed, split=(0.0, 0.0, 1.0)), progress=False)
    loaded = load_reconstructor(DEFAULT_NAMES[("chair", "reconstructor")], device, "chair", assets)
    recon = Reconstructor(loaded.model, loaded.config, torch.device(device), loaded.path)
    ious = []
    for model in ShapeNetDataset.from_root(work, split="test").models:
        probabilities = recon.reconstruct(recon.load_views([list_views(model.rendering_dir)[0]]))
        ious.append(float(voxel_iou(probabilities.numpy(), read_occupancy(model.voxel_path), (0.3,))[0]))
    return {"chairs": count, "seed": seed, "iou@0.3": ious, "mean_iou@0.3": float(np.mean(ious))}


class _Stages:
    """Finished stages and their wall times, kept in a JSON file so that a second call skips them."""

    def __init__(self, path: Path):
        self.path = path
        self.done: dict[str, float] = json.loads(path.read_text()) if path.is_file() else {}

    def run(self, name: str, action, finished=None) -> None:
        """Run ``action`` unless ``name`` is recorded (and ``finished()``, when given, still holds)."""
        if name in self.done and (finished is None or finished()):
            return
        start = time.perf_counter()
        action()
        self.done[name] = round(time.perf_counter() - start, 1)
        from mvaug.io.atomic import atomic_write_text

        recorded = json.loads(self.path.read_text()) if self.path.is_file() else {}  # another call may share WORK (--only)
        self.done = {**recorded, **self.done}
        atomic_write_text(self.path, json.dumps(self.done, indent=1) + "\n")

    def times(self) -> dict[str, float]:
        return dict(self.done)


def _chairs(work, assets, plan, seed, workers, device, progress, stages) -> dict[str, dict]:
    from mvaug.builtin.export import export_pix2vox
    from mvaug.data.synth.writer import SynthChairsConfig, synthesize_chairs
    from mvaug.demo import train_chair_models
    from mvaug.evaluate.reconstruction import ReconEvalConfig, evaluate_reconstruction

    chairs = plan.chairs
    dense = work / "chairs"
    dense_config = SynthChairsConfig(models=chairs.dense_models, seed=seed, dense=True, size=chairs.dense_size, split=chairs.dense_split)
    stages.run("chairs-data", lambda: synthesize_chairs(dense, dense_config, workers=workers, progress=progress))
    stages.run("chairs-train", lambda: train_chair_models(work, dense, chairs, seed, workers, progress))
    disentangler, recon = work / "runs" / "disentangler", work / "runs" / "pix2vox"
    names = {role: DEFAULT_NAMES[("chair", role)] for role in ("disentangler", "reconstructor")}
    data = {
        "disentangler": _data_record(f"{chairs.dense_models} dense synthetic chairs, {chairs.dense_size} px, 62 views",
                                     f"mvaug data synth-chairs DIR --dense --models {chairs.dense_models} --size {chairs.dense_size} --seed {seed} --split {_csv(chairs.dense_split)}",
                                     seed, models=chairs.dense_models, image_size=chairs.dense_size),
        "reconstructor": _data_record(f"{chairs.recon_models} synthetic chairs x {chairs.recon_views} views, {chairs.dense_size} px",
                                      f"mvaug data synth-chairs DIR --models {chairs.recon_models} --views {chairs.recon_views} --size {chairs.dense_size} --seed {seed + 1} --split 0.8,0.1,0.1",
                                      seed + 1, models=chairs.recon_models, views=chairs.recon_views, image_size=chairs.dense_size),
    }
    training = {
        "disentangler": _training("configs/chairs-quick.yaml", chairs.disentangler_overrides, "mvaug train --config configs/chairs-quick.yaml --data DIR --out RUN{sets} && mvaug bank build RUN --data DIR", "chairs-train"),
        "reconstructor": _training("configs/pix2vox-quick.yaml", chairs.recon_overrides, "mvaug train-recon --config configs/pix2vox-quick.yaml --data DIR --out RUN", "chairs-train"),
    }
    _export(stages, "chair", assets, names, {"disentangler": disentangler, "reconstructor": recon}, export_pix2vox, data, training)
    heldout = work / "heldout-chairs"
    heldout_config = SynthChairsConfig(models=plan.heldout_chairs, seed=HELDOUT_SEED + seed, dense=True, size=chairs.dense_size, split=(0.0, 0.0, 1.0))
    config = ReconEvalConfig(views=plan.eval_views, seed=seed)

    def evaluate() -> None:
        synthesize_chairs(heldout, heldout_config, workers=workers, progress=progress)
        refs = {role: f"builtin:{name}" for role, name in names.items()}
        with _assets_env(assets):
            summary = evaluate_reconstruction(heldout, refs["reconstructor"], refs["disentangler"], work / "eval-chairs", config, device=device, progress=progress)
        at = config.thresholds.index(0.3)
        table = {condition: round(values[at], 4) for condition, values in summary["mean_iou"].items()}
        check = chair_check(assets, work / "check-chairs", plan.check_chairs, device="cpu")
        heldout_info = {"chairs": plan.heldout_chairs, "seed": HELDOUT_SEED + seed, "command": f"mvaug evaluate --data HELDOUT --recon {refs['reconstructor']} --run {refs['disentangler']} --views {_csv(plan.eval_views)}"}
        floor = round(FLOOR_FRACTION * min(table["single"], check["mean_iou@0.3"]), 3)
        recon_metrics = {"val_iou@0.3": round(float(_payload_metric(recon)), 4), **{f"heldout_iou@0.3_{c}": v for c, v in table.items()}, "iou_floor": floor,
                         "iou_floor_rule": f"{FLOOR_FRACTION} x the lower of the held-out mean single-view IoU@0.3 and the check's mean", "heldout": heldout_info, "check": check}
        _set_metrics(names["reconstructor"], recon_metrics, assets)
        _set_metrics(names["disentangler"], {**{f"heldout_iou@0.3_{c}": v for c, v in table.items() if c != "single"}, "heldout": heldout_info}, assets)

    stages.run("chairs-eval", evaluate, lambda: _evaluated(names.values(), assets))
    return {name: _finish_card(name, assets, stages, work) for name in names.values()}


def _faces(work, assets, plan, seed, workers, device, progress, stages) -> dict[str, dict]:
    from mvaug.builtin.export import export_mvfnet
    from mvaug.disentangle.run import run_training
    from mvaug.engine.loop import TrainRequest
    from mvaug.evaluate.face_eval import evaluate_faces
    from mvaug.faces.synth import SynthFacesConfig, synthesize_faces
    from mvaug.multiview.pipeline import build_bank
    from mvaug.multiview.synthesizer import DEFAULT_BANK_NAME
    from mvaug.multiview.views import parse_views
    from mvaug.recon.face_trainer import run_face_recon_training

    faces, faces_train = work / "faces", work / "faces-mvfnet"
    face_config = SynthFacesConfig(identities=plan.face_identities, size=plan.face_size, seed=seed, split=plan.face_split, supersample=plan.supersample)
    train_config = SynthFacesConfig(identities=plan.mvfnet_identities, size=plan.face_size, seed=seed + 1, yaws=plan.mvfnet_yaws, pitches=(0.0,),
                                    split=plan.mvfnet_split, supersample=plan.supersample)
    stages.run("faces-data", lambda: (synthesize_faces(faces, face_config, workers, progress), synthesize_faces(faces_train, train_config, workers, progress)))
    disentangler, mvfnet = work / "runs" / "face-disentangler", work / "runs" / "mvfnet"

    def train_disentangler() -> None:
        if not (disentangler / "model.pt").is_file():
            resume = (disentangler / "config.yaml").is_file()
            run_training(TrainRequest(faces, disentangler, CONFIGS / "faces-quick.yaml", tuple(plan.face_disentangler_overrides), resume, device=device, progress=progress))
        if not (disentangler / DEFAULT_BANK_NAME).is_file():
            build_bank(disentangler, data=faces, views=parse_views(FACE_BANK_VIEWS), device=device, progress=progress)

    stages.run("faces-disentangler", train_disentangler)
    mvfnet_request = TrainRequest(faces_train, mvfnet, CONFIGS / "mvfnet-synth.yaml", tuple(plan.mvfnet_overrides), (mvfnet / "config.yaml").is_file(),
                                  device=device, progress=progress)
    stages.run("faces-mvfnet", lambda: run_face_recon_training(mvfnet_request))
    names = {role: DEFAULT_NAMES[("face", role)] for role in ("disentangler", "reconstructor")}
    yaws = ",".join(f"{y:g}" for y in plan.mvfnet_yaws)
    data = {
        "disentangler": _data_record(f"{plan.face_identities} synthetic faces, {plan.face_size} px, 13 yaws x 3 pitches",
                                     f"mvaug data synth-faces DIR --identities {plan.face_identities} --size {plan.face_size} --seed {seed} --split {_csv(plan.face_split)}",
                                     seed, identities=plan.face_identities, image_size=plan.face_size),
        "reconstructor": _data_record(f"{plan.mvfnet_identities} synthetic faces, {plan.face_size} px, yaws {yaws}",
                                      f"mvaug data synth-faces DIR --identities {plan.mvfnet_identities} --size {plan.face_size} --seed {seed + 1} --yaws={yaws} --pitches 0 --split {_csv(train_config.split)}",
                                      seed + 1, identities=plan.mvfnet_identities, image_size=plan.face_size),
    }
    training = {
        "disentangler": _training("configs/faces-quick.yaml", plan.face_disentangler_overrides, "mvaug train --config configs/faces-quick.yaml --data DIR --out RUN{sets} && mvaug bank build RUN --data DIR --views " + FACE_BANK_VIEWS, "faces-disentangler"),
        "reconstructor": _training("configs/mvfnet-synth.yaml", plan.mvfnet_overrides, "mvaug train-recon --kind face --config configs/mvfnet-synth.yaml --data DIR --out RUN", "faces-mvfnet"),
    }
    _export(stages, "face", assets, names, {"disentangler": disentangler, "reconstructor": mvfnet}, export_mvfnet, data, training)
    heldout = work / "heldout-faces"
    heldout_config = SynthFacesConfig(identities=plan.heldout_faces, size=plan.face_size, seed=HELDOUT_SEED + seed, yaws=(-45.0, 0.0, 45.0), pitches=(0.0,),
                                      split=(0.0, 0.0, 1.0), supersample=plan.supersample)

    def evaluate() -> None:
        synthesize_faces(heldout, heldout_config, workers, progress)
        refs = {role: f"builtin:{name}" for role, name in names.items()}
        with _assets_env(assets):
            summary = evaluate_faces(heldout, refs["reconstructor"], refs["disentangler"], work / "eval-faces", device=device, progress=progress)
        table = {f"heldout_{metric}_{c}": round(v, 3) for metric in ("vertex_rmse", "point_to_plane_rmse") for c, v in summary["mean"][metric].items()}
        heldout_info = {"identities": plan.heldout_faces, "seed": HELDOUT_SEED + seed, "units": "mm",
                        "command": f"mvaug evaluate --kind face --data HELDOUT --recon {refs['reconstructor']} --run {refs['disentangler']}"}
        _set_metrics(names["reconstructor"], {"val_vertex_rmse_mm": round(float(_payload_metric(mvfnet, "best")), 3), **table, "heldout": heldout_info}, assets)
        _set_metrics(names["disentangler"], {k: v for k, v in table.items() if k.endswith("_generated")} | {"heldout": heldout_info}, assets)

    stages.run("faces-eval", evaluate, lambda: _evaluated(names.values(), assets))
    return {name: _finish_card(name, assets, stages, work) for name in names.values()}


def _export(stages: _Stages, kind: str, assets: Path, names: dict[str, str], runs: dict[str, Path], export_reconstructor,
            data: dict[str, dict], training: dict[str, dict]) -> None:
    """Stage ``{kind}s-export``: the disentangler and the reconstructor of ``runs`` into ``assets`` as ``names``, each
    card recording the data and the training that made it."""
    from mvaug.builtin.export import export_disentangler

    about = {role: {"data": data[role], "training": training[role]} for role in runs}
    stages.run(f"{kind}s-export", lambda: (
        export_disentangler(runs["disentangler"], names["disentangler"], kind, about["disentangler"], assets),
        export_reconstructor(runs["reconstructor"], names["reconstructor"], about["reconstructor"], assets),
    ), lambda: _exported(names.values(), assets))


def _exported(names, assets: Path) -> bool:
    return all(card_path(name, assets).is_file() for name in names)


def _evaluated(names, assets: Path) -> bool:
    return _exported(names, assets) and all(read_card(name, assets).get("metrics") for name in names)


def _training(config: str, overrides: tuple[str, ...], command: str, stage: str) -> dict:
    """The card's ``training``: config file, overrides, command (its ``{sets}`` becomes the overrides'
    ``--set`` options, else they go at the end), and the stage whose wall time it gets."""
    sets = "".join(f" --set {o}" for o in overrides)
    command = command.format(sets=sets) if "{sets}" in command else command + sets
    return {"config": config, "overrides": list(overrides), "command": command, "stage": stage}


def _finish_card(name: str, assets: Path, stages: _Stages, work: Path) -> dict:
    """Record the wall time of the card's training stage and the machine; paths under ``work`` become
    'WORK/...' so that the shipped card names no folder of the machine it was trained on."""
    card = json.loads(json.dumps(read_card(name, assets)).replace(json.dumps(str(work.resolve()))[1:-1], "WORK"))
    training = card.setdefault("training", {})
    training["wall_time_s"] = stages.done.get(training.get("stage"))
    training["machine"] = {"cpu": platform.processor() or platform.machine(), "gpu": _gpu_name()}
    write_card(card, assets)
    return card


def _set_metrics(name: str, metrics: dict, assets: Path) -> None:
    card = read_card(name, assets)
    card["metrics"] = metrics
    write_card(card, assets)


def _payload_metric(run: Path, key: str = "best_iou") -> float:
    import torch

    return torch.load(run / "best.pt", map_location="cpu", weights_only=True)[key]


def _gpu_name() -> str | None:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def _data_record(summary: str, command: str, seed: int, **sizes: int) -> dict:
    """What a model card says of the data a model trained on: a summary, the command that makes it, its seed and sizes."""
    return {"summary": summary, "command": command, "seed": seed, "sizes": sizes}


def _csv(values) -> str:
    return ",".join(f"{v:g}" for v in values)


@contextlib.contextmanager
def _assets_env(assets: Path):
    """Point ``builtin:NAME`` references at ``assets`` while evaluating (worker processes inherit it)."""
    from mvaug.io.assets import ASSETS_ENV

    saved = os.environ.get(ASSETS_ENV)
    os.environ[ASSETS_ENV] = str(Path(assets).resolve())
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(ASSETS_ENV, None)
        else:
            os.environ[ASSETS_ENV] = saved
