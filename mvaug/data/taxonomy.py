"""Names of the ShapeNet taxonomies (synset ids) in the 13-category split used by 3D-R2N2 and Pix2Vox."""

from __future__ import annotations

SHAPENET13_NAMES: dict[str, str] = {
    "02691156": "aeroplane",
    "02828884": "bench",
    "02933112": "cabinet",
    "02958343": "car",
    "03001627": "chair",
    "03211117": "display",
    "03636649": "lamp",
    "03691459": "speaker",
    "04090263": "rifle",
    "04256520": "sofa",
    "04379243": "table",
    "04401088": "telephone",
    "04530566": "watercraft",
}


def taxonomy_label(taxonomy_id: str) -> str:
    """``"<id> <name>"`` for a known taxonomy, else the id alone."""
    name = SHAPENET13_NAMES.get(taxonomy_id)
    return f"{taxonomy_id} {name}" if name else taxonomy_id
