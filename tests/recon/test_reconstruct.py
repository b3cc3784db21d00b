import dataclasses
import logging

import click
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from pix2vox import build_pix2vox, official_state_dicts

from mvaug.cli.main import MvaugGroup
from mvaug.cli.recon import reconstruct
from mvaug.data.composite import paste_object, scene_image
from mvaug.errors import ConfigError, DataError
from mvaug.io.binvox import read_binvox
from mvaug.io.checkpoint import save_checkpoint
from mvaug.io.images import read_image, write_png
from mvaug.recon.checkpoint import CHECKPOINT_FORMAT, load_reconstructor
from mvaug.recon.reconstruct import IMPLAUSIBLE_OCCUPANCY, PREVIEW_SIZE, Reconstructor, implausibility, run_reconstruct


def cli() -> click.Group:
    group = MvaugGroup()  # the error handling of the mvaug command line
    group.add_command(reconstruct)
    return group


def renders(root, count=2):
    return sorted(root.glob("ShapeNetRendering/*/*/rendering/*.png"))[:count]


def test_the_api_maps_views_to_probabilities_of_the_network(trained_run, chairs):
    recon = Reconstructor.from_checkpoint(trained_run, "cpu")
    views = recon.load_views(renders(chairs))
    assert views.shape == (2, 3, 32, 32) and 0 <= views.min() and views.max() <= 1
    probabilities = recon.reconstruct(views)
    assert probabilities.shape == (32, 32, 32) and 0 <= probabilities.min() and probabilities.max() <= 1
    with torch.no_grad():
        direct = recon.model.final(recon.model(views[None]))[0]
    torch.testing.assert_close(probabilities, direct)
    bigger = torch.nn.functional.interpolate(views, size=(96, 96), mode="nearest")  # any size is resized to the input size
    assert recon.reconstruct(bigger).shape == (32, 32, 32)
    with pytest.raises(ValueError, match="V, 3, H, W"):
        recon.reconstruct(views[0])


def test_views_encoded_together_fuse_in_any_subset_like_a_reconstruction_of_that_subset(trained_run, chairs):
    recon = Reconstructor.from_checkpoint(trained_run, "cpu")
    views = recon.load_views(renders(chairs))
    views = torch.cat([views, views.flip(-1)])  # 4 views: (V, 3, S, S)
    raw, coarse = recon.per_view(views)
    assert raw.shape == (4, 9, 32, 32, 32) and coarse.shape == (4, 32, 32, 32)
    for subset in ([0], [1, 3], [3, 0, 2], [0, 1, 2, 3]):
        assert torch.equal(recon.fuse(raw[subset], coarse[subset]), recon.reconstruct(views[subset]))


