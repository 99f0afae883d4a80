"""Human-readable summaries of trial configs and of a finished run."""

from __future__ import annotations

import optuna

from lrsearch.runner._run import RunSummary
from lrsearch.runner._study import FINISHED, StudyHandle
from lrsearch.space import TrialConfig
from lrsearch.storage import redact, retrying


def describe_config(config: TrialConfig) -> list[str]:
    """One line per group: optimizer, lr, momentum/betas, weight decay, freezing and schedule."""
    lines = []
    for opt in config.optimizers:
        prefix = "" if opt.key == "main" else f"{opt.key}: "
        lines.append(f"{prefix}optimizer {opt.name}" + (f" {opt.options}" if opt.options else ""))
        for g in opt.groups:
            parts = [f"lr {g.lr:.3g}"]
            if g.layer_decay is not None:
                parts.append(f"layer decay {g.layer_decay:.3g}")
            if g.momentum is not None:
                parts.append(f"momentum {g.momentum:.3g}")
            if g.betas is not None:
                parts.append(f"betas ({g.betas[0]:.3g}, {g.betas[1]:.3g})")
            parts.append(f"weight decay {g.weight_decay:.3g}")
            if g.freeze_epochs:
                parts.append(f"frozen {g.freeze_epochs} epoch(s)")
            s = g.schedule
            shape = s.shape + ("(" + ", ".join(f"{k}={_fmt(v)}" for k, v in s.params.items()) + ")" if s.params else "")
            if s.warmup:
                shape += f" after {s.warmup:.0%} warmup"
            if s.momentum == "inverse" and (g.momentum is not None or g.betas is not None):
                shape += f", momentum cycled down to {s.momentum_base:.3g}"
            parts.append(f"schedule {shape}")
            lines.append(f"  {g.name:<12} " + ", ".join(parts))
    return lines


def _fmt(v: object) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def describe_run(handle: StudyHandle, summary: RunSummary) -> str:
    """What the run did and the study's best trial so far (waiting out a database outage to read them)."""
    return retrying(lambda: _describe_run(handle, summary), what="summarising the run", url=handle.url)


# A run that stopped for one of these did not do what it was asked: it exits 1.
FAILED_STOPS = ("failures", "repeated error", "database", "disk full")


def verdict(handle: StudyHandle, summary: RunSummary) -> tuple[int, str | None]:
    """The exit code of a run and, when it is not 0, why: 130 interrupted (Ctrl-C, SIGTERM); 1 stopped by
    failures, a repeated error, the database or a full disk, or no completed trial in the study at all."""
    if summary.stopped_by == "interrupted":
        return 130, None
    if summary.stopped_by in FAILED_STOPS:
        return 1, f"the run stopped early ({summary.stopped_by}); see above"
    complete = retrying(lambda: handle.counts()["COMPLETE"], what="counting trials", url=handle.url)
    if complete == 0:
        failed = summary.count("FAIL")
        return 1, (f"no trial of study {handle.name!r} has completed ({failed} failed in this run): there is no "
                   "result. Each failure above names its error and its log")
    return 0, None


def _describe_run(handle: StudyHandle, summary: RunSummary) -> str:
    counts = handle.counts()
    here = (f"this run: {summary.count('COMPLETE')} complete, {summary.count('PRUNED')} pruned, "
            f"{summary.count('FAIL')} failed in {summary.seconds:.1f}s")
    lines = [
        f"study {handle.name!r} in {redact(handle.url)}",
        f"  {here}" + ("" if summary.stopped_by == "budget" else f" (stopped: {summary.stopped_by})"),
        f"  in total: {counts['COMPLETE']} complete, {counts['PRUNED']} pruned, {counts['FAIL']} failed",
    ]
    lines += [f"  {note}" for note in summary.notes]
    if not summary.outcomes and summary.stopped_by == "budget":
        total, done = handle.spec.budget.trials, counts["COMPLETE"] + counts["PRUNED"]
        lines.append(f"  nothing to run: the study's budget of {total} finished trials was reached already; raise "
                     f"budget.trials in the study file, or pass --trials N with N > {done}" if total else
                     "  nothing to run: the study's budget was reached already")
    best, foreign = best_and_foreign(handle)
    if foreign:
        lines.append(f"  {len(foreign)} finished trial(s) not run by lrsearch (added with plain Optuna: "
                     f"{_numbers(foreign)}) are left out of the best trial")
    if best is None:
        lines.append("  no trial has completed yet")
        return "\n".join(lines)
    lines.append(f"best trial #{best.number}: {handle.spec.objective.metric} = {best.value:.4f}")
    config = handle.space.config_from_params(best.params, trial_number=best.number)
    lines += describe_config(config)
    return "\n".join(lines)


def best_own_trial(handle: StudyHandle) -> optuna.trial.FrozenTrial | None:
    """The best COMPLETE trial lrsearch ran (trials added to the study by plain Optuna have no config to show)."""
    return best_and_foreign(handle)[0]


def best_and_foreign(handle: StudyHandle) -> tuple[optuna.trial.FrozenTrial | None, list[int]]:
    """The best trial lrsearch ran, and the numbers of finished trials it did not run (plain ``study.optimize``)."""
    finished = handle.study.get_trials(deepcopy=False, states=FINISHED)
    ours = handle.store.trial_numbers(handle.name)
    foreign = sorted(t.number for t in finished if t.number not in ours)
    complete = [t for t in finished if t.number in ours and t.state == optuna.trial.TrialState.COMPLETE
                and t.value is not None]
    if not complete:
        return None, foreign
    pick = max if handle.study.direction == optuna.study.StudyDirection.MAXIMIZE else min
    return pick(complete, key=lambda t: t.value), foreign


def _numbers(numbers: list[int]) -> str:
    shown = ", ".join(f"#{n}" for n in numbers[:10])
    return shown + (f" and {len(numbers) - 10} more" if len(numbers) > 10 else "")
