"""Image reading and writing with errors that name the file."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np

from mvaug.errors import DataError
from mvaug.io.atomic import atomic_write_bytes
from mvaug.io.files import data_error_from_os

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
MAX_PIXELS = 64 * 2**20
"""Images with more pixels are refused before decoding (8192 x 8192; a 48-megapixel photo passes)."""
MIN_INPUT_SIDE = 16
"""The shortest side of a picture of one object given to reconstruct, generate or a bank's exemplars."""


def read_image(path: str | os.PathLike, mode: str = "RGBA", min_side: int = 1) -> np.ndarray:
    """Read an image as uint8 (H, W, C) in PIL ``mode`` ('RGBA', 'RGB' or 'L' -> (H, W)).

    The EXIF orientation tag (photos from phones) is applied, so the array is upright. A missing, truncated
    or corrupt file, one of more than :data:`MAX_PIXELS` pixels (checked from the header, before decoding,
    so a decompression bomb costs nothing) or with a side shorter than ``min_side`` raises :class:`DataError`
    naming it.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    try:
        with warnings.catch_warnings():  # PIL warns above its own limit; ours (MAX_PIXELS) is checked below
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
        with img:
            _check_dimensions(img.size, min_side, path)
            img.load()
            return np.asarray(ImageOps.exif_transpose(img).convert(mode))
    except UnidentifiedImageError:
        raise DataError("not a readable image (corrupt file or unknown format)", path) from None
    except Image.DecompressionBombError as err:
        raise DataError(f"refused before decoding: {_reason(err)}", path) from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as err:
        if isinstance(err, OSError) and err.errno is not None:  # the system refused the path (missing, a folder, a link loop)
            raise data_error_from_os(err, path, "image") from None
        raise DataError(f"corrupt or truncated image ({type(err).__name__}: {_reason(err)})", path) from None


def _check_dimensions(size: tuple[int, int], min_side: int, path: Path) -> None:
    width, height = size
    if width * height > MAX_PIXELS:
        raise DataError(f"refused: {width} x {height} pixels is more than {MAX_PIXELS}; scale the image down first", path)
    if min(width, height) < min_side:
        raise DataError(f"the image is {width} x {height} pixels; at least {min_side} x {min_side} is needed", path)


def _reason(err: BaseException) -> str:
    """The error's message on one line (PIL's can span several)."""
    return " ".join(str(err).split()) or "no detail"


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
