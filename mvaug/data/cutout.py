"""The object cut out of a photo with a cluttered background: OpenCV's GrabCut, seeded without a user.

GrabCut (Rother et al. 2004) labels pixels object or background from two colour models and the image's
edges, starting from a guess. The guess here assumes what a photo of one object usually shows: the
object in the middle, not touching the border, in colours that the border does not have.

* a band along the border (:data:`BORDER_BAND` of the shorter side) is definite background;
* pixels whose colour lies more than :data:`DISTINCT_COLOUR` (CIE76 delta E) from all but a few border
  pixels are probable object; when there are hardly any, a central ellipse is;
* everything else is probable background.

GrabCut then iterates, and of what it calls object the largest group of pieces (pieces closer than
:data:`JOIN_GAP` of the shorter side belong to one group) that reaches into the middle half of the
image is kept; none reaching there means nothing was found. The photo is cut at :data:`WORK_SIDE`
pixels at most and the mask scaled back. It fails where the object's colours are
also the background's (a grey chair against a grey wall): ``scripts/eval_cutout.py`` measures both.
"""

from __future__ import annotations

import numpy as np

WORK_SIDE = 256
"""The longer side (pixels) at which the photo is cut; larger photos are shrunk first and the mask enlarged."""
BORDER_BAND = 0.03
"""Width of the definite-background band along the border, as a fraction of the shorter side (at least 2 px)."""
DISTINCT_COLOUR = 8.0
"""CIE76 colour distance beyond which a pixel's colour counts as absent from the border."""
BORDER_NEIGHBOURS = 10
"""A colour is on the border when this many border pixels lie within :data:`DISTINCT_COLOUR` of it (one stray pixel is not enough)."""
MIN_SEEDS = 0.005
"""Fewer distinct pixels than this fraction of the image: the central ellipse seeds the object instead."""
ITERATIONS = 5
"""GrabCut iterations (colour models re-estimated, graph cut redone)."""
JOIN_GAP = 0.02
"""Pieces of the object closer than this fraction of the shorter side are one group."""


def cut_out(rgb: np.ndarray) -> np.ndarray:
    """uint8 (H, W): 255 on the object in the photo ``rgb`` (uint8 (H, W, 3)), 0 elsewhere; all 0 if nothing was found.

    Deterministic: OpenCV's random generator (used by GrabCut to start its colour models) is seeded first.
    """
    import cv2

    height, width = rgb.shape[:2]
    small = _shrink(rgb, WORK_SIDE)
    mask = _seed_mask(small)
    if not (mask == cv2.GC_PR_FGD).any():  # an image too small to hold anything inside its border band
        return np.zeros((height, width), np.uint8)
    background_model, object_model = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)
    cv2.grabCut(np.ascontiguousarray(small[..., ::-1]), mask, None, background_model, object_model, ITERATIONS, cv2.GC_INIT_WITH_MASK)
    found = _central_group((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD))
    if found.shape != (height, width):
        found = cv2.resize(found.astype(np.uint8) * 255, (width, height), interpolation=cv2.INTER_LINEAR) > 127
    return found.astype(np.uint8) * 255


def _shrink(rgb: np.ndarray, side: int) -> np.ndarray:
    """``rgb`` with its longer side at most ``side`` (area-averaged), unchanged if already so small."""
    import cv2

    height, width = rgb.shape[:2]
    scale = side / max(height, width)
    if scale >= 1.0:
        return np.ascontiguousarray(rgb)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(np.ascontiguousarray(rgb), size, interpolation=cv2.INTER_AREA)


def _seed_mask(rgb: np.ndarray) -> np.ndarray:
    """GrabCut's starting labels (uint8 (H, W) of cv2.GC_*): border band definite background, distinct colours probable object."""
    import cv2

    height, width = rgb.shape[:2]
    border = border_band(height, width)
    seeds = distinct_from_border(rgb) & ~border
    if seeds.mean() < MIN_SEEDS:
        seeds = _central_ellipse(height, width) & ~border
    mask = np.full((height, width), cv2.GC_PR_BGD, np.uint8)
    mask[seeds] = cv2.GC_PR_FGD
    mask[border] = cv2.GC_BGD
    return mask


def border_band(height: int, width: int) -> np.ndarray:
    """bool (H, W): the band along the border, :data:`BORDER_BAND` of the shorter side wide (at least 2 px)."""
    band = max(2, round(BORDER_BAND * min(height, width)))
    border = np.ones((height, width), bool)
    border[band:-band, band:-band] = False
    return border


def distinct_from_border(rgb: np.ndarray) -> np.ndarray:
    """bool (H, W): pixels of ``rgb`` whose colour is more than :data:`DISTINCT_COLOUR` from that of all but
    :data:`BORDER_NEIGHBOURS` - 1 pixels of the :func:`border_band`."""
    import cv2
    from scipy.spatial import cKDTree

    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)  # L in [0, 100], a and b about [-127, 127]
    samples = lab[border_band(*rgb.shape[:2])]
    neighbours = min(BORDER_NEIGHBOURS, len(samples))
    distance, _ = cKDTree(samples).query(lab.reshape(-1, 3), k=neighbours)
    nearest = distance if neighbours == 1 else distance[:, -1]
    return nearest.reshape(rgb.shape[:2]) > DISTINCT_COLOUR


def _central_ellipse(height: int, width: int) -> np.ndarray:
    """bool (H, W): the ellipse centred in the image with half its width and height."""
    rows, cols = np.mgrid[:height, :width]
    return ((rows - (height - 1) / 2) / (height / 4)) ** 2 + ((cols - (width - 1) / 2) / (width / 4)) ** 2 <= 1.0


def _central_group(found: np.ndarray) -> np.ndarray:
    """``found`` restricted to its largest group of pieces that reaches into the central half of the image (its
    middle half in height and in width); pieces closer than :data:`JOIN_GAP` of the shorter side are one group.
    All False when no group reaches there: what was found is not the object in the middle."""
    import cv2

    if not found.any():
        return found
    height, width = found.shape
    gap = max(1, round(JOIN_GAP * min(height, width)))
    joined = cv2.dilate(found.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * gap + 1, 2 * gap + 1)))
    count, labels = cv2.connectedComponents(joined, connectivity=8)
    middle = np.zeros_like(found)
    middle[height // 4 : height - height // 4, width // 4 : width - width // 4] = True
    area = np.bincount(labels[found], minlength=count)
    area[~np.isin(np.arange(count), labels[found & middle])] = 0  # label 0 (nothing found) and groups outside the middle
    best = int(np.argmax(area))
    return found & (labels == best) if area[best] else np.zeros_like(found)
