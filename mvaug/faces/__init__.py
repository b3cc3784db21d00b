"""Faces: morphable models (built-in procedural head, BFM 2009/2017 and 3DDFA loaders) and synthetic face sets.

The names below are imported on first use, so ``import mvaug.faces`` does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mvaug.lazy import lazy_exports

_EXPORTS = {
    "MorphableModel": "mvaug.faces.morphable_model",
    "procedural_head_model": "mvaug.faces.procedural",
    "load_morphable_model": "mvaug.faces.loaders",
    "load_bfm2009": "mvaug.faces.loaders",
    "load_bfm2017": "mvaug.faces.loaders",
    "load_3ddfa": "mvaug.faces.loaders",
    "rotation_from_angles": "mvaug.faces.pose",
    "project": "mvaug.faces.pose",
    "FaceRenderer": "mvaug.faces.render",
    "SynthFacesConfig": "mvaug.faces.synth",
    "synthesize_faces": "mvaug.faces.synth",
    "index_face_set": "mvaug.faces.dataset",
    "FaceTripletDataset": "mvaug.faces.dataset",
    "load_face_model": "mvaug.faces.dataset",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from mvaug.faces.dataset import FaceTripletDataset, index_face_set, load_face_model
    from mvaug.faces.loaders import load_3ddfa, load_bfm2009, load_bfm2017, load_morphable_model
    from mvaug.faces.morphable_model import MorphableModel
    from mvaug.faces.pose import project, rotation_from_angles
    from mvaug.faces.procedural import procedural_head_model
    from mvaug.faces.render import FaceRenderer
    from mvaug.faces.synth import SynthFacesConfig, synthesize_faces


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
