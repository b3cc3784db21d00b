"""A plain folder of images (for example CelebA's ``img_align_celeba/*.jpg``)."""

from __future__ import annotations

import os

from torch.utils.data import Dataset

from mvaug.data.transforms import check_size, existing_dir, load_image
from mvaug.errors import DataError
from mvaug.io.images import IMAGE_SUFFIXES


class ImageFolderDataset(Dataset):
    """The images under ``root`` (sub-folders too if ``recursive``), in sorted path order.

    Hidden files (names starting with '.') are skipped. Each item is a dict: ``image`` float32
    (3, H, W) in [0, 1], alpha composited on white, the central ``crop`` x ``crop`` pixels if
    given (CelebA: 178), resized to ``image_size`` if given; ``path`` str.
    """

    def __init__(
        self, root: str | os.PathLike, image_size: int | None = 64, recursive: bool = True, crop: int | None = None
    ):
        self.image_size = check_size(image_size, "image_size")
        self.crop = check_size(crop, "crop")
        self.root = existing_dir(root, "image folder")
        candidates = self.root.rglob("*") if recursive else self.root.iterdir()
        self.paths = sorted(
            p
            for p in candidates
            if p.suffix.lower() in IMAGE_SUFFIXES
            and not any(part.startswith(".") for part in p.relative_to(self.root).parts)
            and p.is_file()
        )
        if not self.paths:
            where = "in it or its sub-folders" if recursive else "in it"
            raise DataError(f"no images ({', '.join(IMAGE_SUFFIXES)}) {where}", self.root)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict:
        path = self.paths[index]
        return {"image": load_image(path, self.image_size, self.crop), "path": str(path)}
