"""Train the built-in models from nothing, evaluate them and export them (``scripts/train_defaults.py``).

Each disentangler has its own recipe (:class:`DisentanglerRecipe`: data, config, bank). The chair
disentangler learns from 160 dense chairs at 64 px with one style code per chair
(``configs/chairs-cpu64.yaml``, issue 16); the face disentangler from 80 identities at 64 px
(``configs/faces-quick.yaml``) with a bank of the front and +-45 degree views. Pix2Vox-F learns
from the demo's 120 chairs x 12 views (:func:`mvaug.demo.train_pix2vox`,
``configs/pix2vox-quick.yaml``) and MVF-Net from 4000 identities (``configs/mvfnet-synth.yaml``).
Then ``mvaug evaluate`` on fresh held-out sets (seeds no training used) fills the cards' metrics.
Every stage is skipped when done (``WORK/stages.json``, which also keeps its wall time), and the
trainings resume when interrupted. One model can be retrained alone (``only``); it is then
evaluated with the shipped model of the other role.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import time
from dataclasses import dataclass, field
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
class DisentanglerRecipe:
    """The data and training of one built-in disentangler."""

    config: str
    """A file of configs/."""
    data_seed: int
    """Seed of its data, added to the ``seed`` of :func:`train_defaults`."""
    objects: int
    """Dense synthetic chairs (62 views each) or synthetic face identities (13 yaws x 3 pitches)."""
    size: int
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    overrides: tuple[str, ...] = ()
    bank_views: str | None = None
    """Views of the content bank; None = every training camera."""


@dataclass(frozen=True)
class DefaultsPlan:
    """Sizes of the default-model training."""

    chairs: DemoPlan = FULL
    """Pix2Vox's data and training: the demo's full plan."""
    chair_disentangler: DisentanglerRecipe = DisentanglerRecipe(
        # issue 16: 160 dense chairs at 64 px with one style code per chair; trained for 2000 + 400 steps
        # (16.1 + 3.2 epochs) before configs/chairs-cpu64.yaml counted its schedule in epochs
        "chairs-cpu64.yaml", data_seed=11, objects=160, size=64,
        overrides=("train.epochs=null", "train.steps=2000", "train.encoder_epochs=null", "train.encoder_steps=400"),
    )
    face_disentangler: DisentanglerRecipe = DisentanglerRecipe("faces-quick.yaml", data_seed=0, objects=80, size=64, bank_views=FACE_BANK_VIEWS)
    face_size: int = 64
    """Image size of MVF-Net's data."""
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
    chair_disentangler=DisentanglerRecipe("chairs-quick.yaml", data_seed=0, objects=FAST.dense_models, size=FAST.dense_size, split=FAST.dense_split,
                                          overrides=FAST.disentangler_overrides),
    face_disentangler=DisentanglerRecipe("faces-quick.yaml", data_seed=0, objects=4, size=32, split=(0.5, 0.25, 0.25), bank_views=FACE_BANK_VIEWS,
                                         overrides=FAST.disentangler_overrides[:4] + ("train.steps=3", "train.batch_size=8", "train.encoder_steps=2", "train.checkpoint_every=3", "train.sample_every=3")),
    face_size=32,
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
    """Train, evaluate and export the default models into ``assets``: all, the chair (``only='chairs'``) or face
    (``'faces'``) pair, or one model by name (``'chair-disentangler'``). A model trained alone is evaluated with the
    shipped model of the other role, and both cards of the pair get the new metrics."""
    kinds = {"chairs": "chair", "faces": "face"}
    if only is not None and only not in kinds and only not in DEFAULT_NAMES.values():
        raise ValueError(f"only must be chairs, faces or one of {', '.join(sorted(DEFAULT_NAMES.values()))}, got {only!r}")
    plan = TINY_DEFAULTS if tiny else FULL_DEFAULTS
    work, folder = Path(work), assets or assets_dir()
    stages = _Stages(work / "stages.json")
    result = DefaultsResult()
    for group, build in (("chairs", _chairs), ("faces", _faces)):
        names = {role: DEFAULT_NAMES[(kinds[group], role)] for role in ("disentangler", "reconstructor")}
        wanted = {role for role, name in names.items() if only in (None, group, name)}
        if wanted:
            result.cards.update(build(work, folder, plan, seed, workers, device, progress, stages, names, wanted))
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


