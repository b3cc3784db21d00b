"""The models shipped in mvaug/assets/: they load, match their cards and reconstruct synthetic chairs.

This test reads the package's own assets folder (never $MVAUG_ASSETS). In a source checkout before
``python scripts/train_defaults.py`` has run it fails, saying so: the package must not ship without them.
"""

from pathlib import Path

import pytest

from mvaug.builtin.assets import DEFAULT_NAMES, list_builtin, verify

PACKAGE_ASSETS = Path(__file__).resolve().parents[2] / "mvaug" / "assets"


@pytest.fixture(scope="module")
def shipped() -> dict[str, dict]:
    cards = {card["name"]: card for card in list_builtin(PACKAGE_ASSETS)}
    missing = sorted(set(DEFAULT_NAMES.values()) - set(cards))
    if missing:
        pytest.fail(f"built-in models missing from {PACKAGE_ASSETS}: {', '.join(missing)}; create them with 'python scripts/train_defaults.py'")
    return cards


def test_shipped_files_match_their_cards_and_fit_the_budget(shipped):
    total = 0
    for name in shipped:
        card = verify(name, PACKAGE_ASSETS)
        total += sum(record["bytes"] for record in card["files"].values())
        assert card["git_commit"] and card["training"]["wall_time_s"] and card["data"]["seed"] is not None
    assert total <= 40e6, f"{total / 1e6:.1f} MB of built-in models, the budget is 40 MB"


def test_shipped_models_load(shipped):
    import torch

    from mvaug.builtin.load import load_bank, load_disentangler, load_face_reconstructor, load_reconstructor

    torch.set_num_threads(1)
    for kind in ("chair", "face"):
        model = load_disentangler(DEFAULT_NAMES[(kind, "disentangler")], "cpu", PACKAGE_ASSETS)
        bank = load_bank(DEFAULT_NAMES[(kind, "disentangler")], PACKAGE_ASSETS)
        bank.check_run(model.fingerprint, DEFAULT_NAMES[(kind, "disentangler")])
    assert load_reconstructor(DEFAULT_NAMES[("chair", "reconstructor")], "cpu", "chair", PACKAGE_ASSETS).kind == "chair"
    face = load_face_reconstructor(DEFAULT_NAMES[("face", "reconstructor")], "cpu", PACKAGE_ASSETS)
    assert face.side_views() == ("az315_el00", "az045_el00")


def test_shipped_pix2vox_reconstructs_synthetic_chairs_above_the_floor(shipped, tmp_path):
    import torch

    from mvaug.builtin.defaults import chair_check

    torch.set_num_threads(1)
    metrics = shipped[DEFAULT_NAMES[("chair", "reconstructor")]]["metrics"]
    recorded = metrics["check"]
    check = chair_check(PACKAGE_ASSETS, tmp_path / "chairs", recorded["chairs"], recorded["seed"])
    assert check["mean_iou@0.3"] > metrics["iou_floor"], (check, metrics["iou_floor"], metrics["iou_floor_rule"])
    assert check["iou@0.3"] == pytest.approx(recorded["iou@0.3"], abs=0.02)  # as measured when the card was written
