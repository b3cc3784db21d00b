"""The ShapeNet camera: one model shared by the renderer, the voxel tools and the data loaders.

ShapeNetRendering (3D-R2N2) was rendered in Blender with its default camera; each line of
``rendering_metadata.txt`` holds ``azimuth elevation in_plane distance_ratio fov`` in degrees.
Conventions, checked against the real renders and voxels in ``tests/geometry/test_camera.py``:

* models are Y-up, centred on their bounding box, bounding-box diagonal 1, front facing +X;
* the camera sits at ``1.75 * distance_ratio * (cos(el) cos(az), sin(el), cos(el) sin(az))``
  and looks at the origin with +Y up, then rolls by ``in_plane`` about its viewing axis;
* the lens is Blender's default, 35 mm on a 32 mm sensor: a horizontal field of view of
  2 atan(16 / 35) = 49.13 degrees. The metadata's ``fov`` column (25) is not what was used.

Camera coordinates follow OpenGL: x right, y up, the camera looks down -z.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from mvaug.errors import DataError

BLENDER_FOV_DEG = math.degrees(2 * math.atan(16 / 35))  # 49.13
DISTANCE_SCALE = 1.75


@dataclass(frozen=True)
class ShapeNetCamera:
    """A ShapeNet view; the fields are one line of ``rendering_metadata.txt``."""

    azimuth: float  # degrees
    elevation: float  # degrees
    in_plane: float = 0.0  # degrees
    distance_ratio: float = 1.0
    metadata_fov: float = 25.0  # as written in the file; rendering uses BLENDER_FOV_DEG

    @cached_property
    def eye(self) -> np.ndarray:
        """Camera centre in world coordinates, shape (3,)."""
        az, el = math.radians(self.azimuth), math.radians(self.elevation)
        d = DISTANCE_SCALE * self.distance_ratio
        return np.array([d * math.cos(el) * math.cos(az), d * math.sin(el), d * math.cos(el) * math.sin(az)])

    @cached_property
    def rotation(self) -> np.ndarray:
        """World-to-camera rotation R, shape (3, 3): ``p_cam = R @ (p_world - eye)``."""
        eye = self.eye
        back = eye / np.linalg.norm(eye)  # camera +z points away from the target
        right = np.cross([0.0, 1.0, 0.0], back)
        norm = np.linalg.norm(right)
        right = np.array([0.0, 0.0, -1.0]) if norm < 1e-9 else right / norm  # looking straight down
        up = np.cross(back, right)
        rot = np.stack([right, up, back])
        if self.in_plane:
            c, s = math.cos(math.radians(self.in_plane)), math.sin(math.radians(self.in_plane))
            roll = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
            rot = roll @ rot
        return rot

    def focal_pixels(self, size: int) -> float:
        """Focal length in pixels for a square image of ``size`` pixels."""
        return 0.5 * size / math.tan(math.radians(BLENDER_FOV_DEG) / 2)

    def project(self, points: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Project world points (N, 3) to continuous pixel coordinates.

        Returns ``uv`` (N, 2) with (0, 0) the top-left corner of the top-left pixel, and
        ``depth`` (N,), the distance in front of the camera (positive = visible side).
        """
        cam = (np.asarray(points, dtype=np.float64) - self.eye) @ self.rotation.T  # (N, 3)
        depth = -cam[:, 2]
        f = self.focal_pixels(size)
        with np.errstate(divide="ignore", invalid="ignore"):
            u = size / 2 + f * cam[:, 0] / depth
            v = size / 2 - f * cam[:, 1] / depth
        return np.stack([u, v], axis=1), depth

    def rays(
        self, size: int, supersample: int = 1, window: tuple[int, int, int, int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Ray origin (3,) and directions (h, w, 3), not normalised, for the subpixels of a window.

        The image has ``size * supersample`` subpixels a side; ``window`` = (x0, x1, y0, y1) in
        subpixels selects a block of them (default: all), rows going down the image.
        """
        n = size * supersample
        x0, x1, y0, y1 = window or (0, n, 0, n)
        f = self.focal_pixels(size) * supersample
        x, y = np.meshgrid((np.arange(x0, x1) + 0.5 - n / 2) / f, -(np.arange(y0, y1) + 0.5 - n / 2) / f)
        dirs_cam = np.stack([x, y, -np.ones_like(x)], axis=-1)  # (h, w, 3)
        return self.eye, dirs_cam @ self.rotation  # camera -> world (R is orthonormal)

    def to_metadata_line(self) -> str:
        return f"{self.azimuth:.10g} {self.elevation:.10g} {self.in_plane:.10g} {self.distance_ratio:.10g} {self.metadata_fov:.10g}"


def read_rendering_metadata(path: str | os.PathLike) -> list[ShapeNetCamera]:
    """Parse ``rendering_metadata.txt``: one camera per line, five numbers each."""
    from mvaug.io.files import read_text

    path = Path(path)
    text = read_text(path, "rendering metadata", encoding="ascii")
    cameras = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            values = [float(v) for v in line.split()]
        except ValueError:
            raise DataError(f"line {number} holds a value that is not a number: {line.strip()!r}", path) from None
        if len(values) != 5:
            raise DataError(f"line {number} has {len(values)} values, expected 5 (azimuth elevation in-plane distance fov)", path)
        if not all(math.isfinite(v) for v in values):
            raise DataError(f"line {number} holds a value that is not finite: {line.strip()!r}", path)
        cameras.append(ShapeNetCamera(*values))
    return cameras


def write_rendering_metadata(path: str | os.PathLike, cameras: list[ShapeNetCamera]) -> None:
    from mvaug.io.atomic import atomic_write_text

    atomic_write_text(path, "".join(c.to_metadata_line() + "\n" for c in cameras))
