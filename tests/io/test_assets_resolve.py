"""One resolver of model references: ``builtin:NAME``, None (the default built-in) or a path."""

from pathlib import Path

import pytest

import mvaug
from mvaug.errors import DataError
from mvaug.io.assets import ASSETS_ENV, DEFAULT_NAMES, BuiltinModel, card_path, resolve_model

PACKAGE_ASSETS = Path(mvaug.__file__).parent / "assets"


@pytest.fixture(autouse=True)
def package_assets(monkeypatch):
    monkeypatch.setenv(ASSETS_ENV, str(PACKAGE_ASSETS))


@pytest.mark.parametrize("ref", ["runs/pix2vox", Path("runs/pix2vox"), "builtin"])
def test_anything_but_builtin_name_is_a_path(ref):
    assert resolve_model(ref, "chair", "reconstructor") == Path(ref)


def test_builtin_name_and_none_name_built_in_models():
    assert resolve_model("builtin:face-mvfnet", None, "reconstructor") == BuiltinModel("face-mvfnet", None, "reconstructor")
    for (kind, role), name in DEFAULT_NAMES.items():
        assert resolve_model(None, kind, role) == BuiltinModel(name, kind, role)


def test_a_built_in_model_reads_its_verified_weights_and_bank():
    payload, file = resolve_model(None, "chair", "disentangler").read()
    assert file.parent == PACKAGE_ASSETS and file.suffix == ".safetensors" and "generator" in payload
    assert resolve_model("builtin:chair-disentangler", None, "disentangler").file("bank") == PACKAGE_ASSETS / "chair-disentangler.bank.npz"
    with pytest.raises(DataError, match="the built-in model 'chair-pix2vox' has no bank file"):
        resolve_model("builtin:chair-pix2vox", "chair", "reconstructor").file("bank")


def test_a_model_of_another_kind_or_role_is_refused():
    with pytest.raises(DataError, match="is a chair reconstructor, not a face reconstructor") as err:
        resolve_model("builtin:chair-pix2vox", "face", "reconstructor").read()
    assert err.value.path == str(card_path("chair-pix2vox"))
    with pytest.raises(DataError, match="is a face disentangler, not a reconstructor"):
        resolve_model("builtin:face-disentangler", None, "reconstructor").read()


def _loaders() -> dict:
    from mvaug.disentangle.trained import TrainedDisentangler
    from mvaug.multiview.synthesizer import MultiViewSynthesizer
    from mvaug.recon.checkpoint import load_reconstructor
    from mvaug.recon.face_reconstruct import FaceReconstructor

    return {
        "disentangler": lambda ref: TrainedDisentangler.from_run(ref),
        "synthesizer": lambda ref: MultiViewSynthesizer.from_run(ref),
        "chair reconstructor": lambda ref: load_reconstructor(ref, "cpu", "chair"),
        "face reconstructor": lambda ref: FaceReconstructor.from_checkpoint(ref, "cpu"),
    }


@pytest.mark.parametrize("loader", ["disentangler", "synthesizer", "chair reconstructor", "face reconstructor"])
def test_a_wrong_builtin_name_is_the_same_clear_error_for_every_loader(loader):
    with pytest.raises(DataError) as err:
        _loaders()[loader]("builtin:nope")
    assert err.value.path == str(card_path("nope"))
    assert err.value.message.startswith("no built-in model 'nope' (installed: chair-disentangler, chair-pix2vox, face-disentangler, face-mvfnet);")


def test_reconstructors_default_to_the_built_in_one_of_their_kind():
    from mvaug.recon.checkpoint import load_reconstructor
    from mvaug.recon.face_reconstruct import FaceReconstructor

    assert load_reconstructor(None, "cpu", "chair").path == PACKAGE_ASSETS / f"{DEFAULT_NAMES[('chair', 'reconstructor')]}.safetensors"
    assert FaceReconstructor.from_checkpoint(None, "cpu").path == PACKAGE_ASSETS / f"{DEFAULT_NAMES[('face', 'reconstructor')]}.safetensors"
