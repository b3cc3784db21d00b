"""A training run's folder: ``config.yaml``, ``log.jsonl``, ``checkpoints/``, ``samples/`` and the finished model.

RUN/config.yaml                      the resolved config (rewritten on resume with new --set values)
RUN/log.jsonl                        one strict-JSON line per logged step (:mod:`mvaug.engine.run_log`)
RUN/checkpoints/<prefix><step>.pt    the latest KEEP_CHECKPOINTS checkpoints of each kind
RUN/samples/                         pictures written while training
RUN/model.pt                         the finished model (a disentangler run)
RUN/best.pt                          the network with the best validation metric (a reconstructor run)
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mvaug.config import save_config
from mvaug.errors import DataError

KEEP_CHECKPOINTS = 3
log = logging.getLogger(__name__)


def _in_run(name: str) -> property:
    """A read-only attribute: the path ``name`` in the run folder (the module docstring lists them)."""
    return property(lambda paths: paths.root / name, doc=f"RUN/{name}")


@dataclass
class RunPaths:
    root: Path
    created: Path | None = None  # the outermost folder start() made (the root or a parent of it), if any

    checkpoints = _in_run("checkpoints")
    samples = _in_run("samples")
    config = _in_run("config.yaml")
    log = _in_run("log.jsonl")
    model = _in_run("model.pt")
    best = _in_run("best.pt")

    def latest_checkpoint(self, prefix: str = "step-") -> Path | None:
        found = sorted(self.checkpoints.glob(f"{prefix}*.pt"))
        return found[-1] if found else None

    def start(self, config, resume: bool, restore_latest: Callable[[], bool], is_main: bool = True, occupied: bool = False) -> None:
        """Open the run folder for a trainer: with ``resume``, ``restore_latest()`` loads its latest checkpoint;
        otherwise a folder that already holds a run (a checkpoint, or ``occupied``) is refused. Either way the
        resolved ``config`` is written beside the checkpoints (on resume it may carry new ``--set`` values,
        e.g. a longer schedule, which a later resume must read back)."""
        if not (resume and restore_latest()):
            if occupied or self.latest_checkpoint() is not None:
                raise DataError("run folder already holds a run; pass --resume to continue it, or choose another folder", self.root)
            if resume and is_main:  # e.g. interrupted before its first checkpoint: said, so that a lost checkpoint is noticed
                log.warning("%s: no checkpoint to resume from; a new run starts", self.root)
        if is_main:
            missing = [p for p in (self.root, *self.root.parents) if not p.exists()]
            self.created = missing[-1] if missing else None
            self.root.mkdir(parents=True, exist_ok=True)
            save_config(config, self.config)

    @contextlib.contextmanager
    def removed_on_early_failure(self) -> Iterator[None]:
        """Training in this block: if it fails before the first checkpoint of a folder that :meth:`start`
        created, the folder goes again (it holds no run, only the config and the first log lines)."""
        try:
            yield
        except BaseException:
            if self.created is not None and not self.model.exists() and not any(self.checkpoints.glob("*.pt")):
                shutil.rmtree(self.created, ignore_errors=True)
            raise
