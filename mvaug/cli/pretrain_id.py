"""``mvaug pretrain-id``: train the instance discrimination network Phi used by the L_ID loss."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("pretrain-id")
@click.option(
    "--data", "data_dir", required=True, type=click.Path(path_type=Path),
    help="Image folder (ShapeNet, 3D Chairs, CelebA or a plain folder of images).",
)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Checkpoint file to write.")
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False),
    help="YAML file of InstanceDiscConfig keys; options given here override it.",
)
@click.option("--epochs", type=int, help="Passes over the images [100].")
@click.option("--image-size", type=int, help="Images are resized to this square side in pixels [64].")
@click.option("--batch-size", type=int, help="Images per step [128].")
@click.option("--lr", type=float, help="Adam learning rate [0.001].")
@click.option("--seed", type=int, help="Seed of the network, memory bank, batch order and augmentations [0].")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True, help="auto: cuda when available.")
@click.option(
    "--workers", type=click.IntRange(min=0), default=0, show_default=True,
    help="Augmentation worker processes; augmenting costs about 1 ms per image and core, so use several with a GPU.",
)
@click.option("--limit", type=click.IntRange(min=2), help="Train on the first N images only.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def pretrain_id(data_dir: Path, out: Path, config_path: str | None, device: str, workers: int, limit: int | None, quiet: bool, **options) -> None:
    """Train the instance discrimination network Phi (Wu et al. 2018) on the images in --data; write it to --out."""
    from mvaug.config import load_config
    from mvaug.disentangle.data import load_image_set
    from mvaug.disentangle.instance_disc import InstanceDiscConfig, pretrain_instance_discrimination
    from mvaug.engine.device import resolve_device
    from mvaug.errors import DataError

    config = load_config(InstanceDiscConfig, config_path, {k: v for k, v in options.items() if v is not None})
    device = resolve_device(device)
    if out.is_dir():
        raise DataError("--out must name a file, found a folder", out)
    images = load_image_set(data_dir, config.image_size, limit=limit, progress=not quiet)
    if len(images) < 2:
        raise DataError(f"instance discrimination needs at least 2 images, found {len(images)}", data_dir)
    stats = pretrain_instance_discrimination(images.images, config, out, device=device, progress=not quiet, workers=workers)
    click.echo(
        f"wrote {out}: {len(images)} images, {config.epochs} epochs on {device}, loss {stats['first_epoch_loss']:.3f} -> "
        f"{stats['loss']:.3f}, instance retrieval top-1 {stats['retrieval_top1']:.1%}, {stats['images_per_second']:.0f} images/s"
    )
