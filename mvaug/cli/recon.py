"""``mvaug train-recon`` and ``mvaug reconstruct``: Pix2Vox training and single/multi-view reconstruction."""

from __future__ import annotations

import click

KIND_CHOICES = ("chair",)


@click.command("train-recon")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Reconstructor YAML (configs/pix2vox-*.yaml).")
@click.option("--data", required=True, type=click.Path(), help="ShapeNet-layout root: ShapeNetRendering/, ShapeNetVox32/, split JSON.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run folder (runs/NAME).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its latest checkpoint.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config value, e.g. --set train.epochs=10.")
@click.option("--max-steps", type=int, help="Stop after this many steps (smoke runs); resume later.")
@click.option("--device", default="auto", show_default=True, type=click.Choice(["auto", "cpu", "cuda"]))
@click.option("--kind", default="chair", show_default=True, type=click.Choice(KIND_CHOICES), help="What the reconstructor is for.")
@click.option("--vgg-weights", type=click.Path(dir_okay=False), help="torchvision vgg16_bn ImageNet weights on disk (never downloaded).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train_recon(config_path, data, out, resume, overrides, max_steps, device, kind, vgg_weights, quiet) -> None:
    """Train Pix2Vox-F or -A on ShapeNet-layout data; best.pt in the run folder is what reconstruct reads."""
    from mvaug.recon.run import run_recon_training

    result = run_recon_training(data, out, config_path, overrides, resume, max_steps, device, kind, vgg_weights, progress=not quiet)
    best = f"{result.best_iou:.4f}" if result.best_iou >= 0 else "none yet"
    click.echo(f"run {result.run_dir}: step {result.step}; best validation IoU@0.3 {best}; last log {result.last}")


@click.command()
@click.argument("images", nargs=-1, required=True, type=click.Path())
@click.option("--recon", required=True, type=click.Path(), help="Run folder or checkpoint of train-recon, or an official Pix2Vox .pth.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Output prefix: writes OUT.binvox, OUT.npy, OUT.obj, OUT.png.")
@click.option("--threshold", default=0.3, show_default=True, type=click.FloatRange(0.0, 1.0, min_open=True), help="Occupancy threshold.")
@click.option("--device", default="auto", show_default=True, type=click.Choice(["auto", "cpu", "cuda"]))
@click.option("--kind", default="chair", show_default=True, type=click.Choice(KIND_CHOICES))
@click.option("--run", "run_dir", type=click.Path(file_okay=False), help="Disentangler run that synthesises extra views (with --generate).")
@click.option("--bank", "bank_path", type=click.Path(dir_okay=False), help="Content bank of --run [RUN/bank.npz].")
@click.option("--generate", default=0, show_default=True, type=click.IntRange(min=0), help="Views to synthesise from the first image, spread around its estimated pose.")
def reconstruct(images, recon, out, threshold, device, kind, run_dir, bank_path, generate) -> None:
    """Reconstruct a voxel grid, a mesh and a preview from one or more IMAGES of one object."""
    from mvaug.errors import ConfigError
    from mvaug.recon.reconstruct import run_reconstruct

    generated = None
    if generate:
        if run_dir is None:
            raise ConfigError("--generate needs --run, a disentangler run with a content bank")
        from mvaug.multiview.synthesizer import generate_around

        generated = generate_around(images[0], run_dir, generate, bank_path, device)
    result = run_reconstruct(images, recon, out, threshold, device, kind, generated)
    click.echo(f"{result.occupied} voxels >= {threshold}; wrote " + ", ".join(str(p) for p in result.paths.values()))
