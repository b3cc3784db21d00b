"""Official-layout checkpoints (with and without DataParallel's ``module.``) and VGG16-bn weights from disk."""

import json
from pathlib import Path

import pytest
import torch
from pix2vox import (
    CheckpointError,
    Pix2Vox,
    Pix2VoxConfig,
    build_pix2vox,
    infer_variant,
    load_official_checkpoint,
    load_official_state,
    load_vgg16_bn_weights,
    official_state_dicts,
)
from pix2vox.encoder import vgg16_bn_features

LAYOUT = json.loads((Path(__file__).parent / "pix2vox_official_layout.json").read_text())


def fake_official(variant: str, prefix: str, constant: bool = False) -> dict:
    """A checkpoint as upstream's train.py saves it, built from the names and shapes alone."""
    generator = torch.Generator().manual_seed(3)
    payload = {"epoch_idx": 250, "best_iou": 0.7, "best_epoch": 200}
    for component, shapes in LAYOUT[variant].items():
        state = {}
        for key, shape in shapes.items():
            if key.endswith("num_batches_tracked"):
                state[prefix + key] = torch.tensor(5)
            elif constant:  # no memory for Pix2Vox-A's 114 M values
                state[prefix + key] = torch.full((), 0.25).expand(shape)
            else:
                state[prefix + key] = torch.rand(shape, generator=generator)
        payload[f"{component}_state_dict"] = state
    return payload


@pytest.mark.parametrize("prefix", ["", "module."])
def test_an_official_f_checkpoint_file_loads_strictly(tmp_path, prefix):
    payload = fake_official("F", prefix)
    torch.save(payload, tmp_path / "Pix2Vox-F-ShapeNet.pth")
    model = load_official_checkpoint(tmp_path / "Pix2Vox-F-ShapeNet.pth")
    assert model.config.variant == "F" and model.config.bgr_input and not model.training
    for component in ("encoder", "decoder", "merger"):
        for key, value in getattr(model, component).state_dict().items():
            torch.testing.assert_close(value, payload[f"{component}_state_dict"][prefix + key], msg=key)
    with torch.no_grad():
        assert tuple(model(torch.rand(1, 1, 3, 224, 224))["merged"].shape) == (1, 32, 32, 32)


def test_an_official_a_checkpoint_loads_strictly_into_every_component():
    payload = fake_official("A", "module.", constant=True)
    assert infer_variant(payload) == "A"
    model = Pix2Vox(Pix2VoxConfig(variant="A"))
    load_official_state(model, payload)
    assert model.refiner.layer4[0].weight.shape == (2048, 8192)
    assert all(bool((p == 0.25).all()) for p in model.parameters())


def test_our_state_dicts_round_trip_through_the_official_layout():
    model = build_pix2vox(variant="F", image_size=64)
    saved = official_state_dicts(model)
    assert sorted(saved) == ["decoder_state_dict", "encoder_state_dict", "merger_state_dict"]
    other = build_pix2vox(variant="F", image_size=224)  # the input size changes no parameter
    load_official_state(other, saved)
    for key, value in other.state_dict().items():
        torch.testing.assert_close(value, model.state_dict()[key], msg=key)


def test_mismatching_checkpoints_are_refused_with_the_component_named():
    payload = fake_official("F", "module.")
    with pytest.raises(CheckpointError, match="refiner_state_dict"):
        load_official_state(Pix2Vox(Pix2VoxConfig(variant="F", use_refiner=True)), payload)
    payload["merger_state_dict"]["module.layer9.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match="merger_state_dict does not fit"):
        load_official_state(Pix2Vox(Pix2VoxConfig()), payload)
    wrong = fake_official("F", "")
    wrong["decoder_state_dict"]["layer1.0.weight"] = torch.zeros(300, 128, 4, 4, 4)
    with pytest.raises(CheckpointError, match="neither Pix2Vox-F nor Pix2Vox-A"):
        infer_variant(wrong)


def test_vgg16_bn_weights_load_from_a_torchvision_state_dict(tmp_path):
    torch.manual_seed(4)
    features = vgg16_bn_features()
    state = {f"features.{key}": value.clone() for key, value in features.state_dict().items()}
    state["features.27.weight"] = torch.zeros(512, 512, 3, 3)  # conv4_2 onwards, and the classifier, are ignored
    state["classifier.0.weight"] = torch.zeros(8, 8)
    torch.save(state, tmp_path / "vgg16_bn.pth")
    model = build_pix2vox(variant="F", image_size=32)
    load_vgg16_bn_weights(model.encoder, tmp_path / "vgg16_bn.pth")
    torch.testing.assert_close(model.encoder.vgg[24].weight, features[24].weight)
    torch.testing.assert_close(model.encoder.vgg[25].running_var, features[25].running_var)
    with pytest.raises(CheckpointError, match="not found"):
        load_vgg16_bn_weights(model.encoder, tmp_path / "missing.pth")
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="not a torchvision vgg16_bn"):
        load_vgg16_bn_weights(model.encoder, tmp_path / "other.pth")


def test_unreadable_files_are_one_checkpoint_error_naming_them(tmp_path):
    import os
    import pickle

    import numpy as np

    (tmp_path / "text.pth").write_text("hello world\n" * 10)
    (tmp_path / "empty.pth").write_bytes(b"")
    torch.save(fake_official("F", ""), tmp_path / "whole.pth")
    (tmp_path / "truncated.pth").write_bytes((tmp_path / "whole.pth").read_bytes()[:5000])
    (tmp_path / "numpy.pth").write_bytes(pickle.dumps({"w": np.zeros(3)}, protocol=2))
    (tmp_path / "folder.pth").mkdir()
    os.symlink(tmp_path / "loop-b.pth", tmp_path / "loop-a.pth")
    os.symlink(tmp_path / "loop-a.pth", tmp_path / "loop-b.pth")
    cases = {
        "text.pth": "not a readable Pix2Vox checkpoint file",
        "empty.pth": "not a readable Pix2Vox checkpoint file",
        "truncated.pth": "not a readable Pix2Vox checkpoint file",
        "numpy.pth": "weights-only unpickling refuses it",
        "folder.pth": "found a folder",
        "loop-a.pth": "cannot read the Pix2Vox checkpoint file",
    }
    for name, message in cases.items():
        with pytest.raises(CheckpointError) as err:
            load_official_checkpoint(tmp_path / name)
        assert message in str(err.value) and str(tmp_path / name) in str(err.value) and "\n" not in str(err.value), str(err.value)
    with pytest.raises(CheckpointError, match="not a readable VGG16-bn weights file"):
        load_vgg16_bn_weights(build_pix2vox(variant="F", image_size=32).encoder, tmp_path / "text.pth")


def test_a_shape_mismatch_is_one_line():
    payload = fake_official("F", "")
    payload["encoder_state_dict"]["vgg.0.weight"] = torch.zeros(3)
    with pytest.raises(CheckpointError) as err:
        load_official_state(Pix2Vox(Pix2VoxConfig()), payload)
    assert "size mismatch for vgg.0.weight" in str(err.value) and "\n" not in str(err.value)
