"""``mvaug data``: build and inspect data sets."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def data() -> None:
    """Data sets: synthesise procedural chairs, inspect ShapeNet-style folders."""


def _echo_table(rows: list[tuple[str, ...]]) -> None:
    """Print rows as aligned columns: the first two left-aligned, the others right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))]
        click.echo("  ".join(cells).rstrip())


@data.command("check")
@click.argument("root", type=click.Path(path_type=Path))
@click.option(
    "--split", type=click.Choice(["train", "val", "test", "all"]), default="all", show_default=True, help="Split to check."
)
@click.option("--category", "-c", "categories", multiple=True, help="Taxonomy id or name; repeat for several (default: all).")
@click.option("--deep", is_flag=True, help="Also decode every PNG, binvox and metadata file; stop at the first bad one.")
def check(root: Path, split: str, categories: tuple[str, ...], deep: bool) -> None:
    """Validate a ShapeNet-layout ROOT (ShapeNetRendering/, ShapeNetVox32/, split JSON) and summarise it."""
    from mvaug.data.shapenet import SPLITS, ShapeNetDataset

    dataset = ShapeNetDataset.from_root(root, split=split, categories=categories or None)
    n_images = sum(dataset.verify(i) for i in range(len(dataset))) if deep else 0  # a bad file stops before any output
    splits = SPLITS if split == "all" else (split,)
    rows = [("taxonomy", "name", *splits, "views")]
    for row in dataset.summary():
        low, high = row.views
        views = f"{low}" if low == high else f"{low}-{high}"
        rows.append((row.taxonomy_id, row.name, *(str(row.models[s]) for s in splits), views))
    rows.append(("total", "", *(str(sum(m.split == s for m in dataset.models)) for s in splits), ""))
    _echo_table(rows)
    click.echo(f"split file: {dataset.split_file}")
    if deep:
        click.echo(f"deep check passed: {n_images} images, {len(dataset)} binvox and {len(dataset)} metadata files decoded")
