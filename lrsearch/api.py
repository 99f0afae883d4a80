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

    Returns the model; for an own-loop task, the model ``task.model`` builds, or None without it (the model is
    then built inside the user's function, and its groups are checked when the first trial runs).
    """
    if spec.task.train:
        from lrsearch.tasks import call_user_code, load_entrypoint
        from lrsearch.training import option_kwargs

        option_kwargs(load_entrypoint(spec.task.train), spec.task.options, "task.train")
        if spec.task.model is None:
            return None
        return _check_own_model(spec, source)
    if len(spec.blocks()) > 1:
        raise SpecError([("optimizers", "several optimizers need your own training loop: set task.train to "
                          "'package.module:function' (see the own-loop guide)")], source)
    from lrsearch.groups import build_param_groups
    from lrsearch.tasks import call_user_code, load_task

    task = load_task(spec.task.builtin, spec.task.entrypoint, spec.task.options)
    names = list(getattr(task, "metric_names", []) or [])
    if names and spec.objective.metric not in names:
        raise SpecError([("objective.metric", f"task {task.name!r} records {', '.join(names)}; "
                          f"got {spec.objective.metric!r}")], source)
    model = call_user_code(f"task {task.name!r}: building the model", task.build_model)
    config = example_config(spec)
    for opt in config.optimizers:
        try:
            build_param_groups(model, opt)
        except GroupError as exc:
            raise GroupError(f"{source + ': ' if source else ''}groups do not fit the model of task {task.name!r}:\n{exc}") from None
    return model


def build_own_model(spec: StudySpec) -> Any:
    """The model of an own loop's ``task.model`` function, called with the ``task.options`` it names.

    It returns one ``nn.Module`` (every optimizer's groups are matched against it) or, for several optimizers,
    a dict of optimizer name -> module (``{"generator": g, "discriminator": d}``).
    """
    from torch import nn

    from lrsearch.tasks import call_user_code, load_entrypoint
    from lrsearch.training import option_kwargs

    assert spec.task.model is not None
    builder = load_entrypoint(spec.task.model, "task.model")
    accepted = _accepted_options(builder, spec.task.options)
    kwargs = option_kwargs(builder, accepted, "task.model", skip=0)
    model = call_user_code(f"task.model {spec.task.model}: building the model", lambda: builder(**kwargs))
    keys = [key for key, _ in spec.blocks()]
    if isinstance(model, nn.Module):
        return {key: model for key in keys}
    if isinstance(model, dict) and all(isinstance(m, nn.Module) for m in model.values()):
        missing = [k for k in keys if k not in model]
        if missing:
            raise TaskError(f"task.model {spec.task.model} returned modules for {', '.join(map(str, model)) or 'none'}"
                            f"; the study's optimizers are {', '.join(keys)} (missing: {', '.join(missing)})")
        return model
    raise TaskError(f"task.model {spec.task.model} returned {type(model).__name__}; return an nn.Module, or a dict "
                    f"of optimizer name -> nn.Module ({', '.join(keys)})")


def _accepted_options(fn: Any, options: dict[str, Any]) -> dict[str, Any]:
    """The options ``fn`` names (a model builder takes the model's options, not the training loop's)."""
    import inspect

    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return {}
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return dict(options)
    return {k: v for k, v in options.items() if k in params}


def _check_own_model(spec: StudySpec, source: str | None) -> dict[str, Any]:
    from lrsearch.groups import build_param_groups

    models = build_own_model(spec)
    config = example_config(spec)
    for opt in config.optimizers:
        try:
            build_param_groups(models[opt.key], opt)
        except GroupError as exc:
            which = f" (optimizer {opt.key!r})" if len(config.optimizers) > 1 else ""
            raise GroupError(f"{source + ': ' if source else ''}groups do not fit the model of task.model "
                             f"{spec.task.model}{which}:\n{exc}") from None
    return models


def load_study(storage: str, name: str) -> optuna.Study:
    """The Optuna study ``name`` in ``storage``, with the sampler and pruner of the spec it was created with.

    For people who continue in plain Optuna (``study.optimize``, ``optuna.visualization``, their own ask/tell):
    the sampler's seed and options and the pruner (``by_shape`` included) are the study's, not Optuna's defaults.
    A relative SQLite path is relative to the working directory; the study's plugins are imported.

    Raises:
        StorageError: No such storage, or no lrsearch study of that name in it (the message lists those there).
    """
    from lrsearch.config import resolve_storage
    from lrsearch.runner import open_stored_study
    from lrsearch.storage import check_storage

    url = resolve_storage(storage, Path.cwd())
    check_storage(url, create=False)
    return open_stored_study(url, name).study


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
    from lrsearch.dashboard import publish_after_run

    publish_after_run(handle)  # the dashboard's lrsearch panels; warns (never fails) without the extra
    return handle, summary
