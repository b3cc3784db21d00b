import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mvaug.cli.main import cli
from tests.conftest import REAL_MODELS, link_sample, rendering_dir, replace


def run(*args: str):
    return CliRunner().invoke(cli, ["data", "check", *map(str, args)])


def table(output: str) -> dict[str, list[str]]:
    """Rows of the summary table by their first cell."""
    return {line.split()[0]: line.split()[1:] for line in output.splitlines() if line.strip()}


def test_check_real_sample(realdata):
    result = run(realdata)
    assert result.exit_code == 0, result.output
    rows = table(result.stdout)
    assert rows["taxonomy"] == ["name", "train", "val", "test", "views"]
    for tax, model in REAL_MODELS.items():
        assert rows[tax] == [model.removeprefix("sample-"), "0", "0", "1", "24"]
    assert rows["total"] == ["0", "0", "4"]
    assert "deep" not in result.stdout


def test_deep_check_of_one_split_and_category(realdata):
    result = run(realdata, "--split", "test", "--deep", "-c", "car", "-c", "02691156")
    assert result.exit_code == 0, result.output
    rows = table(result.stdout)
    assert rows["taxonomy"] == ["name", "test", "views"]
    assert set(rows) & set(REAL_MODELS) == {"02691156", "02958343"}
    assert "deep check passed: 48 images, 2 binvox and 2 metadata files decoded" in result.stdout


def test_a_shallow_check_does_not_decode(realdata, tmp_path):
    root = link_sample(realdata, tmp_path / "root")
    png = rendering_dir(root, "02828884") / "13.png"
    replace(png, png.read_bytes()[:500])
    assert run(root).exit_code == 0
    result = run(root, "--deep")
    assert result.exit_code == 2 and str(png) in result.stderr


def _absent_model(root: Path) -> str:
    split = json.loads((root / "ShapeNet.json").read_text())
    split[0]["val"] = ["ghost-plane"]
    (root / "ShapeNet.json").write_text(json.dumps(split))
    return str(root / "ShapeNetRendering" / "02691156" / "ghost-plane" / "rendering")


def _truncated_png(root: Path) -> str:
    png = rendering_dir(root, "02958343") / "05.png"
    replace(png, png.read_bytes()[:1000])
    return str(png)


def _short_metadata(root: Path) -> str:
    metadata = rendering_dir(root, "03636649") / "rendering_metadata.txt"
    replace(metadata, b"".join(metadata.read_bytes().splitlines(keepends=True)[:23]))
    return str(metadata)


def _bad_json(root: Path) -> str:
    (root / "ShapeNet.json").write_text('[{"taxonomy_id": "02691156",]')
    return str(root / "ShapeNet.json")


def _no_split_file(root: Path) -> str:
    (root / "ShapeNet.json").unlink()
    return f"{root}: no split file"


@pytest.mark.parametrize(
    "damage, args, expected",
    [
        (lambda root: str(root / "nowhere"), ["nowhere"], "ShapeNet root not found"),
        (_no_split_file, ["."], "expected ShapeNet.json"),
        (_bad_json, ["."], "not valid JSON"),
        (_absent_model, ["."], "not found (model ghost-plane, val split"),
        (lambda root: "available: 02691156 (aeroplane), 02828884 (bench)", [".", "-c", "chair"], "unknown category chair"),
        (lambda root: str(root / "ShapeNet.json"), [".", "--split", "train"], "no models in split train"),
        (_truncated_png, [".", "--deep"], "corrupt or truncated image"),
        (_short_metadata, [".", "--deep"], "23 camera lines for 24 rendered views"),
    ],
    ids=[
        "missing-root", "no-split-file", "bad-json", "absent-model", "unknown-category", "empty-split", "truncated-png", "short-metadata"
    ],
)
def test_errors_exit_2_with_one_line(realdata, tmp_path, damage, args, expected):
    """``damage`` spoils a linked copy of the sample and returns text the error must quote (the file at fault)."""
    root = link_sample(realdata, tmp_path / "root")
    quoted = damage(root)
    result = run(root / args[0], *args[1:])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert quoted in lines[0] and expected in lines[0]


def test_importing_the_cli_and_data_package_does_not_import_torch():
    code = "import sys, mvaug.data, mvaug.cli.data; from mvaug.data import __all__; assert 'torch' not in sys.modules, 'torch'"
    subprocess.run([sys.executable, "-c", code], check=True)
