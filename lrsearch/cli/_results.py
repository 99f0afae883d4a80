"""``lrsearch export | compare | best | replay | confirm``: using what the studies found."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lrsearch.cli._common import add_study_source, print_json, quiet_optuna, study_source
from lrsearch.cli._options import add
from lrsearch.errors import LrsearchError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a study's trials (and curves) to CSV or Parquet",
                       description="Write one row per trial (state, objective, duration, epochs, every parameter "
                                   "under its stable name, confirmed scores) and optionally the per-epoch, per-group "
                                   "curves. The extension (.csv, .parquet) picks the format.")
    add_study_source(p)
    add(p, "output", required=True, help="the trials file: .csv or .parquet")
    add(p, "curves")
    p.set_defaults(func=export)

    p = sub.add_parser("compare", help="compare studies: best value, cost, epochs to near-best, confirmed scores",
                       description="Compare studies side by side. STUDY is a study file, or a study name in "
                                   "--storage.")
    p.add_argument("studies", nargs="*", metavar="STUDY", help="study files (.yaml) or study names in --storage")
    add(p, "storage", help="storage URL for studies given by name")
    add(p, "study", action="append", help="a study in --storage (repeatable; the same as naming it as STUDY)")
    add(p, "budget")
    add(p, "json", help="print the comparison as JSON on stdout")
    p.set_defaults(func=compare)

    p = sub.add_parser("best", help="the best trial: summary, fixed study YAML (-o), plain-PyTorch (--python) or Keras (--keras) code",
                       description="Show the best trial (the top confirmed one when confirmation runs exist), and "
                                   "write it as a study YAML with every searched setting fixed and/or as a Python "
                                   "file in plain PyTorch.")
    add_study_source(p)
    add(p, "trial", help="use trial N instead of the best")
    add(p, "by")
    add(p, "output", metavar="best.yaml", help="write the study YAML with every searched setting fixed here")
    add(p, "python", metavar="snippet.py")
    add(p, "json", help="print the trial (number, value, params, per-group config) as JSON on stdout")
    add(p, "keras", metavar="snippet.py")
    p.set_defaults(func=best)

    p = sub.add_parser("replay", help="retrain a recorded trial and compare its objective epoch by epoch",
                       description="Retrain a trial's config with its seed and thread count, and compare the "
                                   "objective per epoch with what was recorded. Exit 0 if every epoch agrees within "
                                   "--tolerance, 1 if not.")
    add_study_source(p)
    add(p, "trial", required=True, help="the trial to replay (COMPLETE or PRUNED)")
    add(p, "tolerance")
    add(p, "device", help="train on this device instead of the spec's (cpu, cuda:0, ...)")
    p.set_defaults(func=replay)

    p = sub.add_parser("confirm", help="retrain the top configs with fresh seeds, score them on the test split",
                       description="Retrain the top K configs (by search score) with S fresh seeds each, score "
                                   "them on the task's held-out test split, store every run and rank by the mean.")
    add_study_source(p)
    add(p, "top", help="configs to confirm (default: the spec's confirm.top, else 3)")
    add(p, "seeds", help="seeds per config (default: confirm.seeds, else 3)")
    add(p, "device", help="train on this device instead of the spec's")
    add(p, "quiet", help="no progress lines")
    p.set_defaults(func=confirm)


def export(args: argparse.Namespace) -> int:
    from lrsearch.results import curves_frame, frame_format, trials_frame, write_frame

    quiet_optuna()
    frame_format(args.output, "-o")
    if args.curves:
        frame_format(args.curves, "--curves")
    url, name, _ = study_source(args)
    trials = trials_frame(url, name)
    path = write_frame(trials, args.output, "-o")
    print(f"wrote {len(trials)} trials x {trials.shape[1]} columns of study {name!r} to {path}")
    if args.curves:
        curves = curves_frame(url, name)
        path = write_frame(curves, args.curves, "--curves")
        print(f"wrote {len(curves)} curve rows x {curves.shape[1]} columns to {path}")
    return 0


def _compare_sources(args: argparse.Namespace) -> list[tuple[str, str]]:
    from lrsearch.config import load_spec, resolve_storage

    sources = []
    url = resolve_storage(args.storage, Path.cwd()) if args.storage else None
    items = list(args.studies) + list(args.study or [])
    if not items:
        raise LrsearchError("give the studies to compare: study files (.yaml), or names in --storage")
    for item in items:
        if item.endswith((".yaml", ".yml")) or Path(item).is_file():
            spec = load_spec(item)
            assert spec.storage is not None
            sources.append((url or spec.storage, spec.name))
        elif url is None:
            raise LrsearchError(f"{item!r} is not a study file; to name a stored study, give --storage URL")
        else:
            sources.append((url, item))
    return sources


def compare(args: argparse.Namespace) -> int:
    from lrsearch.results import compare_studies, format_comparison

    quiet_optuna()
    if args.budget is not None and args.budget < 1:
        raise LrsearchError(f"--budget is a number of epochs >= 1, got {args.budget}")
    summaries = compare_studies(_compare_sources(args), budget=args.budget)
    if args.json:
        from dataclasses import asdict

        from lrsearch.storage import redact

        print_json([{**asdict(s), "storage": redact(s.storage), "epochs_to": {f"{q:g}": n for q, n in s.epochs_to.items()}}
                    for s in summaries])
        return 0
    print(format_comparison(summaries))
    return 0


def best(args: argparse.Namespace) -> int:
    from lrsearch.results import (
        best_keras_snippet,
        best_snippet,
        best_trial,
        best_yaml,
        fmt_confirmed,
        fmt_value,
        format_ranking,
    )
    from lrsearch.runner import describe_config

    quiet_optuna()
    for option, value, suffixes in (("-o", args.output, (".yaml", ".yml")), ("--python", args.python, (".py",)),
                                    ("--keras", args.keras, (".py",))):
        if value and not value.endswith(suffixes):
            raise LrsearchError(f"{option} {value!r}: expected a {' or '.join(suffixes)} file")
    url, name, _ = study_source(args)
    chosen = best_trial(url, name, trial=args.trial, by=args.by)
    spec = chosen.handle.spec
    ranking = chosen.confirmed
    mine = ranking[ranking["number"] == chosen.number]
    # Every file's text first: a file that cannot be written for this trial leaves none of the others behind.
    files = []
    if args.output:
        files.append((args.output, best_yaml(chosen), f"run it with lrsearch run {args.output}"))
    if args.python:
        files.append((args.python, best_snippet(chosen, module=Path(args.python).stem),
                      "plain PyTorch, no lrsearch import"))
    if args.keras:
        files.append((args.keras, best_keras_snippet(chosen, module=Path(args.keras).stem),
                      "plain Keras (any backend), no lrsearch import"))
    written = []
    for path, text, what in files:
        Path(path).write_text(text)
        written.append((path, what))
    if args.json:
        trial = next(t for t in chosen.handle.study.get_trials(deepcopy=False) if t.number == chosen.number)
        print_json({
            "study": name, "trial": chosen.number, "chosen_by": chosen.chosen_by,
            "metric": spec.objective.metric, "direction": spec.objective.direction, "value": chosen.value,
            "confirmed": None if mine.empty else {k: mine.iloc[0][k] for k in ("metric", "mean", "sd", "n", "rank")},
            "params": trial.params, "config": chosen.config.to_dict(), "written": [path for path, _ in written],
        })
        return 0
    why = {"search": "best search score", "confirmed": "best confirmed mean", "--trial": "chosen with --trial"}
    print(f"study {name!r}: trial #{chosen.number} ({why[chosen.chosen_by]}), search "
          f"{spec.objective.metric} = {fmt_value(chosen.value)}")
    if not mine.empty:
        row = mine.iloc[0]
        print(f"  confirmed {row['metric']} = {fmt_confirmed(row['mean'], row['sd'], int(row['n']))}, "
              f"rank {int(row['rank'])} of {len(ranking)}")
    for line in describe_config(chosen.config):
        print(line)
    if not ranking.empty:
        print("confirmed ranking (held-out test split, fresh seeds):")
        print("\n".join("  " + line for line in format_ranking(chosen.handle, ranking).splitlines()))
    for path, note in written:
        print(f"wrote {path}: {note}")
    return 0


def replay(args: argparse.Namespace) -> int:
    from lrsearch.results import DEFAULT_TOLERANCE, format_replay, replay_trial

    quiet_optuna()
    url, name, _ = study_source(args)
    tolerance = DEFAULT_TOLERANCE if args.tolerance is None else args.tolerance
    result = replay_trial(url, name, args.trial, tolerance=tolerance, device=args.device)
    print(format_replay(result))
    return 0 if result.ok else 1


def confirm(args: argparse.Namespace) -> int:
    from lrsearch.results import confirm_top, format_ranking, open_readonly

    quiet_optuna()
    url, name, _ = study_source(args)
    handle = open_readonly(url, name)
    settings = handle.spec.confirm
    top = args.top if args.top is not None else settings.top if settings else 3
    seeds = args.seeds if args.seeds is not None else settings.seeds if settings else 3
    for option, value in (("--top", top), ("--seeds", seeds)):
        if value < 1:
            raise LrsearchError(f"{option} must be >= 1, got {value}")
    handle.store.ensure_schema()
    ranking = confirm_top(handle, top=top, seeds=seeds, progress=None if args.quiet else sys.stderr,
                          device=args.device)
    print(f"study {name!r}: confirmed ranking ({handle.spec.objective.metric} searched, "
          f"{ranking['metric'].iloc[0]} on the held-out split)")
    print(format_ranking(handle, ranking))
    return 0
