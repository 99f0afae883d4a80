"""``lrsearch validate | space | schedules | tasks``: look before you run."""

from __future__ import annotations

import argparse
import json
from typing import Any

from lrsearch.cli._common import add_study_source, print_json, quiet_optuna, study_spec
from lrsearch.cli._options import add
from lrsearch.text import table_lines


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check a study spec (and with --model, the groups against the model)",
                       description="Check a study file (or the spec stored with a study) completely: every "
                                   "problem is listed, by field, with exit code 2.")
    add_study_source(p)
    add(p, "model")
    add(p, "json", help="print the summary as JSON on stdout")
    p.set_defaults(func=validate)

    p = sub.add_parser("space", help="print every search dimension: name, distribution, condition",
                       description="Every search dimension of a study: its stable name (the export column and "
                                   "dashboard label), its Optuna distribution and when it is active.")
    add_study_source(p)
    add(p, "json", help="print the dimensions as JSON on stdout")
    p.set_defaults(func=space)

    p = sub.add_parser("schedules", help="list the schedule shapes and their parameters")
    p.set_defaults(func=schedules)

    p = sub.add_parser("tasks", help="list the builtin tasks and their options")
    p.set_defaults(func=tasks)


def validate(args: argparse.Namespace) -> int:
    from lrsearch.api import preflight
    from lrsearch.space import SearchSpace
    from lrsearch.storage import redact

    quiet_optuna()
    spec, source = study_spec(args)
    dims = SearchSpace(spec).dimensions()
    groups = [g.name for _, b in spec.blocks() for g in b.groups]
    task = spec.task.builtin or spec.task.entrypoint or spec.task.train
    model = preflight(spec, source) if args.model else None
    if not args.model and spec.task.entrypoint:
        from lrsearch.tasks import load_entrypoint

        load_entrypoint(spec.task.entrypoint, "task.entrypoint")
    elif not args.model and spec.task.train:
        from lrsearch.tasks import load_entrypoint
        from lrsearch.training import option_kwargs

        option_kwargs(load_entrypoint(spec.task.train, "task.train"), spec.task.options, "task.train")
    if args.json:
        print_json({
            "source": source, "valid": True, "study": spec.name, "storage": redact(spec.storage or ""),
            "task": task, "objective": {"metric": spec.objective.metric, "direction": spec.objective.direction},
            "epochs": spec.budget.epochs, "trials": spec.budget.trials, "timeout_s": spec.budget.timeout,
            "groups": groups, "dimensions": [d.name for d in dims],
            "sampler": spec.sampler.name, "pruner": spec.pruner.name,
        })
        return 0
    print(f"{source}: valid")
    print(f"  study {spec.name!r}, storage {redact(spec.storage or '')}")
    print(f"  task {task}, objective {spec.objective.direction} {spec.objective.metric}, "
          f"{spec.budget.epochs} epochs a trial, budget {_budget(spec)}")
    print(f"  {len(groups)} group(s): {', '.join(groups)}; {len(dims)} searched dimension(s)")
    for line in _optimizer_lines(spec):
        print("  " + line)
    print(f"  sampler {spec.sampler.name}{_options(spec.sampler.options)}, pruner {spec.pruner.name}"
          f"{_options(spec.pruner.options)}")
    if spec.plugins:
        print(f"  plugins imported: {', '.join(spec.plugins)}")
    if spec.trackers:
        from lrsearch.trackers import get_tracker

        entries = [get_tracker(t.name) for t in spec.trackers]
        print(f"  trackers: {', '.join(e.describe() for e in entries if e is not None)}")
    if args.model:
        if model is None:
            print("  own training loop: the model is built inside task.train; its groups are checked when the first "
                  "trial runs (set task.model to 'module:function' building the model to check them now)")
        else:
            from lrsearch.api import example_config
            from lrsearch.groups import describe_groups

            config = example_config(spec)
            models = model if isinstance(model, dict) else {opt.key: model for opt in config.optimizers}
            where = f"task.model {spec.task.model}" if spec.task.train else f"task {task}"
            print(f"  groups cover the model of {where} exactly once:")
            for opt in config.optimizers:
                if len(config.optimizers) > 1:
                    print(f"    optimizer {opt.key}:")
                for line in describe_groups(models[opt.key], opt).splitlines():
                    print("    " + line)
            if not isinstance(model, dict):
                # A Keras model: each Keras name (what the patterns match) and its torch parameter.
                from lrsearch.keras import describe_names

                for line in describe_names(model).splitlines():
                    print("    " + line)
    return 0


def _optimizer_lines(spec) -> list[str]:
    """Each optimizer the study may build, with what it can take per group (momentum, betas) and its options."""
    from lrsearch.optim import capabilities, get_optimizer_info

    lines = []
    many = len(spec.blocks()) > 1
    for key, block in spec.blocks():
        for name in dict.fromkeys(str(v) for v in block.name.values()):
            lines.append(("optimizer " + (f"{key}: " if many else "")) + capabilities(get_optimizer_info(name)))
    return lines


def _budget(spec) -> str:
    parts = []
    if spec.budget.trials:
        parts.append(f"{spec.budget.trials} trials")
    if spec.budget.timeout:
        parts.append(f"{spec.budget.timeout:g}s")
    return " or ".join(parts)


def space(args: argparse.Namespace) -> int:
    from lrsearch.space import SearchSpace

    quiet_optuna()
    spec, _ = study_spec(args)
    dims = SearchSpace(spec).dimensions()
    if args.json:
        import optuna

        print_json([{"name": d.name, "distribution": d.describe(), "condition": d.condition,
                     "optuna": json.loads(optuna.distributions.distribution_to_json(d.distribution))} for d in dims])
        return 0
    rows = [(d.name, d.describe(), d.condition or "always") for d in dims]
    print("\n".join(table_lines(rows, header=("dimension", "distribution", "active when"))))
    conditional = sum(1 for d in dims if d.condition)
    print(f"{len(dims)} dimensions ({len(dims) - conditional} always active, {conditional} conditional)")
    from lrsearch.search import describe_search

    print()
    print(describe_search(spec))
    return 0


def schedules(args: argparse.Namespace) -> int:
    from lrsearch.schedules import describe_shapes

    print(describe_shapes())
    return 0


def tasks(args: argparse.Namespace) -> int:
    from lrsearch.tasks import describe_tasks

    print(describe_tasks())
    return 0


def _options(options: dict[str, Any]) -> str:
    return f" ({', '.join(f'{k}={v}' for k, v in options.items())})" if options else ""
