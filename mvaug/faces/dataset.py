"""Reading a synthetic face set (``mvaug data synth-faces``): an index for the disentangler and
(front, left, right) triplets for MVF-Net training.

MVF-Net (Wu et al. 2019) regresses one face from a frontal view and two views turned roughly 45
degrees either way; here ``left`` is the view whose yaw is nearest ``-side_yaw`` (nose towards
the image left) and ``right`` the one nearest ``+side_yaw``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from mvaug.errors import DataError
from mvaug.faces.synth import MANIFEST, MODEL_FILE, SPLIT_FILE

SPLITS = ("train", "val", "test", "all")


def _read_json(path: Path, what: str):
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"{what} not found", path) from None
    except (ValueError, UnicodeDecodeError):
        raise DataError(f"{what} is not valid JSON", path) from None


def read_face_manifest(root: str | os.PathLike) -> dict:
    """The manifest of a finished face set; :class:`DataError` if missing, unreadable or unfinished."""
    root = Path(root)
    manifest = _read_json(root / MANIFEST, "synthetic face manifest (is this a synth-faces folder?)")
    if not isinstance(manifest, dict) or not all(k in manifest for k in ("identities", "views", "complete")):
        raise DataError("synthetic face manifest lacks 'identities', 'views' or 'complete'", root / MANIFEST)
    if not manifest["complete"]:
        raise DataError("the face set is unfinished; run synth-faces again with the same settings to complete it", root)
    return manifest


def split_identities(root: str | os.PathLike, split: str) -> list[str]:
    """Identity names of ``split`` ('train', 'val', 'test' or 'all'), sorted."""
    root = Path(root)
    manifest = read_face_manifest(root)
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}", root / SPLIT_FILE)
    if split == "all":
        return sorted(manifest["identities"])
    splits = _read_json(root / SPLIT_FILE, "split file")
    if not isinstance(splits, dict) or not isinstance(splits.get(split), list):
        raise DataError(f"split file has no list {split!r}", root / SPLIT_FILE)
    return sorted(splits[split])


def index_face_set(root: str | os.PathLike, split: str = "train") -> tuple[list[Path], list[int], list[int]]:
    """Every image of ``split``: paths, view labels (pose-grid index) and identity labels.

    Identity labels are positions in the manifest's list of all identities, so they are unique
    across splits. Images are ordered by identity, then view.
    """
    root = Path(root)
    manifest = read_face_manifest(root)
    number = {name: i for i, name in enumerate(manifest["identities"])}
    views = [entry["view"] for entry in manifest["views"]]
    paths, view_labels, identity_labels = [], [], []
    for name in split_identities(root, split):
        if name not in number:
            raise DataError(f"split lists identity {name!r}, which the manifest does not", root / SPLIT_FILE)
        for view in views:
            paths.append(root / "images" / name / f"{view:03d}.png")
            view_labels.append(view)
            identity_labels.append(number[name])
    return paths, view_labels, identity_labels


def load_face_model(root: str | os.PathLike, device: str = "cpu"):
    """The :class:`MorphableModel` a face set's coefficients refer to."""
    from mvaug.faces.morphable_model import MorphableModel

    return MorphableModel.load(Path(root) / MODEL_FILE, device=device)


def nearest_view(grid: list[dict], yaw: float, pitch: float) -> int:
    """Index of the pose-grid view closest to (yaw, pitch); ties go to the smaller index."""
    distance = [abs(entry["yaw"] - yaw) + abs(entry["pitch"] - pitch) for entry in grid]
    return int(np.argmin(distance))


class FaceTripletDataset(Dataset):
    """(front, left, right) views of each identity of a split, with their annotations.

    Each item is a dict:
        ``images`` float32 (3, 3, H, W) in [0, 1], order front, left, right;
        ``landmarks`` float32 (3, 68, 2) pixels of the returned images; ``visible`` bool (3, 68);
        ``rotation`` float32 (3, 3, 3); ``scale`` float32 (3,) pixels per mm of the returned images;
        ``translation`` float32 (3, 2); ``views`` long (3,) pose-grid indices;
        ``id_coef`` float32 (K_id,), ``exp_coef`` float32 (K_exp,) (standard deviations);
        ``identity`` long (position in the manifest), ``name`` str, ``mesh`` str (path of the .obj).

    Args:
        root: a finished ``synth-faces`` folder.
        split: 'train', 'val', 'test' or 'all'.
        image_size: resize to this side (landmarks, scale and translation follow); None keeps the renders' size.
        side_yaw: the left/right views are the grid yaws nearest -side_yaw / +side_yaw (degrees).
        pitch: all three views use the grid pitch nearest this.
    """

    def __init__(self, root: str | os.PathLike, split: str = "train", image_size: int | None = None, side_yaw: float = 45.0, pitch: float = 0.0):
        from mvaug.data.transforms import check_size

        self.root = Path(root)
        self.image_size = check_size(image_size, "image_size")
        manifest = read_face_manifest(self.root)
        self.render_size = int(manifest["config"]["size"])
        grid = manifest["views"]
        self.view_indices = [nearest_view(grid, yaw, pitch) for yaw in (0.0, -side_yaw, side_yaw)]
        if len(set(self.view_indices)) < 3:
            raise DataError(f"the pose grid has no three distinct views near yaw 0 and +-{side_yaw:g}", self.root / MANIFEST)
        number = {name: i for i, name in enumerate(manifest["identities"])}
        self.names = split_identities(self.root, split)
        self.identities = [number[name] for name in self.names]
        self.records = [self._record(name) for name in self.names]

    def _record(self, name: str) -> dict:
        path = self.root / "annotations" / f"{name}.json"
        record = _read_json(path, "face annotation")
        try:
            views = {entry["view"]: entry for entry in record["views"]}
            chosen = [views[v] for v in self.view_indices]
            arrays = {
                "landmarks": np.array([c["landmarks"] for c in chosen], dtype=np.float32),
                "visible": np.array([c["landmarks_visible"] for c in chosen], dtype=bool),
                "rotation": np.array([c["rotation"] for c in chosen], dtype=np.float32),
                "scale": np.array([c["scale"] for c in chosen], dtype=np.float32),
                "translation": np.array([c["translation"] for c in chosen], dtype=np.float32),
                "id_coef": np.array(record["id_coef"], dtype=np.float32),
                "exp_coef": np.array(record["exp_coef"], dtype=np.float32),
            }
        except (KeyError, TypeError, ValueError) as err:
            raise DataError(f"face annotation is missing or has malformed fields ({err!r})", path) from None
        if arrays["landmarks"].shape != (3, 68, 2) or arrays["rotation"].shape != (3, 3, 3):
            raise DataError(f"face annotation holds landmarks of shape {arrays['landmarks'].shape}, expected (3, 68, 2)", path)
        return {**arrays, "images": [self.root / c["image"] for c in chosen], "mesh": str(self.root / record["mesh"])}

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> dict:
        from mvaug.data.transforms import load_image

        record = self.records[index]
        factor = 1.0 if self.image_size is None else self.image_size / self.render_size
        images = torch.stack([load_image(path, self.image_size) for path in record["images"]])
        item = {key: torch.from_numpy(record[key].copy()) for key in ("landmarks", "visible", "rotation", "scale", "translation", "id_coef", "exp_coef")}
        item["landmarks"] *= factor
        item["scale"] *= factor
        item["translation"] *= factor
        item.update(images=images, views=torch.tensor(self.view_indices), identity=torch.tensor(self.identities[index]), name=self.names[index], mesh=record["mesh"])
        return item
