"""The GPU paths on a real CUDA device: bf16 autocast, workers pinned to devices, a real out-of-memory trial, and
``--trials-per-device K`` for K = 1, 2, 4. Skipped where torch sees no CUDA device.

1. Pinning and autocast: 2 worker processes (one per GPU on a machine with two or more; else 2 on GPU 0) run a
   study of the digits CNN through ``run_workers``; each trial's first forward pass logs the GPU's UUID,
   ``CUDA_VISIBLE_DEVICES``, and the autocast state and output dtype (``_gpu_task``). Checked: every trial ran
   under bf16 autocast with bf16 outputs, and the workers ran on as many distinct GPUs as were asked for.
2. Out of memory: trial 1 allocates twice the GPU's memory (torch's real ``OutOfMemoryError``). Checked: it is
   failed as ``oom``, its config is not queued again, the worker process is replaced (the next trials run in
   another process), and the study still reaches its budget.
3. Trials per device: the same study (digits CNN, 3 epochs, no pruning) with K = 1, 2, 4 worker processes on
   GPU 0; trials/hour between the first and the last completion, and the ratio against K = 1 in the same run.
   Target: K = 4 >= 2x K = 1 (a small model leaves most of a GPU idle).
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks._common import Result, Skip

TITLE = "GPU paths on a CUDA device: bf16 autocast, pinning, a real OOM, trials per device"
DEFAULT = False
TARGET_K4 = 2.0
_CHECK = re.compile(r"gpu-check: trial=(\d+) visible=(\S*) uuid=(\S+) autocast=(\w+) autocast_dtype=(\S+) "
                    r"out_dtype=(\S+)")


def _spec(name: str, url: str, trials: int, epochs: int, options: dict[str, Any]) -> Any:
    from lrsearch.config import parse_spec

    return parse_spec({
        "name": name, "storage": url,
        "objective": {"metric": "val_accuracy", "direction": "maximize"},
        "budget": {"trials": trials, "epochs": epochs},
        "sampler": {"name": "tpe", "seed": 0},
        "pruner": {"name": "none"},
        "task": {"entrypoint": "benchmarks.suites._gpu_task:build", "options": options, "device": "cuda",
                 "batch_size": 64},
        "optimizer": {"name": "sgd"},
        "groups": [
            {"name": "head", "params": ["head.*"], "lr": {"low": 1e-3, "high": 0.3, "log": True}},
            {"name": "backbone", "rest": True, "lr": {"low": 1e-3, "high": 0.3, "log": True},
             "momentum": {"low": 0.8, "high": 0.95}},
        ],
    })


def _study(tmp: Path, label: str, trials: int, epochs: int, options: dict[str, Any]) -> Any:
    from lrsearch.runner import open_study

    url = f"sqlite:///{tmp / f'{label}-{uuid.uuid4().hex[:6]}.db'}"
    return open_study(_spec(label, url, trials, epochs, options), url)


def _trials(handle: Any) -> list[dict[str, Any]]:
    import sqlalchemy as sa

    with handle.store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT trial_number, worker, device, fail_reason, log_path FROM lrsearch_trials "
                                    "WHERE study_name = :s ORDER BY trial_number"), {"s": handle.name}).mappings()
        return [dict(r) for r in rows]


def _checks(records: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    found = []
    for record in records:
        path = Path(record["log_path"] or "")
        if path.is_file():
            found += _CHECK.findall(path.read_text(errors="replace"))
    return found


def pinning_and_autocast(tmp: Path, gpus: int, quick: bool) -> dict[str, Any]:
    from lrsearch.runner.workers import run_workers

    devices = "cuda:0,cuda:1" if gpus >= 2 else "cuda:0"
    per_device = 1 if gpus >= 2 else 2
    handle = _study(tmp, "pin", 4 if quick else 8, 2, {})
    summary = run_workers(handle, devices=devices, trials_per_device=per_device, progress=None, log_dir=tmp / "logs")
    checks = _checks(_trials(handle))
    uuids = {c[2] for c in checks}
    bf16 = bool(checks) and all(c[3] == "True" and c[4] == "torch.bfloat16" and c[5] == "torch.bfloat16"
                                for c in checks)
    wanted = 2 if gpus >= 2 else 1
    return {"check": "2 workers pinned, bf16 autocast", "setting": f"--devices {devices} --trials-per-device "
            f"{per_device}", "result": f"{summary.count('COMPLETE')} complete; {len(checks)} trials logged, "
            f"autocast bf16 in all: {bf16}; GPUs used: {len(uuids)} ({', '.join(sorted({c[1] for c in checks}))} "
            "visible)", "ok": bf16 and len(uuids) == wanted and summary.stopped_by == "budget"}


def out_of_memory(tmp: Path) -> dict[str, Any]:
    import optuna

    from lrsearch.runner.workers import run_workers

    handle = _study(tmp, "oom", 4, 2, {"oom_trials": [1]})
    summary = run_workers(handle, devices="cuda:0", progress=None, log_dir=tmp / "logs")
    records = {r["trial_number"]: r for r in _trials(handle)}
    frozen = handle.study.get_trials(deepcopy=False)
    retried = [t.number for t in frozen if t.user_attrs.get("retry_of") == 1]
    complete = sum(t.state == optuna.trial.TrialState.COMPLETE for t in frozen)
    oom = records.get(1, {}).get("fail_reason")
    later = [r["worker"] for n, r in records.items() if n > 1]
    replaced = bool(later) and records.get(1, {}).get("worker") not in later
    return {"check": "a real CUDA OOM", "setting": "trial 1 allocates 2x the GPU's memory",
            "result": f"trial 1 failed as {oom!r}; retried: {bool(retried)}; worker replaced: {replaced}; "
                      f"{complete} complete of a budget of 4", "ok": oom == "oom" and not retried and replaced
            and complete == 4 and summary.stopped_by == "budget"}


def trials_per_device(tmp: Path, quick: bool) -> list[dict[str, Any]]:
    from lrsearch.runner.workers import run_workers

    trials = 8 if quick else 32
    rows, base = [], None
    for k in (1, 2, 4):
        handle = _study(tmp, f"k{k}", trials, 3, {})
        started = time.monotonic()
        summary = run_workers(handle, devices="cuda:0", trials_per_device=k, progress=None, log_dir=tmp / "logs")
        wall = time.monotonic() - started
        done = sorted(t.datetime_complete for t in handle.study.get_trials(deepcopy=False) if t.datetime_complete)
        per_hour = (len(done) - 1) / (done[-1] - done[0]).total_seconds() * 3600
        base = base or per_hour
        ratio = per_hour / base
        rows.append({"check": f"--trials-per-device {k}", "setting": f"{trials} trials x 3 epochs, digits CNN",
                     "result": f"{per_hour:.0f} trials/hour (steady), {trials / wall * 3600:.0f} with start-up; "
                               f"{ratio:.2f}x K=1", "ok": (ratio >= TARGET_K4 if k == 4 else None)
                     if summary.stopped_by == "budget" else False})
    return rows


def run(quick: bool = False) -> Result:
    import torch

    if not torch.cuda.is_available():
        raise Skip(f"no CUDA device here (torch {torch.__version__}, torch.cuda.is_available() is False); run "
                   "`python -m benchmarks.run gpu` on a machine with an NVIDIA GPU and a CUDA build of torch")
    if str(Path.cwd()) not in sys.path:
        sys.path.append(str(Path.cwd()))  # the worker processes import benchmarks.suites._gpu_task from here
    gpus = torch.cuda.device_count()
    with tempfile.TemporaryDirectory(prefix="lrsearch-gpu-") as tmp:
        rows = [pinning_and_autocast(Path(tmp), gpus, quick), out_of_memory(Path(tmp))]
        rows += trials_per_device(Path(tmp), quick)
    names = ", ".join(torch.cuda.get_device_name(i) for i in range(gpus))
    return Result("gpu", TITLE, rows, notes=[f"{gpus} CUDA device(s): {names}; torch {torch.__version__}; "
                                             f"target: K=4 >= {TARGET_K4}x the trials/hour of K=1"], seeds=[0])
