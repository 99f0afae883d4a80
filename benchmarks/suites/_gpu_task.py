"""The task of the GPU suite: the digits CNN, wrapped to report what its trial ran on and to run out of GPU
memory for real in chosen trials.

On the first training forward pass of a trial it prints one ``gpu-check`` line to the trial's log: the trial
number, ``CUDA_VISIBLE_DEVICES``, the UUID of the GPU it runs on, whether autocast is on and in which dtype, and
the dtype of its output. In the trials listed in ``oom_trials`` it then allocates twice the GPU's memory, which
raises torch's real ``OutOfMemoryError``.
"""

from __future__ import annotations

import os

import torch
from torch import Tensor, nn

from lrsearch.tasks import Task
from lrsearch.tasks._digits import DigitsCNN, digits


class _Probe(nn.Module):
    def __init__(self, trial: int, oom: bool, width: int) -> None:
        super().__init__()
        cnn = DigitsCNN(width=width)
        self.backbone, self.head = cnn.backbone, cnn.head
        self.trial, self.oom, self.reported = trial, oom, False

    def forward(self, x: Tensor) -> Tensor:
        out = self.head(self.backbone(x))
        if self.training and not self.reported:
            self.reported = True
            props = torch.cuda.get_device_properties(x.device) if x.is_cuda else None
            print(f"gpu-check: trial={self.trial} visible={os.environ.get('CUDA_VISIBLE_DEVICES', '')} "
                  f"uuid={getattr(props, 'uuid', 'cpu')} autocast={torch.is_autocast_enabled(x.device.type)} "
                  f"autocast_dtype={torch.get_autocast_dtype(x.device.type)} out_dtype={out.dtype}", flush=True)
            if self.oom and props is not None:
                torch.empty(2 * props.total_memory, dtype=torch.uint8, device=x.device)
        return out


def build(oom_trials: list[int] | None = None, width: int = 16) -> Task:
    base = digits(width=width)
    failing = set(oom_trials or [])

    def build_model() -> nn.Module:
        trial = torch.initial_seed()  # seeded with task.seed (0) + the trial number just before this call
        return _Probe(trial, trial in failing, width)

    return Task(name="gpu-probe", build_model=build_model, train=base.train, val=base.val, test=base.test)
