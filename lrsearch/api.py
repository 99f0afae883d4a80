"""The Python API behind the CLI: pre-flight checks and running a study."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, TextIO

import optuna

from lrsearch.config import StudySpec, load_spec
from lrsearch.errors import GroupError, SpecError, TaskError
from lrsearch.space import SearchSpace, TrialConfig


def as_spec(spec: StudySpec | str | os.PathLike[str]) -> tuple[StudySpec, str | None]:
    if isinstance(spec, StudySpec):
        return spec, None
    return load_spec(spec), str(spec)


def example_config(spec: StudySpec, seed: int = 0) -> TrialConfig:
    """One config of the space (sampled in memory) to build groups with before any trial is stored."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    return SearchSpace(spec).sample(study.ask())


def preflight(spec: StudySpec, source: str | None = None) -> Any:
    """Import the task, build its model on CPU and check group coverage, before anything is written.

    Returns the model (or None for an own-loop task, whose model is built inside the user's function).
    """
    if spec.task.train:
        from lrsearch.tasks import load_entrypoint

        load_entrypoint(spec.task.train)
        return None
    if len(spec.blocks()) > 1:
        raise SpecError([("optimizers", "several optimizers need your own training loop: set task.train to "
                          "'package.module:function' (see the own-loop guide)")], source)
    from lrsearch.groups import build_param_groups
    from lrsearch.tasks import load_task

    task = load_task(spec.task.builtin, spec.task.entrypoint, spec.task.options)
    names = list(getattr(task, "metric_names", []) or [])
    if names and spec.objective.metric not in names:
        raise SpecError([("objective.metric", f"task {task.name!r} records {', '.join(names)}; "
                          f"got {spec.objective.metric!r}")], source)
    try:
        model = task.build_model()
    except Exception as exc:
        raise TaskError(f"task {task.name!r}: building the model failed: {type(exc).__name__}: {exc}") from None
    config = example_config(spec)
    for opt in config.optimizers:
        try:
            build_param_groups(model, opt)
        except GroupError as exc:
            raise GroupError(f"{source + ': ' if source else ''}groups do not fit the model of task {task.name!r}:\n{exc}") from None
    return model


def run_study(spec: StudySpec | str | os.PathLike[str], *, trials: int | None = None, timeout: float | None = None,
              storage: str | None = None, workers: int = 1, devices: str | None = None, trials_per_device: int = 1,
              progress: TextIO | None = sys.stderr, confirm: bool = True) -> tuple[Any, Any]:
    """Create or resume a study and run it to its budget. Returns ``(StudyHandle, RunSummary)``."""
    from lrsearch.runner import open_study, run_here

    spec, source = as_spec(spec)
    if storage:
        from lrsearch.config import resolve_storage

        spec.storage = resolve_storage(storage, Path.cwd())
    preflight(spec, source)
    handle = open_study(spec, spec.storage, create=True, source=source)
    if workers > 1 or devices:
        from lrsearch.runner.workers import run_workers

        summary = run_workers(handle, workers=workers, devices=devices, trials_per_device=trials_per_device,
                              trials=trials, timeout=timeout, progress=progress)
    else:
        summary = run_here(handle, trials=trials, timeout=timeout, progress=progress)
    if confirm and spec.confirm is not None and summary.stopped_by == "budget":
        from lrsearch.results import confirm_top

        confirm_top(handle, top=spec.confirm.top, seeds=spec.confirm.seeds, progress=progress)
    if summary.stopped_by in ("database", "disk full"):
        return handle, summary  # nothing more can be written now
    from lrsearch.dashboard import publish_after_run

    publish_after_run(handle)  # the dashboard's lrsearch panels; warns (never fails) without the extra
    return handle, summary
