"""``lrsearch validate | space | schedules | tasks``: look before you run."""

from __future__ import annotations

import argparse

from lrsearch.cli._common import quiet_optuna


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check a study spec (and with --model, the groups against the model)")
    p.add_argument("spec", metavar="STUDY.yaml")
    p.add_argument("--model", action="store_true", help="also build the task's model on CPU and check group coverage")
    p.set_defaults(func=validate)

    p = sub.add_parser("space", help="print every search dimension: name, distribution, condition")
    p.add_argument("spec", metavar="STUDY.yaml")
    p.set_defaults(func=space)

    p = sub.add_parser("schedules", help="list the schedule shapes and their parameters")
    p.set_defaults(func=schedules)

    p = sub.add_parser("tasks", help="list the builtin tasks and their options")
    p.set_defaults(func=tasks)


def validate(args: argparse.Namespace) -> int:
    from lrsearch.api import preflight
    from lrsearch.config import load_spec
    from lrsearch.space import SearchSpace
    from lrsearch.storage import redact

    quiet_optuna()
    spec = load_spec(args.spec)
    dims = SearchSpace(spec).dimensions()
    groups = [g.name for _, b in spec.blocks() for g in b.groups]
    task = spec.task.builtin or spec.task.entrypoint or spec.task.train
    model = preflight(spec, args.spec) if args.model else None
    if not args.model and (spec.task.entrypoint or spec.task.train):
        from lrsearch.tasks import load_entrypoint

        ref = spec.task.entrypoint or spec.task.train
        load_entrypoint(ref, "task.entrypoint" if spec.task.entrypoint else "task.train")
    print(f"{args.spec}: valid")
    print(f"  study {spec.name!r}, storage {redact(spec.storage or '')}")
    print(f"  task {task}, objective {spec.objective.direction} {spec.objective.metric}, "
          f"{spec.budget.epochs} epochs a trial, budget {_budget(spec)}")
    print(f"  {len(groups)} group(s): {', '.join(groups)}; {len(dims)} searched dimension(s)")
    print(f"  sampler {spec.sampler.name}, pruner {spec.pruner.name}")
    if args.model:
        if model is None:
            print("  own training loop: the model is built inside task.train; groups are checked when it runs")
        else:
            from lrsearch.api import example_config
            from lrsearch.groups import describe_groups

            config = example_config(spec)
            print(f"  groups cover the model of task {task} exactly once:")
            for opt in config.optimizers:
                for line in describe_groups(model, opt).splitlines():
                    print("    " + line)
            # A Keras model: each Keras name (what the patterns match) and its torch parameter.
            from lrsearch.keras import describe_names

            for line in describe_names(model).splitlines():
                print("    " + line)
    return 0


def _budget(spec) -> str:
    parts = []
    if spec.budget.trials:
        parts.append(f"{spec.budget.trials} trials")
    if spec.budget.timeout:
        parts.append(f"{spec.budget.timeout:g}s")
    return " or ".join(parts)


def space(args: argparse.Namespace) -> int:
    from lrsearch.config import load_spec
    from lrsearch.space import SearchSpace

    quiet_optuna()
    spec = load_spec(args.spec)
    dims = SearchSpace(spec).dimensions()
    width = max([len(d.name) for d in dims] + [9])
    dwidth = max([len(d.describe()) for d in dims] + [12])
    print(f"{'dimension':<{width}}  {'distribution':<{dwidth}}  active when")
    for d in dims:
        print(f"{d.name:<{width}}  {d.describe():<{dwidth}}  {d.condition or 'always'}")
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
