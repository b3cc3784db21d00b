"""Contact sheets with captions: a grid of images, a caption under each cell, an optional title per row; a banner above a picture."""

from __future__ import annotations

import numpy as np


def enlarge(image: np.ndarray, min_side: int) -> np.ndarray:
    """Nearest-neighbour upscale of uint8 (H, W, 3) by a whole factor until the shorter side reaches ``min_side``."""
    factor = max(1, -(-min_side // min(image.shape[:2])))
    return image.repeat(factor, axis=0).repeat(factor, axis=1) if factor > 1 else image


def captioned_grid(
    rows: list[list[np.ndarray]], captions: list[list[str]], row_titles: list[str] | None = None, min_side: int = 96, font_size: int = 11
) -> np.ndarray:
    """uint8 RGB sheet: cell (r, c) shows ``rows[r][c]`` (uint8 (H, W, 3)) enlarged to ``min_side`` with ``captions[r][c]`` below.

    ``row_titles`` adds a line of text above each row.
    """
    from PIL import Image, ImageDraw, ImageFont

    if len(captions) != len(rows) or any(len(c) != len(r) for c, r in zip(captions, rows)):
        raise ValueError("captions must have the same shape as rows")
    font = ImageFont.load_default(size=font_size)
    cells = [[enlarge(im, min_side) for im in row] for row in rows]
    cell_w = max(im.shape[1] for row in cells for im in row)
    cell_h = max(im.shape[0] for row in cells for im in row)
    line = font_size + 4
    title_h = line if row_titles else 0
    pad = 6
    width = pad + max(len(row) for row in cells) * (cell_w + pad)
    height = pad + len(cells) * (title_h + cell_h + line + pad)
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    y = pad
    for r, row in enumerate(cells):
        if row_titles:
            draw.text((pad, y), row_titles[r], fill="black", font=font)
            y += title_h
        for c, image in enumerate(row):
            x = pad + c * (cell_w + pad)
            sheet.paste(Image.fromarray(np.ascontiguousarray(image)), (x + (cell_w - image.shape[1]) // 2, y))
            text = captions[r][c]
            text_w = draw.textlength(text, font=font)
            draw.text((x + max(0, (cell_w - text_w) / 2), y + cell_h + 1), text, fill="black", font=font)
        y += cell_h + line + pad
    return np.asarray(sheet)


def with_banner(image: np.ndarray, text: str, colour: tuple[int, int, int] = (200, 0, 0), font_size: int = 14) -> np.ndarray:
    """uint8 RGB ``image`` (H, W, 3) with a white band above it holding ``text`` in ``colour`` (a warning to see at once)."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=font_size)
    pad = 4
    band = font_size + 2 * pad
    sheet = Image.new("RGB", (image.shape[1], image.shape[0] + band), "white")
    sheet.paste(Image.fromarray(np.ascontiguousarray(image)), (0, band))
    ImageDraw.Draw(sheet).text((pad, pad), text, fill=colour, font=font)
    return np.asarray(sheet)
