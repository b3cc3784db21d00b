"""log.jsonl records and the divergence check."""

import json
import math

import pytest
import torch

from mvaug.engine.run_log import TrainingDiverged, append_log_record, require_finite_losses


def test_finite_losses_pass_and_each_non_finite_kind_is_named(tmp_path):
    require_finite_losses({"total": torch.tensor(1.5), "ib": 0.25}, 3, tmp_path)
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(TrainingDiverged, match=rf"loss 'ib' is {bad} at step 7") as info:
            require_finite_losses({"total": torch.tensor(1.0), "ib": torch.tensor(bad)}, 7, tmp_path)
        assert info.value.path == str(tmp_path)


def test_records_are_strict_json_lines_and_a_nan_record_is_refused_unwritten(tmp_path):
    log = tmp_path / "log.jsonl"
    append_log_record(log, {"step": 1, "total": 0.5, "recon_loss": "l1"})
    append_log_record(log, {"step": 2, "total": 0.25})
    with pytest.raises(TrainingDiverged, match="total not finite at step 3"):
        append_log_record(log, {"step": 3, "total": math.nan})
    assert [json.loads(line)["step"] for line in log.read_text().splitlines()] == [1, 2]
