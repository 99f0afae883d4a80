"""``lrsearch lr-find``: LR range tests per parameter group, fastai's suggestions, plots, a narrowed study."""

from __future__ import annotations

import argparse
from pathlib import Path

from lrsearch.cli._common import add_study_source, quiet_optuna, study_spec
from lrsearch.cli._options import add


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "lr-find", help="LR range test per parameter group; suggests and narrows each group's lr range",
        description="Ramp one group's lr exponentially while the others hold (per-group), or all groups with "
                    "their ratios fixed (joint); report fastai's valley/steep/minimum suggestions per group, plot "
                    "them, and with -o NEW.yaml save a copy of the study with each lr range narrowed around the "
                    "suggestion: [s/FACTOR, s*FACTOR], a ratio_of group's ratio around the suggested lrs' ratio.")
    add_study_source(p)
    for key in ("mode", "start", "end", "iters", "at", "groups", "suggestion", "factor"):
        add(p, key)
    add(p, "seed", help="seed of the model and batch order (default task.seed)")
    add(p, "runs")
    add(p, "device", help="run the tests on this device instead of the spec's (cpu, cuda:0, ...)")
    add(p, "output", metavar="NEW.yaml", help="write a copy of the study file with the narrowed lr ranges here")
    add(p, "name")
    add(p, "results_dir")
    add(p, "no_plot")
    p.set_defaults(func=run)


def _pairs(items: list[str]) -> dict[str, str]:
    from lrsearch.errors import LrsearchError

    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise LrsearchError(f"--at needs NAME=VALUE (e.g. head.lr=0.01), got {item!r}")
        out[name.strip()] = value.strip()
    return out


def run(args: argparse.Namespace) -> int:
    from lrsearch.errors import LrsearchError
    from lrsearch.lrfind import (
        describe,
        have_matplotlib,
        lr_find,
        results_dir,
        save_results,
        shown,
        write_narrowed,
        write_plots,
    )

    quiet_optuna()
    spec, source = study_spec(args)
    if args.output and not args.spec:
        raise LrsearchError("-o/--output writes a copy of the study file (its text and comments kept): give the "
                            "study file STUDY.yaml, not --storage/--study")
    groups = [g.strip() for g in args.groups.split(",") if g.strip()] if args.groups else None
    result = lr_find(spec, mode=args.mode, start=args.start, end=args.end, iters=args.iters, at=_pairs(args.at),
                     groups=groups, seed=args.seed, suggestion=args.suggestion, factor=args.factor, source=source,
                     runs=args.runs, device=args.device)
    out = Path(args.results_dir) if args.results_dir else results_dir(spec.storage)
    notes = []
    if not args.no_plot:
        if have_matplotlib():
            result.plots = write_plots(result, out)
        else:
            notes.append("no plots: matplotlib is not installed (pip install 'lrsearch[plots]')")
    if args.output:
        new_name = args.name or f"{spec.name}-lrfind"
        header = (f"lr ranges narrowed by `lrsearch lr-find --mode {args.mode}` from {args.spec}: "
                  f"[{args.suggestion}/{args.factor:g}, {args.suggestion}*{args.factor:g}]")
        write_narrowed(Path(args.spec), Path(args.output), result.ranges, new_name, header)
        result.written, result.new_study = args.output, new_name
    saved = save_results(result, out)
    if result.new_study:
        save_results(result, out, as_study=result.new_study)
    print(describe(result))
    for note in notes:
        print(note)
    print(f"results: {shown(saved)} (read them with lrsearch.lrfind.load_results({spec.name!r}, storage))")
    return 0
