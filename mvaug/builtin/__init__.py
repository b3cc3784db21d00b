"""Built-in trained models shipped in ``mvaug/assets/``: export, cards and checksums, loading (issue 8).

``mvaug reconstruct IMAGE`` without ``--recon``/``--run`` uses them; anywhere a run folder or
checkpoint is accepted, ``builtin:NAME`` names one (``mvaug models`` lists them).
"""

from mvaug.lazy import lazy_exports

_EXPORTS = {
    "assets_dir": "mvaug.io.assets",
    "builtin_name": "mvaug.io.assets",
    "default_ref": "mvaug.io.assets",
    "describe_ref": "mvaug.io.assets",
    "list_builtin": "mvaug.io.assets",
    "read_card": "mvaug.io.assets",
    "resolve_model": "mvaug.io.assets",
    "verify": "mvaug.io.assets",
    "export_disentangler": "mvaug.builtin.export",
    "export_mvfnet": "mvaug.builtin.export",
    "export_pix2vox": "mvaug.builtin.export",
    "load_bank": "mvaug.builtin.load",
    "load_disentangler": "mvaug.builtin.load",
    "load_face_reconstructor": "mvaug.builtin.load",
    "load_reconstructor": "mvaug.builtin.load",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
__all__ = sorted(_EXPORTS)
