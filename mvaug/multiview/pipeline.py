"""What ``mvaug bank build|show`` and ``mvaug generate`` do, as library functions."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mvaug.errors import ConfigError, DataError
from mvaug.multiview.bank import ContentBank, build_bank_from_cameras, build_bank_from_exemplars
from mvaug.multiview.synthesizer import DEFAULT_BANK_NAME, MultiViewSynthesizer
from mvaug.multiview.views import View

INPUT_PICTURE = "input.png"
SHEET_PICTURE = "sheet.png"


def build_bank(
    run: str | os.PathLike,
    out: str | os.PathLike | None = None,
    data: str | os.PathLike | None = None,
    views: list[View] | None = None,
    tolerance: float | None = None,
    exemplars: list[str] = (),
    nearest: bool = True,
    device: str = "auto",
    progress: bool = True,
    neighbours: int = 0,
) -> tuple[ContentBank, Path]:
    """Build a bank from the run's view-labelled training data (``data``) or from ``exemplars`` ('NAME=IMAGE');
    from data it keeps ``neighbours`` style neighbours (0: none; see :class:`~mvaug.multiview.bank.StyleNeighbours`).

    ``out`` may replace an earlier bank, never an input or another kind of file."""
    from mvaug.disentangle.trained import TrainedDisentangler
    from mvaug.engine.device import resolve_device
    from mvaug.io.assets import builtin_name

    if neighbours and exemplars:
        raise ConfigError("style neighbours come from view-labelled training data (--data), not from exemplars: drop --neighbours")
    builtin = builtin_name(run) is not None
    if out is None and builtin:
        raise ConfigError(f"{run} is a built-in model, with no run folder to hold its bank: name the bank file with --out")
    out = Path(out) if out is not None else Path(run) / DEFAULT_BANK_NAME
    pairs = dict(_parse_exemplar(e) for e in exemplars)
    _check_bank_output(out, [*_run_files(run), *pairs.values()])
    model = TrainedDisentangler.from_run(run, resolve_device(device))
    if exemplars:
        from mvaug.data.user_image import load_user_image

        images = {name: (path, load_user_image(path, model.image_size)) for name, path in pairs.items()}
        bank = build_bank_from_exemplars(model, images, nearest)
    elif data is not None:
        from mvaug.disentangle.data import load_image_set

        cfg = model.config.data
        images = load_image_set(data, model.image_size, cfg.kind, cfg.split, cfg.limit, progress)
        bank = build_bank_from_cameras(model, images, views, tolerance, neighbours)
    else:
        raise ConfigError("give --data (the run's view-labelled training data) or --exemplar NAME=IMAGE")
    if builtin:
        bank.run = str(run)  # not the path of the installed weights file
    bank.save(out)
    return bank, out


def _run_files(run: str | os.PathLike) -> list[Path]:
    """The file a disentangler run is loaded from (none for a built-in model)."""
    from mvaug.engine.run_folder import RunPaths
    from mvaug.io.assets import BuiltinModel, resolve_model

    source = resolve_model(run, None, "disentangler")
    return [] if isinstance(source, BuiltinModel) else [RunPaths(source).model]


def _check_bank_output(out: Path, inputs: list[Path]) -> None:
    """Refuse a bank path that is an input, or an existing file that is not a content bank."""
    from mvaug.io.outputs import check_outputs

    check_outputs([out], inputs, overwrite=True)
    if out.exists():
        try:
            ContentBank.load(out)
        except DataError:
            raise DataError("the file exists and is not a content bank; choose another --out", out) from None


def _parse_exemplar(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise ConfigError(f"--exemplar {text!r}: expected NAME=IMAGE, e.g. left=faces/left.png")
    return name, Path(path)


def bank_sheet(run: str | os.PathLike, bank: str | os.PathLike | None, out: str | os.PathLike, styles: int = 6, device: str = "auto") -> Path:
    """Picture of the bank's views applied to ``styles`` training styles: one row per style, one column per view."""
    from mvaug.engine.device import resolve_device
    from mvaug.io.images import write_png
    from mvaug.io.outputs import check_outputs
    from mvaug.viz.analogy import to_uint8
    from mvaug.viz.labelled import captioned_grid

    check_outputs([out], [*_run_files(run), Path(run) / DEFAULT_BANK_NAME if bank is None else bank], overwrite=True)
    synth = MultiViewSynthesizer.from_run(run, bank, resolve_device(device))
    model = synth.model
    if model.style_embeddings is None:
        raise ConfigError("bank show needs learned style codes; this run was trained with amortised encoders")
    chosen = torch.linspace(0, model.style_embeddings.shape[0] - 1, styles).round().long()
    rows, captions = [], []
    for index in chosen.tolist():
        style = model.style_embeddings[index : index + 1]
        views, codes = synth.bank.content_for(style, None)  # (1, V, d_c): what generation draws for this style
        rows.append(to_uint8(model.generate(style.expand(codes.shape[1], -1), codes[0])))
        captions.append([v.name for v in views])
    write_png(out, captioned_grid(rows, captions, [f"style of training image {i}" for i in chosen.tolist()]))
    return Path(out)


