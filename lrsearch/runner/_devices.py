"""Planning worker processes onto devices: a pure function of the options and the machine.

- no ``--device``: ``--workers N`` processes on the study's ``task.device``, CPU threads split between them;
- ``--device cpu``: ``--workers N`` CPU workers (GPUs hidden from them), cores split between them;
- ``--device cuda:0,cuda:2``: one worker per listed GPU, times ``--trials-per-device``; each worker sees only its
  GPU (``CUDA_VISIBLE_DEVICES``), as ``cuda:0``;
- ``--device auto``: every GPU of the machine as above, or CPU workers as with ``cpu`` when there is none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lrsearch.errors import LrsearchError

_CUDA = re.compile(r"^cuda:(\d+)$")


@dataclass(frozen=True)
class WorkerSlot:
    """One worker process: where it trains and how it is pinned."""

    index: int
    device: str | None  # the torch device inside the worker; None: the study's task.device
    threads: int  # torch CPU threads for its trials
    cuda_visible_devices: str | None = None  # value for CUDA_VISIBLE_DEVICES; None: leave the environment alone

    def describe(self) -> str:
        where = self.device or "the study's device"
        if self.cuda_visible_devices:
            where = f"GPU {self.cuda_visible_devices}"
        return f"worker {self.index} on {where}, {self.threads} CPU thread(s)"


def plan_workers(*, workers: int = 1, devices: str | None = None, trials_per_device: int = 1, cpu_count: int,
                 cuda_count: int, spec_threads: int | None = None,
                 cuda_visible_devices: str | None = None) -> list[WorkerSlot]:
    """The worker processes to start. Raises :class:`LrsearchError` naming the option that is wrong.

    ``cuda_visible_devices`` is this process's own ``CUDA_VISIBLE_DEVICES`` (a container's GPU reservation): the
    indices in ``--device`` count the GPUs visible here, and each worker is pinned to the matching entry.
    """
    if workers < 1:
        raise LrsearchError(f"--workers must be >= 1, got {workers}")
    if trials_per_device < 1:
        raise LrsearchError(f"--trials-per-device must be >= 1, got {trials_per_device}")
    if devices is None or not devices.strip():
        return _cpu_slots(workers, None, cpu_count, spec_threads)
    text = devices.strip().lower()
    if text == "cpu":
        return _cpu_slots(workers, "cpu", cpu_count, spec_threads)
    if text == "auto":
        if cuda_count == 0:
            return _cpu_slots(workers, "cpu", cpu_count, spec_threads)
        return _gpu_slots(list(range(cuda_count)), trials_per_device, cpu_count, spec_threads, cuda_visible_devices)
    gpus: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        match = _CUDA.match(part)
        if part == "cuda":
            match = _CUDA.match("cuda:0")
        if not match:
            raise LrsearchError(f"--device: {part!r} is not a device; use auto, cpu, or a list like cuda:0,cuda:1")
        index = int(match.group(1))
        if index >= cuda_count:
            have = f"GPUs cuda:0 to cuda:{cuda_count - 1}" if cuda_count else "no GPU"
            raise LrsearchError(f"--device: {part} does not exist; this machine has {have}")
        if index in gpus:
            raise LrsearchError(f"--device: {part} is listed twice (use --trials-per-device for several trials a GPU)")
        gpus.append(index)
    if workers > 1 and workers != len(gpus) * trials_per_device:
        raise LrsearchError(f"--workers {workers} conflicts with --device {devices}: that is one worker per GPU "
                            f"({len(gpus) * trials_per_device}); leave out --workers")
    return _gpu_slots(gpus, trials_per_device, cpu_count, spec_threads, cuda_visible_devices)


def _cpu_slots(workers: int, device: str | None, cpu_count: int, spec_threads: int | None) -> list[WorkerSlot]:
    threads = spec_threads or max(1, cpu_count // workers)
    # Hide GPUs from workers told to use the CPU, so nothing initialises CUDA there by accident.
    hidden = "" if device == "cpu" else None
    return [WorkerSlot(i, device, threads, hidden) for i in range(workers)]


def _gpu_slots(gpus: list[int], per_device: int, cpu_count: int, spec_threads: int | None,
               cuda_visible_devices: str | None) -> list[WorkerSlot]:
    total = len(gpus) * per_device
    threads = spec_threads or max(1, cpu_count // total)
    visible = [v.strip() for v in (cuda_visible_devices or "").split(",") if v.strip()]
    slots = []
    for gpu in gpus:
        pin = visible[gpu] if gpu < len(visible) else str(gpu)
        for _ in range(per_device):
            slots.append(WorkerSlot(len(slots), "cuda:0", threads, pin))
    return slots


def machine_devices() -> tuple[int, int]:
    """``(CPU cores usable by this process, CUDA devices visible)``; counts GPUs without initialising CUDA here."""
    import os

    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    import torch

    return cpus, torch.cuda.device_count() if torch.cuda.is_available() else 0
