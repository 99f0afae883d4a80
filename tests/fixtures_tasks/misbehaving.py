"""A digits task whose model misbehaves in chosen trials: raises, produces NaN, runs out of (simulated) CUDA
memory, hangs, is slow, or segfaults its process.

``task.options.failures`` maps a trial number (as a string) to a mode. The managed loop seeds torch with
``task.seed + trial number`` right before it builds the model, so the model knows which trial it serves; a
retried config gets a new trial number and trains normally.
"""

from __future__ import annotations

import os
import signal
import sys
import time

import torch
from torch import Tensor, nn

from lrsearch.tasks import Task
from lrsearch.tasks._digits import DigitsCNN, digits

MODES = ("raise", "nan", "oom", "segfault", "hang", "slow", "print", "ctrl_c_in_gc")


class _CtrlCWhenCollected:
    """Sends this process SIGINT from ``__del__``: Python runs the handler right there, inside the finaliser, and
    drops the KeyboardInterrupt it raises ("Exception ignored in ..."), as happens when a Ctrl-C lands while the
    garbage collector runs."""

    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000):  # a backward jump: the pending handler runs here, inside __del__
            pass


class Misbehaving(nn.Module):
    def __init__(self, mode: str | None, trial: int) -> None:
        super().__init__()
        cnn = DigitsCNN(width=4)
        self.backbone, self.head = cnn.backbone, cnn.head
        self.mode, self.trial, self.calls = mode, trial, 0

    def forward(self, x: Tensor) -> Tensor:
        self.calls += 1
        if self.calls == 1:
            print(f"fixture: trial {self.trial} starts in mode {self.mode}", flush=True)
            print(f"fixture: stderr of trial {self.trial}", file=sys.stderr, flush=True)
        mode = self.mode if self.training else None
        if mode == "raise":
            raise RuntimeError(f"fixture: trial {self.trial} raises on purpose")
        if mode == "oom":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB (fixture)")
        if mode == "segfault":
            os.kill(os.getpid(), signal.SIGSEGV)
        if mode == "hang":
            time.sleep(3600)
        if mode == "ctrl_c_in_gc" and self.calls == 20:
            _CtrlCWhenCollected()  # collected at once
        if mode == "slow":
            time.sleep(0.5)
        out = self.head(self.backbone(x))
        return out * float("nan") if mode == "nan" else out


def build(failures: dict[str, str] | None = None) -> Task:
    failures = {str(k): v for k, v in (failures or {}).items()}
    unknown = sorted(set(failures.values()) - set(MODES))
    if unknown:
        raise ValueError(f"unknown failure modes {unknown}; known: {MODES}")
    base = digits(width=4)

    def build_model() -> nn.Module:
        trial = torch.initial_seed()  # seeded with task.seed (0) + the trial number just before this call
        return Misbehaving(failures.get(str(trial)), trial)

    return Task(name="misbehaving", build_model=build_model, train=base.train, val=base.val, test=base.test)
