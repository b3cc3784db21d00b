"""Two ``mvaug reconstruct`` processes writing into one folder at the same time do not disturb each other."""

import os
import subprocess
import sys

from mvaug.recon.reconstruct import run_reconstruct
from tests.conftest import single_thread

SUFFIXES = (".binvox", ".npy", ".obj", ".png")


def test_concurrent_runs_write_the_same_files_as_runs_alone(realdata, tmp_path):
    images = {
        "bench": realdata / "ShapeNetRendering/02828884/sample-bench/rendering/00.png",
        "car": realdata / "ShapeNetRendering/02958343/sample-car/rendering/00.png",
    }
    shared, alone = tmp_path / "shared", tmp_path / "alone"
    shared.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # one thread each, as the runs alone below
    runs = [
        subprocess.Popen([sys.executable, "-m", "mvaug.cli.main", "reconstruct", str(image), "--out", str(shared / name), "--device", "cpu"],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for name, image in images.items()
    ]
    outputs = [run.communicate()[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    with single_thread():
        for name, image in images.items():
            run_reconstruct([image], None, alone / name, device="cpu")
    assert sorted(p.name for p in shared.iterdir()) == sorted(name + suffix for name in images for suffix in SUFFIXES)
    for name in images:
        for suffix in SUFFIXES:
            assert (shared / (name + suffix)).read_bytes() == (alone / (name + suffix)).read_bytes(), name + suffix
