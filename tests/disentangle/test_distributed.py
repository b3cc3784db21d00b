import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("adversarial_weight", [0.0, 0.5])
def test_two_cpu_processes_keep_identical_replicas_and_update_every_batched_embedding(adversarial_weight, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    port = "29517" if adversarial_weight == 0 else "29518"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", port,
           str(REPO / "tests/disentangle/ddp_worker.py"), str(tmp_path), str(adversarial_weight)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2]
    for part in ("state", "discriminator"):  # D (when there is one) stays identical across ranks as well
        for key, value in ranks[0][part].items():
            torch.testing.assert_close(ranks[1][part][key], value, rtol=0, atol=0, msg=key)
    assert bool(ranks[0]["discriminator"]) == (adversarial_weight > 0)
    seen = ranks[0]["seen"]
    for table in ("style", "content"):
        after = ranks[0]["state"][f"{table}.weight"]
        before = ranks[0]["initial"][table]
        moved = (after - before).abs().sum(1) > 0
        assert moved[seen].all(), f"{table}: an embedding that was in a batch did not move"
    assert (tmp_path / "run/checkpoints/step-000000004.pt").is_file()  # written once, by rank 0
    assert len(list((tmp_path / "run").glob("log.jsonl"))) == 1
