import os
import subprocess
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]


def test_two_cpu_processes_keep_identical_replicas_and_rank_0_writes_the_run(chairs, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29531",
           str(REPO / "tests/recon/ddp_worker.py"), str(chairs), str(tmp_path)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2]
    params = [k for k in ranks[0]["state"] if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    for key in params:
        torch.testing.assert_close(ranks[1]["state"][key], ranks[0]["state"][key], rtol=0, atol=0, msg=key)
    for key in ("decoder.layer1.0.weight", "merger.layer1.0.weight"):  # the merger trains in the second step
        assert not torch.equal(ranks[0]["state"][key], ranks[0]["initial"][key]), key
    assert sorted(p.name for p in (tmp_path / "run/checkpoints").iterdir()) == ["step-000000001.pt", "step-000000002.pt"]
    assert (tmp_path / "run/best.pt").is_file()
    assert len((tmp_path / "run/log.jsonl").read_text().splitlines()) == 4  # two steps and two validations, once
