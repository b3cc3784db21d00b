"""``mvaug voxels``: voxel IoU, voxels to mesh, previews."""

from __future__ import annotations

import click


@click.group()
def voxels() -> None:
    """Voxel grids: IoU, meshing and previews."""
