"""scripts/train_defaults.py: a damaged record of finished stages is one line naming the file, not a traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

from mvaug.builtin.defaults import train_defaults
from mvaug.errors import DataError

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "train_defaults.py"


@pytest.mark.parametrize("text", ['{"chair-data": 12.5', '["chair-data"]', '{"chair-data": "done"}'])
def test_a_damaged_stage_record_is_refused_naming_it(tmp_path, text):
    (tmp_path / "stages.json").write_text(text)
    with pytest.raises(DataError, match="not a record of finished stages") as caught:
        train_defaults(tmp_path, tmp_path / "assets", tiny=True, workers=1, device="cpu", progress=False)
    assert caught.value.path == str(tmp_path / "stages.json")
    assert not (tmp_path / "assets").exists()


def test_the_script_says_it_in_one_line_and_exits_2(tmp_path):
    (tmp_path / "stages.json").write_text("{not json")
    done = subprocess.run([sys.executable, str(SCRIPT), "--work", str(tmp_path), "--assets", str(tmp_path / "assets"), "--tiny", "--quiet"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(tmp_path / "stages.json") in lines[0] and "Traceback" not in done.stderr