def test_the_cli_writes_binvox_npy_obj_and_png_that_agree(trained_run, chairs, tmp_path):
    images = [str(p) for p in renders(chairs, 3)]
    result = CliRunner().invoke(cli(), ["reconstruct", *images, "--recon", str(trained_run), "--out", str(tmp_path / "out/chair"), "--threshold", "0.45", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    probabilities = np.load(tmp_path / "out/chair.npy")
    assert probabilities.shape == (32, 32, 32) and probabilities.dtype == np.float32
    expected = Reconstructor.from_checkpoint(trained_run).reconstruct(Reconstructor.from_checkpoint(trained_run).load_views(images)).numpy()
    np.testing.assert_allclose(probabilities, expected, atol=1e-6)
    voxels = read_binvox(tmp_path / "out/chair.binvox")
    np.testing.assert_array_equal(voxels.data, probabilities >= 0.45)  # [x, y, z], as ShapeNetVox32 is read
    assert voxels.translate == (-0.5, -0.5, -0.5) and voxels.scale == 1.0
    import trimesh

    mesh = trimesh.load(tmp_path / "out/chair.obj", force="mesh")
    if voxels.data.any():
        assert mesh.is_watertight and np.all(np.abs(mesh.vertices) <= 0.5 + 1e-6)
    picture = read_image(tmp_path / "out/chair.png", "RGB")
    assert picture.shape[0] > 2 * PREVIEW_SIZE and picture.shape[1] >= 4 * PREVIEW_SIZE  # views row, voxel row of 4 angles
    assert f"{int(voxels.data.sum())} voxels" in result.output


def test_generated_views_are_appended_and_shown_in_their_own_row(trained_run, chairs, tmp_path):
    images = renders(chairs, 1)
    generated = torch.rand(2, 3, 64, 64)
    result = run_reconstruct(images, trained_run, tmp_path / "gen", device="cpu", generated=generated)
    recon = Reconstructor.from_checkpoint(trained_run)
    expected = recon.reconstruct(torch.cat([recon.load_views(images), recon.frame_generated(generated)]))
    np.testing.assert_allclose(result.probabilities, expected.numpy(), atol=1e-6)
    plain = run_reconstruct(images, trained_run, tmp_path / "plain.obj", device="cpu")
    assert plain.paths[".obj"] == tmp_path / "plain.obj"
    rows = lambda path: read_image(path, "RGB").shape[0]  # noqa: E731
    assert rows(result.paths[".png"]) - rows(plain.paths[".png"]) == PREVIEW_SIZE + 4


def test_generated_views_are_framed_like_the_training_renders(trained_run):
    """A generated frame on white: the reconstructor's background, its centre crop, its input size."""
    recon = Reconstructor.from_checkpoint(trained_run)
    generated = torch.ones(1, 3, 64, 64)
    generated[:, :, 24:40, 24:40] = torch.tensor([0.8, 0.1, 0.1]).view(1, 3, 1, 1)
    framed = recon.frame_generated(generated)
    size = recon.image_size
    assert framed.shape == (1, 3, size, size)
    assert torch.allclose(framed[0, :, 0, 0], torch.tensor(recon.background), atol=0.01)
    assert torch.allclose(framed[0, :, size // 2, size // 2], torch.tensor([0.8, 0.1, 0.1]), atol=0.02)
    side = (framed[0, 1] < 0.5).sum(dim=1).max().item()  # the square's width after the centre crop
    expected = 16 / 64 * size / recon.config.data.crop_fraction
    assert abs(side - expected) <= 1.5


def test_a_generated_view_whose_border_is_not_uniform_still_gets_the_reconstructors_background(trained_run):
    """A smudged border (the object or the generator's blur reaching the edge) no longer keeps the white it was drawn on."""
    recon = Reconstructor.from_checkpoint(trained_run)
    generated = torch.ones(1, 3, 64, 64)
    generated[:, :, 20:44, :] = torch.tensor([0.2, 0.3, 0.8]).view(1, 3, 1, 1)  # a seat wider than the frame
    framed = recon.frame_generated(generated)
    assert torch.allclose(framed[0, :, 0, 0], torch.tensor(recon.background), atol=0.01)
    assert torch.allclose(framed[0, :, recon.image_size // 2, 0], torch.tensor([0.2, 0.3, 0.8]), atol=0.02)


def test_the_real_shapenet_renders_reconstruct_without_error(trained_run, realdata, tmp_path):
    images = [str(p) for p in sorted(realdata.glob("ShapeNetRendering/*/*/rendering/00.png"))]
    assert len(images) == 4
    for index, image in enumerate(images):
        result = CliRunner().invoke(cli(), ["reconstruct", image, "--recon", str(trained_run / "best.pt"), "--out", str(tmp_path / f"r{index}")])
        assert result.exit_code == 0, result.output
    assert len(list(tmp_path.glob("r*.binvox"))) == 4
    together = CliRunner().invoke(cli(), ["reconstruct", *images, "--recon", str(trained_run), "--out", str(tmp_path / "all")])
    assert together.exit_code == 0, together.output


def red_pixels(picture: np.ndarray) -> np.ndarray:
    """bool (H, W): the pure red of the cut-out outline and of the implausibility banner."""
    return (picture[..., 0] > 180) & (picture[..., 1] < 60) & (picture[..., 2] < 60)


def test_a_cluttered_photo_is_cut_out_and_shown_and_no_cutout_keeps_the_whole_photo(trained_run, realdata, tmp_path):
    render = read_image(realdata / "ShapeNetRendering/02828884/sample-bench/rendering/00.png", "RGBA")
    photo = tmp_path / "bench-on-a-table.png"
    write_png(photo, paste_object(render, scene_image("coffee-table"))[0])  # a bench on a wooden table: no uniform border
    for name, flags in {"cut": [], "whole": ["--no-cutout"]}.items():
        result = CliRunner().invoke(cli(), ["reconstruct", str(photo), "--recon", str(trained_run), "--out", str(tmp_path / name), "--device", "cpu", *flags])
        assert result.exit_code == 0, result.output
    recon = Reconstructor.from_checkpoint(trained_run)
    (cut,), (whole,) = recon.prepare_views([photo]), recon.prepare_views([photo], cutout=False)
    assert cut.cutout is not None and "cut out with GrabCut" in cut.notes[0]
    assert whole.cutout is None and "whole image is used" in whole.notes[0]
    assert not torch.equal(cut.tensor, whole.tensor)
    np.testing.assert_allclose(np.load(tmp_path / "cut.npy"), recon.reconstruct(cut.tensor[None]).numpy(), atol=1e-6)
    np.testing.assert_allclose(np.load(tmp_path / "whole.npy"), recon.reconstruct(whole.tensor[None]).numpy(), atol=1e-6)
    for name, outlined in {"cut": True, "whole": False}.items():
        picture = read_image(tmp_path / f"{name}.png", "RGB")
        top = picture.shape[0] - 2 * (PREVIEW_SIZE + 4)  # below a banner, if any: the input row, the voxel row
        beside_input = picture[top : top + PREVIEW_SIZE, 8 + PREVIEW_SIZE : 8 + 2 * PREVIEW_SIZE]  # the input row's second cell
        assert (red_pixels(beside_input).sum() > 50) if outlined else (beside_input == 255).all(), name  # the outlined cut-out


def fabricated_grids() -> dict[str, torch.Tensor]:
    """Probability grids as a network might give: every voxel likely, none, and a chair-sized block."""
    block = torch.full((32, 32, 32), 0.05)
    block[10:22, 4:28, 10:22] = 0.9  # 3456 voxels, 10.5 % of the grid
    return {"full": torch.full((32, 32, 32), 0.9), "empty": torch.full((32, 32, 32), 0.1), "block": block}


def test_an_implausible_grid_is_said_in_the_log_the_result_and_the_picture(trained_run, chairs, tmp_path, monkeypatch, caplog):
    grids = fabricated_grids()
    results, pictures = {}, {}
    for name, grid in grids.items():
        monkeypatch.setattr(Reconstructor, "reconstruct", lambda self, views, grid=grid: grid.clone())
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="mvaug.recon.reconstruct"):
            results[name] = run_reconstruct(renders(chairs, 1), trained_run, tmp_path / name, device="cpu")
        warnings = [r.getMessage() for r in caplog.records if r.name == "mvaug.recon.reconstruct"]
        assert warnings == ([] if results[name].implausible is None else [f"{tmp_path / name}: {results[name].implausible} at threshold 0.3"])
        pictures[name] = read_image(results[name].paths[".png"], "RGB")
    assert results["full"].implausible == "implausible: 100% of the grid occupied" and results["full"].occupied == 32**3
    assert results["empty"].implausible == "implausible: the grid is empty" and results["empty"].occupied == 0
    assert results["block"].implausible is None and results["block"].occupied == 12 * 24 * 12
    for name in ("full", "empty"):
        banner = pictures[name].shape[0] - pictures["block"].shape[0]
        assert banner > 0 and red_pixels(pictures[name][:banner]).sum() > 20  # the note, in red, above the picture
    np.testing.assert_array_equal(np.load(results["full"].paths[".npy"]), grids["full"].numpy())  # written all the same


def test_implausibility_flags_more_than_half_of_the_grid_and_an_empty_one():
    grid = np.zeros((32, 32, 32), bool)
    assert implausibility(grid) == "implausible: the grid is empty"
    grid.flat[: int(IMPLAUSIBLE_OCCUPANCY * grid.size)] = True
    assert implausibility(grid) is None
    grid.flat[int(IMPLAUSIBLE_OCCUPANCY * grid.size)] = True
    assert implausibility(grid) == f"implausible: {grid.mean():.0%} of the grid occupied"


def test_an_official_checkpoint_reconstructs_on_the_cpu(tmp_path, chairs):
    model = build_pix2vox(variant="F")
    payload = {f"{k}": {f"module.{n}": t for n, t in v.items()} for k, v in official_state_dicts(model).items()}
    torch.save({**payload, "epoch_idx": 10}, tmp_path / "Pix2Vox-F-ShapeNet.pth")
    loaded = load_reconstructor(tmp_path / "Pix2Vox-F-ShapeNet.pth")
    assert loaded.official and loaded.config.model.bgr_input and loaded.config.model.image_size == 224
    result = run_reconstruct(renders(chairs, 1), tmp_path / "Pix2Vox-F-ShapeNet.pth", tmp_path / "official", device="cpu")
    assert result.paths[".binvox"].is_file()


def test_checkpoints_of_another_kind_are_refused_with_one_clear_line(trained_run, chairs, tmp_path):
    image = str(renders(chairs, 1)[0])
    save_checkpoint(tmp_path / "disent.pt", {"format": "mvaug-disentangle-v1", "generator": {}})
    best = torch.load(trained_run / "best.pt", weights_only=True)
    save_checkpoint(tmp_path / "faces.pt", {**best, "kind": "face"})
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    (tmp_path / "empty-run").mkdir()
    cases = {
        "disent.pt": "'mvaug-disentangle-v1' checkpoint, not a Pix2Vox reconstructor",
        "faces.pt": "trained on 'face' objects, 'chair' was asked",
        "junk.pt": "not a readable reconstructor checkpoint",
        "empty-run": "not a run folder of mvaug train-recon",
        "missing.pt": "not found",
    }
    assert_recon_errors(image, tmp_path, cases)
    with pytest.raises(DataError, match=CHECKPOINT_FORMAT.split("-")[0]):
        load_reconstructor(tmp_path / "disent.pt")


def test_damaged_safetensors_and_foreign_weights_are_one_clear_line(chairs, tmp_path):
    from safetensors.torch import save_file

    image = str(renders(chairs, 1)[0])
    (tmp_path / "empty.safetensors").write_bytes(b"")
    (tmp_path / "random.safetensors").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "huge-header.safetensors").write_bytes((2**60).to_bytes(8, "little") + b"{}")
    save_file({"w": torch.zeros(2)}, tmp_path / "other.safetensors")
    (tmp_path / "text.pth").write_text("hello world\n" * 10)
    official = {k: {f"module.{n}": t for n, t in v.items()} for k, v in official_state_dicts(build_pix2vox(variant="F")).items()}
    official["encoder_state_dict"]["module.vgg.0.weight"] = torch.zeros(3)
    torch.save(official, tmp_path / "wrong-shapes.pth")
    (tmp_path / "loop.pt").symlink_to(tmp_path / "loop.pt")
    cases = {
        "empty.safetensors": "not a readable reconstructor checkpoint (SafetensorError",
        "random.safetensors": "not a readable reconstructor checkpoint (SafetensorError",
        "huge-header.safetensors": "not a readable reconstructor checkpoint (SafetensorError",
        "other.safetensors": "not a Pix2Vox checkpoint",
        "text.pth": "not a readable reconstructor checkpoint",
        "wrong-shapes.pth": "encoder_state_dict does not fit Pix2Vox-F: size mismatch for vgg.0.weight",
        "loop.pt": "cannot read the reconstructor checkpoint",
    }
    assert_recon_errors(image, tmp_path, cases)


def test_a_checkpoint_exported_to_safetensors_is_read_without_pickle(trained_run, tmp_path):
    from mvaug.io.payload_file import write_payload_file

    write_payload_file(tmp_path / "model.safetensors", torch.load(trained_run / "best.pt", weights_only=True))
    exported, original = load_reconstructor(tmp_path / "model.safetensors"), load_reconstructor(trained_run)
    assert exported.kind == original.kind and exported.config == original.config
    for key, value in original.model.state_dict().items():
        torch.testing.assert_close(exported.model.state_dict()[key], value, rtol=1e-3, atol=1e-3, msg=key)


def assert_recon_errors(image: str, folder, cases: dict[str, str]) -> None:
    """``reconstruct IMAGE --recon folder/NAME`` exits 2 with one line that names the file and holds the message, per case."""
    for name, message in cases.items():
        result = CliRunner().invoke(cli(), ["reconstruct", image, "--recon", str(folder / name), "--out", str(folder / "x")])
        assert result.exit_code == 2, (name, result.output)
        assert message in result.output and str(folder / name) in result.output, (name, result.output)
        assert len(result.output.strip().splitlines()) == 1, (name, result.output)


def naive_unsharp(image: np.ndarray, sigma: float, amount: float) -> np.ndarray:
    """(H, W, 3) float in [0, 1]: image + amount * (image - Gaussian blur), edges repeated, clipped; one output pixel at a time."""
    radius = int(4 * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1)
    weights = np.exp(-(offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2 * sigma**2))
    weights /= weights.sum()
    height, width = image.shape[:2]
    out = np.empty_like(image)
    for y in range(height):
        for x in range(width):
            rows = np.clip(y + offsets, 0, height - 1)
            cols = np.clip(x + offsets, 0, width - 1)
            blurred = np.einsum("ij,ijc->c", weights, image[np.ix_(rows, cols)])
            out[y, x] = image[y, x] + amount * (image[y, x] - blurred)
    return np.clip(out, 0.0, 1.0)


def test_sharpened_generated_views_are_an_unsharp_mask_of_them(trained_run):
    """frame_generated(sharpen=a) frames what a naive unsharp mask of radius SHARPEN_RADIUS makes of the views; 0 is the plain framing."""
    from mvaug.recon.reconstruct import SHARPEN_RADIUS, frame_generated

    recon = Reconstructor.from_checkpoint(trained_run)
    generated = torch.ones(2, 3, 32, 32)
    generated[:, :, 8:24, 10:22] = torch.linspace(0.1, 0.7, 3).view(1, 3, 1, 1)
    generated = torch.nn.functional.avg_pool2d(generated, 5, stride=1, padding=2, count_include_pad=False)  # a soft-edged object
    generated[1] = generated[1].flip(-1)
    frame = lambda views, amount: frame_generated(views, recon.image_size, recon.config.data.crop_fraction, recon.background, amount)  # noqa: E731
    by_hand = torch.stack([torch.from_numpy(naive_unsharp(v.permute(1, 2, 0).numpy().astype(np.float64), SHARPEN_RADIUS, 1.5)).permute(2, 0, 1).float()
                           for v in generated])
    sharpened = frame(generated, 1.5)
    assert (sharpened - frame(by_hand, 0.0)).abs().max() <= 2 / 255 + 1e-6
    assert (sharpened - frame(generated, 0.0)).abs().max() > 0.05  # the soft edges moved
    with pytest.raises(ValueError, match="sharpen"):
        frame(generated, -1.0)


def test_sharpening_follows_how_the_reconstructor_was_trained(trained_run):
    """Real renders only: SHARPEN_AMOUNT; trained beside generated views (synth.run): none, as it learned them; asked: as asked."""
    from mvaug.recon.reconstruct import SHARPEN_AMOUNT

    recon = Reconstructor.from_checkpoint(trained_run)
    assert recon.config.synth.run is None and recon.sharpening() == SHARPEN_AMOUNT > 0
    augmented = Reconstructor(recon.model, dataclasses.replace(recon.config, synth=dataclasses.replace(recon.config.synth, run="builtin:chair-disentangler")), recon.device)
    assert augmented.sharpening() == 0.0 and augmented.sharpening(1.5) == recon.sharpening(1.5) == 1.5
    generated = torch.rand(1, 3, 32, 32)
    assert torch.equal(augmented.frame_generated(generated), recon.frame_generated(generated, 0.0))
    with pytest.raises(ConfigError, match="sharpen"):
        recon.sharpening(-0.5)
