"""Preview pictures of voxel grids, meshes and data sets, drawn with the ray-casting renderer."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mvaug.errors import DataError
from mvaug.geometry.camera import ShapeNetCamera
from mvaug.geometry.mesh_files import READABLE_MESH_SUFFIXES, read_mesh
from mvaug.io.images import composite_on_white

VOXEL_COLOR = (0.55, 0.68, 0.85)
MESH_SUFFIXES = READABLE_MESH_SUFFIXES


def image_grid(rows: list[list[np.ndarray]], pad: int = 4, background: int = 255) -> np.ndarray:
    """Tile uint8 RGB images (H_i, W_i, 3) row by row, each cell centred in the largest cell size."""
    cell_h = max(im.shape[0] for row in rows for im in row)
    cell_w = max(im.shape[1] for row in rows for im in row)
    ncols = max(len(row) for row in rows)
    out = np.full((len(rows) * (cell_h + pad) + pad, ncols * (cell_w + pad) + pad, 3), background, dtype=np.uint8)
    for r, row in enumerate(rows):
        for c, im in enumerate(row):
            y = pad + r * (cell_h + pad) + (cell_h - im.shape[0]) // 2
            x = pad + c * (cell_w + pad) + (cell_w - im.shape[1]) // 2
            out[y : y + im.shape[0], x : x + im.shape[1]] = im
    return out


def resize_image(image: np.ndarray, size: int) -> np.ndarray:
    """uint8 (H, W, 3) -> (size, size, 3), Lanczos-filtered (unchanged when already that size)."""
    from PIL import Image

    if image.shape[:2] == (size, size):
        return image
    return np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.LANCZOS))


def outline_cutout(rgba: np.ndarray, size: int, colour: tuple[int, int, int] = (230, 20, 20)) -> np.ndarray:
    """uint8 RGB fitting in ``size`` x ``size``: the photo of uint8 RGBA ``rgba`` with what its alpha leaves out faded
    to white and the alpha's edge drawn in ``colour``: how an object was cut out of a photo."""
    from PIL import Image
    from scipy.ndimage import binary_erosion

    scale = size / max(rgba.shape[:2])
    shape = (max(1, round(rgba.shape[1] * scale)), max(1, round(rgba.shape[0] * scale)))
    picture = np.array(Image.fromarray(np.ascontiguousarray(rgba[..., :3])).resize(shape, Image.Resampling.LANCZOS))
    inside = np.asarray(Image.fromarray(np.ascontiguousarray(rgba[..., 3])).resize(shape, Image.Resampling.BILINEAR)) > 127
    picture[~inside] = (0.35 * picture[~inside] + 0.65 * 255).astype(np.uint8)
    edge = inside & ~binary_erosion(inside, iterations=2, border_value=1)
    picture[edge] = colour
    return picture


def turntable_cameras(views: int, elevation: float = 25.0, distance_ratio: float = 0.65, start: float = 30.0) -> list[ShapeNetCamera]:
    """``views`` cameras evenly spaced in azimuth around the object."""
    return [ShapeNetCamera(start + 360.0 * i / views, elevation, 0.0, distance_ratio) for i in range(views)]


def render_views(vertices: np.ndarray, faces: np.ndarray, face_colors: np.ndarray | None, cameras, size: int) -> list[np.ndarray]:
    """RGB uint8 renders (size, size, 3) on white of a mesh seen from each camera."""
    from mvaug.render.raycast import MeshRenderer

    renderer = MeshRenderer(vertices, faces, face_colors, nthreads=0)
    return [composite_on_white(renderer.render(cam, size)) for cam in cameras]


def voxel_views(occupancy: np.ndarray, side: float, cameras, size: int) -> list[np.ndarray]:
    """Renders of a voxel grid as boxes; an empty grid gives blank images."""
    from mvaug.geometry.voxel_boxes import voxel_box_mesh

    if not np.any(occupancy):
        return [np.full((size, size, 3), 255, dtype=np.uint8) for _ in cameras]
    vertices, faces = voxel_box_mesh(occupancy, side)
    colors = np.tile(np.asarray(VOXEL_COLOR, dtype=np.float32), (len(faces), 1))
    return render_views(vertices, faces, colors, cameras, size)


def load_shape(path: str | os.PathLike, threshold: float = 0.5, axes: str = "xyz"):
    """Load a voxel grid (.binvox, .npy) or a mesh (.obj, .ply, .off, .stl, .glb) for previewing.

    Returns ``("voxels", occupancy (D, D, D) bool, side)`` or ``("mesh", trimesh.Trimesh, None)``;
    an .npy grid counts voxels ``>= threshold`` and fills a cube of side 1.
    """
    from mvaug.io.voxel_files import GRID_SUFFIXES, read_grid

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in GRID_SUFFIXES:
        grid, side = read_grid(path, axes)
        if len(set(grid.shape)) != 1:
            raise DataError(f"expected a cubic voxel grid, got shape {grid.shape}", path)
        return "voxels", grid >= threshold if grid.dtype != bool else grid, 1.0 if side is None else side
    if suffix in MESH_SUFFIXES:
        return "mesh", read_mesh(path), None
    raise DataError(f"cannot preview '{suffix}' files; use {', '.join(GRID_SUFFIXES + MESH_SUFFIXES)}", path)


def shape_preview(path: str | os.PathLike, views: int = 4, size: int = 256, threshold: float = 0.5, axes: str = "xyz") -> np.ndarray:
    """One RGB picture (uint8) showing the shape in ``path`` from ``views`` azimuths."""
    kind, shape, side = load_shape(path, threshold, axes)
    cameras = turntable_cameras(views)
    if kind == "voxels":
        images = voxel_views(shape, side, cameras, size)
    else:
        colors = np.asarray(shape.visual.face_colors) if shape.visual.kind == "face" else None
        images = render_views(shape.vertices, shape.faces, colors, cameras, size)
    return image_grid([images])
