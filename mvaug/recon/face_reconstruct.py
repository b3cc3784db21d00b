"""Faces from one image (paper Appendix D.3, Fig. 13): generate left and right views with the face
disentangler, regress the 3D face with MVF-Net, write the mesh, a picture and the coefficients.

``mvaug reconstruct face.png --kind face --recon RUN_OR_CKPT --run DISENT`` generates the side views
``x_v = G(E_s(x), c_v)`` at the bank views named after the reconstructor's ``data.side_yaw`` and
``data.pitch`` (``az315_el00`` = yaw -45, the face turned to the image left, is MVF-Net's *left*
view; ``az045_el00`` its right one); with three images (front, left, right) they are used as given.
Images are resized to the networks' sizes as they are: they should be framed like the synthetic
renders (face centred, plain background); there is no face detection.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from mvaug.engine.precision import inference_autocast
from mvaug.errors import ConfigError, DataError
from mvaug.recon.face_config import FACE_KIND, FaceReconConfig

MESH_RENDER_YAWS = (-60.0, -30.0, 0.0, 30.0, 60.0)
MESH_ALBEDO = (0.75, 0.72, 0.70)
VIEW_NAMES = ("front", "left", "right")
_DISENTANGLER_HINT = "pass its run folder as --run, and a run of 'mvaug train-recon --kind face' as --recon"


@dataclass
class FaceReconstruction:
    """One reconstructed face: mesh in model units (mm for the built-in head), coefficients, pose per view.

    ``views`` holds for front, left, right: ``rotation`` (3, 3), ``yaw``/``pitch``/``roll`` degrees,
    ``scale`` pixels per model unit and ``translation`` (2,) pixels of the network's input size, and the
    projected 68 ``landmarks`` (68, 2) in those pixels (v down, :mod:`mvaug.faces.pose`).
    """

    vertices: np.ndarray  # (N, 3)
    triangles: np.ndarray  # (F, 3)
    landmarks: np.ndarray  # (68, 3)
    id_coef: np.ndarray  # (K_id,)
    exp_coef: np.ndarray  # (K_exp,)
    views: list[dict] = field(default_factory=list)
    image_size: int = 0

    def mesh(self):
        """The mesh as a ``trimesh.Trimesh`` (vertices as they are)."""
        import trimesh

        return trimesh.Trimesh(self.vertices, self.triangles, process=False)

    def to_json(self) -> dict:
        return {
            "image_size": self.image_size,
            "id_coef": [round(float(c), 6) for c in self.id_coef],
            "exp_coef": [round(float(c), 6) for c in self.exp_coef],
            "views": [
                {
                    "name": view["name"],
                    "yaw": round(view["yaw"], 3),
                    "pitch": round(view["pitch"], 3),
                    "roll": round(view["roll"], 3),
                    "rotation": np.round(view["rotation"], 6).tolist(),
                    "scale": round(view["scale"], 6),
                    "translation": np.round(view["translation"], 4).tolist(),
                    "landmarks": np.round(view["landmarks"], 3).tolist(),
                }
                for view in self.views
            ],
        }


def find_face_checkpoint(path: str | os.PathLike) -> Path:
    """A checkpoint file, or in a run folder of ``mvaug train-recon --kind face`` its ``best.pt`` (else its latest step)."""
    from mvaug.recon.checkpoint import find_run_checkpoint

    return find_run_checkpoint(path, "face reconstructor", "mvaug train-recon --kind face",
                               f"this is a disentangler run folder (model.pt), not a face reconstructor: {_DISENTANGLER_HINT}")


def read_face_payload(file: Path, device: torch.device | str = "cpu") -> dict:
    """The payload of a face reconstructor checkpoint; anything else raises :class:`DataError` saying what it is."""
    from mvaug.io.checkpoint import read_torch_file
    from mvaug.recon.face_trainer import FACE_CHECKPOINT_FORMAT

    payload = read_torch_file(file, "face reconstructor checkpoint", device)
    fmt = payload.get("format") if isinstance(payload, dict) else None
    if fmt == FACE_CHECKPOINT_FORMAT:
        if payload.get("kind") != FACE_KIND:
            raise DataError(f"this reconstructor was trained on '{payload.get('kind')}', not on faces", file)
        return payload
    if fmt == "mvaug-disentangle-v1":
        raise DataError(f"this is a disentangler checkpoint, not a face reconstructor: {_DISENTANGLER_HINT}", file)
    if fmt == "mvaug-recon-v1" or (isinstance(payload, dict) and "encoder_state_dict" in payload):
        what = f"a Pix2Vox reconstructor of '{payload.get('kind', 'ShapeNet')}' objects"
    elif fmt == "mvfnet-v1":
        what = "a bare mvfnet network without its morphable model"
    elif isinstance(fmt, str):
        what = f"a '{fmt}' checkpoint"
    else:
        what = "not an mvaug checkpoint"
    raise DataError(f"{what}, not a face reconstructor: pass a run folder or checkpoint of 'mvaug train-recon --kind face'", file)


@dataclass
class FaceReconstructor:
    """A trained MVF-Net with its morphable model. Views are float (3, S, S) in [0, 1]; other sizes are resized."""

    model: torch.nn.Module  # mvfnet.MVFNet in eval mode
    morphable: object  # mvaug.faces.morphable_model.MorphableModel
    config: FaceReconConfig
    path: Path
    device: torch.device

    @classmethod
    def from_checkpoint(cls, path_or_run: str | os.PathLike | None, device: str | torch.device = "auto") -> FaceReconstructor:
        """Load ``best.pt`` of a run folder (or any of its checkpoints), or ``builtin:NAME`` (None: the built-in one);
        the wrong kind of file is a clear :class:`DataError`."""
        from mvaug.engine.device import resolve_device
        from mvaug.io.assets import BuiltinModel, resolve_model

        device = resolve_device(device) if isinstance(device, str) else device
        source = resolve_model(path_or_run, FACE_KIND, "reconstructor")
        if isinstance(source, BuiltinModel):
            return cls.from_payload(*source.read(device), device)
        file = find_face_checkpoint(source)
        return cls.from_payload(read_face_payload(file, device), file, device)

    @classmethod
    def from_payload(cls, payload: dict, file: Path, device: torch.device) -> FaceReconstructor:
        """The reconstructor in a checkpoint payload already read from ``file`` (or from a built-in model, :mod:`mvaug.builtin`)."""
        from mvfnet import model_from_payload
        from mvfnet.checkpoint import CheckpointError

        from mvaug.config import load_config
        from mvaug.recon.face_trainer import morphable_from_payload

        try:
            config = load_config(FaceReconConfig, payload["config"])
            model = model_from_payload(payload["network"], file)
            morphable = morphable_from_payload(payload["morphable"], device)
        except (CheckpointError, KeyError, ValueError, ConfigError) as err:
            raise DataError(f"damaged face reconstructor checkpoint ({type(err).__name__}: {err})", file) from None
        if (model.config.n_id, model.config.n_exp) != (morphable.id_count, morphable.exp_count):
            raise DataError("the network's coefficient counts do not match the stored morphable model", file)
        return cls(model.to(device).eval().requires_grad_(False), morphable, config, file, device)

    @property
    def image_size(self) -> int:
        return self.model.config.image_size

    def side_views(self) -> tuple[str, str]:
        """Bank view names of the left and right views the network was trained with (``az315_el00``, ``az045_el00``)."""
        from mvaug.multiview.views import view_name

        data = self.config.data
        return view_name(-data.side_yaw, data.pitch), view_name(data.side_yaw, data.pitch)

    @torch.no_grad()
    def predict(self, views: torch.Tensor) -> dict[str, torch.Tensor]:
        """views (B, 3, 3, H, W) front, left, right in [0, 1] -> MVF-Net's outputs plus ``vertices`` (B, N, 3) and ``landmarks`` (B, 68, 3)."""
        from mvaug.recon.face_data import resize_views

        if views.ndim != 5 or views.shape[1:3] != (3, 3):
            raise ValueError(f"expected views of shape (B, 3, 3, H, W) (front, left, right), got {tuple(views.shape)}")
        with inference_autocast(self.device):
            out = self.model(resize_views(views.float(), self.image_size).to(self.device))
        out = {k: v.float() for k, v in out.items()}
        out["vertices"] = self.morphable.vertices(out["id"], out["exp"])
        out["landmarks"] = self.morphable.landmarks(out["id"], out["exp"])
        return out

    def reconstruct(self, front: torch.Tensor, left: torch.Tensor, right: torch.Tensor) -> FaceReconstruction:
        """Three views (3, H, W) in [0, 1] -> the face (:class:`FaceReconstruction`)."""
        return self.reconstruct_batch(torch.stack([front, left, right])[None])[0]

    def reconstruct_batch(self, views: torch.Tensor) -> list[FaceReconstruction]:
        """views (B, 3, 3, H, W) -> one :class:`FaceReconstruction` per sample."""
        from mvfnet import project_landmarks

        from mvaug.recon.face_data import normalized_to_pixels, pose_to_pixels, rotation_angles

        out = self.predict(views)
        size = self.image_size
        marks = project_landmarks(self.morphable.landmarks, None, out["id"], out["exp"], out["rotation"], out["translation"], out["log_scale"])
        scale, translation = pose_to_pixels(out["log_scale"], out["translation"], size)
        marks_px = normalized_to_pixels(marks, size).cpu().numpy()
        triangles = self.morphable.triangles.cpu().numpy()
        results = []
        for b in range(views.shape[0]):
            poses = []
            for v, name in enumerate(VIEW_NAMES):
                rotation = out["rotation"][b, v].cpu()
                yaw, pitch, roll = rotation_angles(rotation)
                poses.append({"name": name, "rotation": rotation.numpy(), "yaw": yaw, "pitch": pitch, "roll": roll, "scale": float(scale[b, v]),
                              "translation": translation[b, v].cpu().numpy(), "landmarks": marks_px[b, v]})
            results.append(FaceReconstruction(out["vertices"][b].cpu().numpy().astype(np.float64), triangles, out["landmarks"][b].cpu().numpy().astype(np.float64),
                                              out["id"][b].cpu().numpy(), out["exp"][b].cpu().numpy(), poses, size))
        return results


