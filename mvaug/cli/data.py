"""``mvaug data``: build and inspect data sets."""

from __future__ import annotations

import click


@click.group()
def data() -> None:
    """Data sets: synthesise procedural chairs, inspect ShapeNet-style folders."""