def _chairs(work, assets, plan, seed, workers, device, progress, stages, names, wanted) -> dict[str, dict]:
    from mvaug.builtin.export import export_pix2vox
    from mvaug.data.synth.writer import SynthChairsConfig, synthesize_chairs
    from mvaug.demo import train_pix2vox
    from mvaug.evaluate.reconstruction import ReconEvalConfig, evaluate_reconstruction

    chairs, recipe = plan.chairs, plan.chair_disentangler
    runs = {"disentangler": work / "runs" / "disentangler", "reconstructor": work / "runs" / "pix2vox"}
    if "disentangler" in wanted:
        dense = work / "chairs"
        dense_config = SynthChairsConfig(models=recipe.objects, seed=seed + recipe.data_seed, dense=True, size=recipe.size, split=recipe.split)
        stages.run("chairs-data", lambda: synthesize_chairs(dense, dense_config, workers=workers, progress=progress))
        data = _data_record(f"{recipe.objects} dense synthetic chairs, {recipe.size} px, 62 views",
                            f"mvaug data synth-chairs DIR --dense --models {recipe.objects} --size {recipe.size} --seed {seed + recipe.data_seed} --split {_csv(recipe.split)}",
                            seed + recipe.data_seed, models=recipe.objects, image_size=recipe.size)
        _disentangler(stages, "chairs-disentangler", "chair", runs["disentangler"], dense, recipe, names["disentangler"], data, assets, device, progress)
    if "reconstructor" in wanted:
        stages.run("chairs-pix2vox", lambda: train_pix2vox(work, chairs, seed, workers, progress))
        about = {
            "data": _data_record(f"{chairs.recon_models} synthetic chairs x {chairs.recon_views} views, {chairs.dense_size} px",
                                 f"mvaug data synth-chairs DIR --models {chairs.recon_models} --views {chairs.recon_views} --size {chairs.dense_size} --seed {seed + 1} --split 0.8,0.1,0.1",
                                 seed + 1, models=chairs.recon_models, views=chairs.recon_views, image_size=chairs.dense_size),
            "training": _training("configs/pix2vox-quick.yaml", chairs.recon_overrides, "mvaug train-recon --config configs/pix2vox-quick.yaml --data DIR --out RUN", "chairs-pix2vox"),
        }
        stages.run(f"export-{names['reconstructor']}", lambda: export_pix2vox(runs["reconstructor"], names["reconstructor"], about, assets), lambda: _exported([names["reconstructor"]], assets))
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
        recon = read_card(names["reconstructor"], assets).get("metrics", {})
        recon_metrics = {"val_iou@0.3": recon.get("val_iou@0.3") if "reconstructor" not in wanted else round(float(_payload_metric(runs["reconstructor"])), 4),
                         **{f"heldout_iou@0.3_{c}": v for c, v in table.items()}, "iou_floor": floor,
                         "iou_floor_rule": f"{FLOOR_FRACTION} x the lower of the held-out mean single-view IoU@0.3 and the check's mean", "heldout": heldout_info, "check": check}
        _set_metrics(names["reconstructor"], recon_metrics, assets)
        _set_metrics(names["disentangler"], {**{f"heldout_iou@0.3_{c}": v for c, v in table.items() if c != "single"}, "heldout": heldout_info}, assets)

    stages.run("chairs-eval", evaluate, lambda: _evaluated(names.values(), assets))
    return {name: _finish_card(name, assets, stages, work) for name in names.values()}