def render_mesh(vertices: np.ndarray, triangles: np.ndarray, yaws=MESH_RENDER_YAWS, size: int = 128, pitch: float = 0.0) -> list[np.ndarray]:
    """uint8 (size, size, 3) shaded renders of a face mesh (model frame, looking along +z) at each yaw (degrees), framed like the synthetic faces."""
    from mvaug.faces.pose import project, rotation_from_angles
    from mvaug.faces.render import FaceRenderer

    vertices = np.asarray(vertices, dtype=np.float64)
    centre = vertices.mean(0)
    radius = float(np.linalg.norm(vertices - centre, axis=1).max())
    renderer = FaceRenderer(vertices, triangles, np.tile(np.asarray(MESH_ALBEDO), (len(vertices), 1)), nthreads=1)
    scale = 0.85 * size / (2.0 * radius)
    pictures = []
    for yaw in yaws:
        rotation = rotation_from_angles(yaw, pitch)
        translation = size / 2.0 - project(centre[None], rotation, np.float64(scale), np.zeros(2))[0]
        pictures.append(renderer.render(rotation, scale, translation, size, background=(1.0, 1.0, 1.0)))
    return pictures


def to_uint8_image(image: torch.Tensor, size: int | None = None) -> np.ndarray:
    """(3, H, W) float in [0, 1] -> uint8 (H, W, 3), resized to ``size`` first when given."""
    from mvaug.recon.face_data import resize_views

    if size is not None:
        image = resize_views(image[None], size)[0]
    return (image.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()


def draw_landmarks(image: np.ndarray, landmarks: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """A copy of uint8 (H, W, 3) with (68, 2) pixel landmarks (times ``scale``) marked by small dots."""
    from PIL import Image, ImageDraw

    picture = Image.fromarray(image)
    draw = ImageDraw.Draw(picture)
    for u, v in np.asarray(landmarks) * scale:
        draw.ellipse([u - 1, v - 1, u + 1, v + 1], fill=(0, 200, 60))
    return np.asarray(picture)


@dataclass
class FaceReconstructResult:
    obj: Path
    png: Path
    json: Path
    generated: list[str] | None
    """Bank views generated for left and right; None when three images were given."""
    reconstruction: FaceReconstruction


def run_face_reconstruct(
    images: list[str | os.PathLike],
    recon: str | os.PathLike | None = None,
    run: str | os.PathLike | None = None,
    bank: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    views: tuple[str, str] | None = None,
    device: str = "auto",
    render_size: int = 128,
    face_crop: str = "auto",
    overwrite: bool = True,
    refine_steps: int = 0,
) -> FaceReconstructResult:
    """Reconstruct a face from one image (left/right generated by the disentangler ``run`` with ``bank``) or from
    three (front, left, right), and write ``OUT.obj``, ``OUT.png`` and ``OUT.json``.

    ``recon`` None: the built-in MVF-Net; ``run`` None with one image: the built-in face disentangler and its bank.

    ``views``: the bank views used as left and right (default :meth:`FaceReconstructor.side_views`).
    ``out``: the output path without suffix (default: beside the first image, ``<stem>_face``).
    ``face_crop``: how photos are cut to the face (:func:`mvaug.faces.detect.load_face_image`).
    ``refine_steps``: test-time optimisation of the image's codes before left and right are generated (:class:`MultiViewSynthesizer`).
    The three files are written as one set; an output that is an input is refused, an existing one too unless ``overwrite``.
    """
    from mvaug.io.assets import default_ref
    from mvaug.engine.device import resolve_device
    from mvaug.faces.detect import load_face_image
    from mvaug.faces.synth import write_obj
    from mvaug.recon.face_data import resize_views
    from mvaug.io.atomic import atomic_write_text
    from mvaug.io.images import write_png
    from mvaug.io.outputs import check_outputs, output_set
    from mvaug.viz.labelled import captioned_grid

    paths = [Path(p) for p in images]
    if len(paths) not in (1, 3):
        raise ConfigError(f"give one face image (left and right are generated) or three (front, left, right), got {len(paths)}")
    if len(paths) == 3 and run is not None:
        raise ConfigError("three views were given: --run (view generation) is only used with one image")
    if len(paths) == 1 and run is None:
        run = default_ref(FACE_KIND, "disentangler")
    for path in paths:
        if not path.is_file():
            raise DataError("input image not found" if not path.exists() else "expected an image file, found a folder", path)
    stem = Path(out) if out is not None else paths[0].with_name(f"{paths[0].stem}_face")
    targets = {suffix: stem.with_name(stem.name + suffix) for suffix in (".obj", ".png", ".json")}
    check_outputs(targets.values(), paths, overwrite)
    torch_device = resolve_device(device)
    recon_model = FaceReconstructor.from_checkpoint(recon, torch_device)
    size = recon_model.image_size

    generated = None
    if len(paths) == 1:
        from mvaug.multiview.synthesizer import MultiViewSynthesizer
        from mvaug.multiview.views import parse_view

        synth = MultiViewSynthesizer.from_run(run, bank, torch_device, refine_steps)
        names = tuple(views) if views is not None else recon_model.side_views()
        if len(names) != 2:
            raise ConfigError(f"views must name two bank views (left, right), got {list(names)}")
        _, sides = synth.generate_batch(load_face_image(paths[0], synth.image_size, face_crop)[None], [parse_view(n) for n in names])  # (1, 2, 3, s, s)
        sides = resize_views(sides[0].cpu(), size)  # the disentangler's size -> MVF-Net's (2, 3, S, S)
        triplet = [load_face_image(paths[0], size, face_crop), sides[0], sides[1]]
        generated = list(names)
        captions = ["input (front)", f"generated left {names[0]}", f"generated right {names[1]}"]
    else:
        triplet = [load_face_image(p, size, face_crop) for p in paths]
        captions = [f"{name}: {p.name}" for name, p in zip(VIEW_NAMES, paths)]
    face = recon_model.reconstruct(*triplet)

    cell = max(render_size, size)
    inputs = [draw_landmarks(to_uint8_image(view, cell), pose["landmarks"], cell / size) for view, pose in zip(triplet, face.views)]
    renders = render_mesh(face.vertices, face.triangles, MESH_RENDER_YAWS, cell)
    sheet = captioned_grid([inputs, renders], [captions, [f"mesh, yaw {y:+g}" for y in MESH_RENDER_YAWS]],
                           [f"{paths[0].name}: views given to MVF-Net (dots: fitted landmarks)", "reconstructed mesh"], min_side=cell)
    record = {"inputs": [str(p) for p in paths], "generated_views": generated, "recon": str(recon_model.path),
              "run": None if run is None else str(run), "bank": None if bank is None else str(bank),
              "refine_steps": refine_steps if generated else None,
              "mesh": targets[".obj"].name, "vertices": int(len(face.vertices)), **face.to_json()}
    with output_set(targets) as temp:
        write_obj(temp[".obj"], face.vertices, face.triangles)
        write_png(temp[".png"], sheet)
        atomic_write_text(temp[".json"], json.dumps(record, indent=1) + "\n")
    return FaceReconstructResult(targets[".obj"], targets[".png"], targets[".json"], generated, face)
