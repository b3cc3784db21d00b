"""Image reading and writing with errors that name the file."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from mvaug.errors import DataError
from mvaug.io.atomic import atomic_write_bytes

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


def read_image(path: str | os.PathLike, mode: str = "RGBA") -> np.ndarray:
    """Read an image as uint8 (H, W, C) in PIL ``mode`` ('RGBA', 'RGB' or 'L' -> (H, W)).

    The EXIF orientation tag (photos from phones) is applied, so the array is upright. A missing, truncated or corrupt file raises :class:`DataError` naming it.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()
            return np.asarray(ImageOps.exif_transpose(img).convert(mode))
    except FileNotFoundError:
        raise DataError("image not found", path) from None
    except IsADirectoryError:
        raise DataError("expected an image file, found a folder", path) from None
    except UnidentifiedImageError:
        raise DataError("not a readable image (corrupt file or unknown format)", path) from None
    except (OSError, SyntaxError, ValueError) as err:
        raise DataError(f"corrupt or truncated image ({err})", path) from None


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of a uint8 (H, W), (H, W, 3) or (H, W, 4) array; deterministic for equal input."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def write_png(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write a uint8 array as PNG, atomically."""
    atomic_write_bytes(path, encode_png(image))


def composite_on_white(rgba: np.ndarray) -> np.ndarray:
    """Alpha-composite uint8 RGBA (H, W, 4) onto white, returning uint8 RGB (H, W, 3)."""
    rgb = rgba[..., :3].astype(np.float32)
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    return np.round(rgb * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