@dataclass
class GenerateResult:
    inputs: int
    views: int
    out: Path
    seconds: float


def expand_inputs(inputs: list[str | os.PathLike]) -> list[Path]:
    """Image files, with folders replaced by the images they hold (sorted); a missing path is a DataError."""
    from mvaug.io.images import IMAGE_SUFFIXES

    files: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = sorted(p for p in item.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
            if not found:
                raise DataError("folder holds no images", item)
            files.extend(found)
        elif item.exists():
            files.append(item)
        else:
            raise DataError("input image not found", item)
    return files


def generate_views(
    inputs: list[str | os.PathLike],
    run: str | os.PathLike,
    out: str | os.PathLike,
    bank: str | os.PathLike | None = None,
    views: list[View] | None = None,
    batch_size: int = 32,
    device: str = "auto",
    progress: bool = True,
) -> GenerateResult:
    """For each input image: OUT/<name>/<view>.png per view, OUT/<name>/input.png and OUT/<name>/sheet.png.

    Each OUT/<name> must be new, empty or written by an earlier call (its files are replaced as one set);
    an input inside OUT is never replaced."""
    from tqdm import tqdm

    from mvaug.data.user_image import prepare_user_image
    from mvaug.engine.device import resolve_device
    from mvaug.io.images import write_png
    from mvaug.io.outputs import check_output_folder, check_outputs, output_set
    from mvaug.viz.analogy import to_uint8

    files = expand_inputs(inputs)
    folders = [Path(out) / name for name in _unique_stems(files)]
    for folder in folders:
        check_output_folder(folder, _is_generated_folder, "a folder of views written by 'mvaug generate'")
    synth = MultiViewSynthesizer.from_run(run, bank, resolve_device(device))
    views, _ = synth.bank.select(views)
    names = [INPUT_PICTURE, *(f"{view.name}.png" for view in views), SHEET_PICTURE]
    check_outputs([folder / name for folder in folders for name in names], files, overwrite=True)
    start = time.perf_counter()
    for first in tqdm(range(0, len(files), batch_size), desc="generate", unit="batch", disable=not progress, dynamic_ncols=True):
        chunk = files[first : first + batch_size]
        prepared = [prepare_user_image(path, synth.image_size) for path in chunk]
        images = torch.stack([p.tensor for p in prepared])
        _, generated = synth.generate_batch(images, views)  # (B, V, 3, S, S)
        for k, item in enumerate(prepared):
            source, drawn = to_uint8(item.tensor[None])[0], list(to_uint8(generated[k]))
            pictures = [source, *drawn, _contact_sheet(source, drawn, views, item.path.name)]
            with output_set({name: folders[first + k] / name for name in names}) as temp:
                for name, picture in zip(names, pictures):
                    write_png(temp[name], picture)
    return GenerateResult(len(files), len(views), Path(out), time.perf_counter() - start)


def _is_generated_folder(folder: Path) -> bool:
    """Whether ``folder`` holds the views of one image written by :func:`generate_views`."""
    return (folder / INPUT_PICTURE).is_file() and (folder / SHEET_PICTURE).is_file()


def _contact_sheet(source: np.ndarray, pictures: list[np.ndarray], views: list[View], title: str, per_row: int = 8) -> np.ndarray:
    """The input, then the generated views, ``per_row`` to a row, each captioned."""
    from mvaug.viz.labelled import captioned_grid

    cells, captions = [source, *pictures], ["input", *[v.name for v in views]]
    rows = [cells[i : i + per_row] for i in range(0, len(cells), per_row)]
    labels = [captions[i : i + per_row] for i in range(0, len(captions), per_row)]
    return captioned_grid(rows, labels, [title] + [""] * (len(rows) - 1))


def _unique_stems(files: list[Path]) -> list[str]:
    """Output folder names: the file stem, with -2, -3 ... for repeats."""
    seen: dict[str, int] = {}
    names = []
    for path in files:
        seen[path.stem] = seen.get(path.stem, 0) + 1
        names.append(path.stem if seen[path.stem] == 1 else f"{path.stem}-{seen[path.stem]}")
    return names