def _faces(work, assets, plan, seed, workers, device, progress, stages, names, wanted) -> dict[str, dict]:
    from mvaug.builtin.export import export_mvfnet
    from mvaug.evaluate.face_eval import evaluate_faces
    from mvaug.faces.synth import SynthFacesConfig, synthesize_faces
    from mvaug.recon.face_trainer import run_face_recon_training
    from mvaug.engine.loop import TrainRequest

    recipe = plan.face_disentangler
    runs = {"disentangler": work / "runs" / "face-disentangler", "reconstructor": work / "runs" / "mvfnet"}
    if "disentangler" in wanted:
        faces = work / "faces"
        face_config = SynthFacesConfig(identities=recipe.objects, size=recipe.size, seed=seed + recipe.data_seed, split=recipe.split, supersample=plan.supersample)
        stages.run("faces-data", lambda: synthesize_faces(faces, face_config, workers, progress))
        data = _data_record(f"{recipe.objects} synthetic faces, {recipe.size} px, 13 yaws x 3 pitches",
                            f"mvaug data synth-faces DIR --identities {recipe.objects} --size {recipe.size} --seed {seed + recipe.data_seed} --split {_csv(recipe.split)}",
                            seed + recipe.data_seed, identities=recipe.objects, image_size=recipe.size)
        _disentangler(stages, "faces-disentangler", "face", runs["disentangler"], faces, recipe, names["disentangler"], data, assets, device, progress)
    if "reconstructor" in wanted:
        faces_train = work / "faces-mvfnet"
        train_config = SynthFacesConfig(identities=plan.mvfnet_identities, size=plan.face_size, seed=seed + 1, yaws=plan.mvfnet_yaws, pitches=(0.0,),
                                        split=plan.mvfnet_split, supersample=plan.supersample)
        stages.run("faces-mvfnet-data", lambda: synthesize_faces(faces_train, train_config, workers, progress))
        mvfnet_request = TrainRequest(faces_train, runs["reconstructor"], CONFIGS / "mvfnet-synth.yaml", tuple(plan.mvfnet_overrides),
                                      (runs["reconstructor"] / "config.yaml").is_file(), device=device, progress=progress)
        stages.run("faces-mvfnet", lambda: run_face_recon_training(mvfnet_request))
        yaws = ",".join(f"{y:g}" for y in plan.mvfnet_yaws)
        about = {
            "data": _data_record(f"{plan.mvfnet_identities} synthetic faces, {plan.face_size} px, yaws {yaws}",
                                 f"mvaug data synth-faces DIR --identities {plan.mvfnet_identities} --size {plan.face_size} --seed {seed + 1} --yaws={yaws} --pitches 0 --split {_csv(train_config.split)}",
                                 seed + 1, identities=plan.mvfnet_identities, image_size=plan.face_size),
            "training": _training("configs/mvfnet-synth.yaml", plan.mvfnet_overrides, "mvaug train-recon --kind face --config configs/mvfnet-synth.yaml --data DIR --out RUN", "faces-mvfnet"),
        }
        stages.run(f"export-{names['reconstructor']}", lambda: export_mvfnet(runs["reconstructor"], names["reconstructor"], about, assets), lambda: _exported([names["reconstructor"]], assets))
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
        recon = read_card(names["reconstructor"], assets).get("metrics", {})
        val = recon.get("val_vertex_rmse_mm") if "reconstructor" not in wanted else round(float(_payload_metric(runs["reconstructor"], "best")), 3)
        _set_metrics(names["reconstructor"], {"val_vertex_rmse_mm": val, **table, "heldout": heldout_info}, assets)
        _set_metrics(names["disentangler"], {k: v for k, v in table.items() if k.endswith("_generated")} | {"heldout": heldout_info}, assets)

    stages.run("faces-eval", evaluate, lambda: _evaluated(names.values(), assets))
    return {name: _finish_card(name, assets, stages, work) for name in names.values()}


def _disentangler(stages: _Stages, stage: str, kind: str, run: Path, data: Path, recipe: DisentanglerRecipe, name: str, data_record: dict,
                  assets: Path, device: str, progress: bool) -> None:
    """Stage ``stage``: train the disentangler of ``recipe`` on ``data`` in ``run`` with its bank; then export it as ``name``,
    its card recording the data and the training."""
    from mvaug.builtin.export import export_disentangler
    from mvaug.demo import train_disentangler

    stages.run(stage, lambda: train_disentangler(run, data, CONFIGS / recipe.config, recipe.overrides, recipe.bank_views, device, progress))
    bank = f" --views {recipe.bank_views}" if recipe.bank_views else ""
    training = _training(f"configs/{recipe.config}", recipe.overrides, f"mvaug train --config configs/{recipe.config} --data DIR --out RUN{{sets}} && mvaug bank build RUN --data DIR{bank}", stage)
    stages.run(f"export-{name}", lambda: export_disentangler(run, name, kind, {"data": data_record, "training": training}, assets), lambda: _exported([name], assets))


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
    if training.get("stage") in stages.done:  # else the model was trained by an earlier call in another WORK: its record stays
        training["wall_time_s"] = stages.done[training["stage"]]
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
