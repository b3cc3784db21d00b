"""A training run's ``log.jsonl`` (one JSON object per logged step) and the check that stops a diverged run.

A NaN or infinite loss is an error, not a result: the step that produced it stops the run before its
weights reach a checkpoint, and the log only ever holds valid JSON (``NaN`` is not JSON).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping

from mvaug.errors import MvaugError


class TrainingDiverged(MvaugError):
    """A loss became NaN or infinite; the message names the loss, the step and what to try."""


def require_finite_losses(losses: Mapping, step: int, run_dir: str | os.PathLike) -> None:
    """Raise :class:`TrainingDiverged` when any of ``losses`` (name -> scalar tensor or float) is not finite."""
    for name, value in losses.items():
        number = float(value.detach()) if hasattr(value, "detach") else float(value)
        if not math.isfinite(number):
            raise TrainingDiverged(
                f"training diverged: loss '{name}' is {number} at step {step}; lower the learning rates (optim.*) "
                "or resume from an earlier checkpoint",
                run_dir,
            )


def append_log_record(path: str | os.PathLike, record: Mapping) -> None:
    """Append ``record`` as one line of strict JSON (a non-finite number raises :class:`TrainingDiverged`)."""
    try:
        line = json.dumps(record, allow_nan=False)
    except ValueError:
        bad = sorted(k for k, v in record.items() if isinstance(v, float) and not math.isfinite(v))
        raise TrainingDiverged(f"training diverged: {', '.join(bad)} not finite at step {record.get('step')}", os.path.dirname(path)) from None
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
