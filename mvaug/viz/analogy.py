"""Pictures of a disentangler: reconstructions, the visual-analogy grid (Fig. 2) and interpolations (Fig. 5)."""

from __future__ import annotations

import numpy as np
import torch


def to_uint8(images: torch.Tensor) -> list[np.ndarray]:
    """float (B, 3, H, W) in [0, 1] -> list of uint8 (H, W, 3)."""
    arr = (images.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    return list(arr)


@torch.no_grad()
def analogy_grid(generate, styles: torch.Tensor, contents: torch.Tensor, style_images: torch.Tensor, content_images: torch.Tensor) -> np.ndarray:
    """Fig. 2: the top row gives the content (pose), the left column the style; cell (r, c) = G(s_r, c_c).

    styles (R, d_s), contents (C, d_c), style_images (R, 3, H, W), content_images (C, 3, H, W).
    """
    from mvaug.viz.previews import image_grid

    blank = np.full_like(to_uint8(content_images[:1])[0], 255)
    rows = [[blank, *to_uint8(content_images)]]
    for r in range(styles.shape[0]):
        out = generate(styles[r : r + 1].expand(contents.shape[0], -1), contents)
        rows.append([to_uint8(style_images[r : r + 1])[0], *to_uint8(out)])
    return image_grid(rows, pad=2)


@torch.no_grad()
def interpolation_grid(generate, styles: torch.Tensor, contents: torch.Tensor, steps: int = 8) -> np.ndarray:
    """Fig. 5: row 1 interpolates the content between two images at fixed style, row 2 the style at fixed content.

    styles (2, d_s) and contents (2, d_c): the codes of two images.
    """
    from mvaug.viz.previews import image_grid

    t = torch.linspace(0, 1, steps, device=styles.device)[:, None]
    content_path = contents[0] * (1 - t) + contents[1] * t  # (steps, d_c)
    style_path = styles[0] * (1 - t) + styles[1] * t
    row_content = generate(styles[:1].expand(steps, -1), content_path)
    row_style = generate(style_path, contents[:1].expand(steps, -1))
    return image_grid([to_uint8(row_content), to_uint8(row_style)], pad=2)


def pairs_grid(top: torch.Tensor, bottom: torch.Tensor) -> np.ndarray:
    """Two rows: e.g. real images above their reconstructions."""
    from mvaug.viz.previews import image_grid

    return image_grid([to_uint8(top), to_uint8(bottom)], pad=2)
