"""``lrsearch lr-find``: LR range tests per parameter group, fastai's suggestions, plots, a narrowed study."""

from __future__ import annotations

import argparse
from pathlib import Path

from lrsearch.cli._common import quiet_optuna


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "lr-find", help="LR range test per parameter group; suggests and narrows each group's lr range",
        description="Ramp one group's lr exponentially while the others hold (per-group), or all groups with "
                    "their ratios fixed (joint); report fastai's valley/steep/minimum suggestions per group, plot "
                    "them, and with --write save a copy of the study with each lr range narrowed around the "
                    "suggestion: [s/FACTOR, s*FACTOR], a ratio_of group's ratio around the suggested lrs' ratio.")
    p.add_argument("spec", metavar="STUDY.yaml")
    p.add_argument("--mode", choices=["per-group", "joint"], default="per-group",
                   help="per-group (default): one group moves, the others hold; joint: all move, ratios fixed")
    p.add_argument("--start", type=float, default=1e-7, help="first lr of the ramp (default 1e-7)")
    p.add_argument("--end", type=float, default=10.0, help="last lr of the ramp (default 10)")
    p.add_argument("--iters", type=int, default=100, help="batches per range test (default 100, as fastai)")
    p.add_argument("--at", action="append", default=[], metavar="NAME=VALUE",
                   help="hold a dimension at this value instead of the middle of its range, e.g. --at "
                        "backbone.lr_ratio=0.1 or --at opt.name=adamw (repeatable; names as `lrsearch space`)")
    p.add_argument("--groups", help="comma-separated groups to test (default: all)")
    p.add_argument("--suggestion", choices=["valley", "steep", "minimum"], default="valley",
                   help="which suggestion --write narrows around (default valley)")
    p.add_argument("--factor", type=float, default=3.0, help="narrowed range is [s/FACTOR, s*FACTOR] (default 3)")
    p.add_argument("--seed", type=int, help="seed of the model and batch order (default task.seed)")
    p.add_argument("--runs", type=int, default=1,
                   help="repeat each test with seeds SEED, SEED+1, ... and suggest from the mean loss (default 1, "
                        "as fastai; 3-5 steady the suggestions on small, noisy batches)")
    p.add_argument("--write", metavar="NEW.yaml", help="write a copy of the study with the narrowed lr ranges")
    p.add_argument("--name", help="study name of the --write copy (default: <name>-lrfind)")
    p.add_argument("--out", help="directory for the JSON result and PNG plots "
                                 "(default: lrsearch-lrfind/ next to the study's SQLite file)")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG plots")
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
    from lrsearch.config import load_spec
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
    spec = load_spec(args.spec)
    groups = [g.strip() for g in args.groups.split(",") if g.strip()] if args.groups else None
    result = lr_find(spec, mode=args.mode, start=args.start, end=args.end, iters=args.iters, at=_pairs(args.at),
                     groups=groups, seed=args.seed, suggestion=args.suggestion, factor=args.factor, source=args.spec,
                     runs=args.runs)
    out = Path(args.out) if args.out else results_dir(spec.storage)
    notes = []
    if not args.no_plot:
        if have_matplotlib():
            result.plots = write_plots(result, out)
        else:
            notes.append("no plots: matplotlib is not installed (pip install 'lrsearch[plots]')")
    if args.write:
        new_name = args.name or f"{spec.name}-lrfind"
        header = (f"lr ranges narrowed by `lrsearch lr-find --mode {args.mode}` from {args.spec}: "
                  f"[{args.suggestion}/{args.factor:g}, {args.suggestion}*{args.factor:g}]")
        write_narrowed(Path(args.spec), Path(args.write), result.ranges, new_name, header)
        result.written, result.new_study = args.write, new_name
    saved = save_results(result, out)
    if result.new_study:
        save_results(result, out, as_study=result.new_study)
    print(describe(result))
    for note in notes:
        print(note)
    print(f"results: {shown(saved)} (read them with lrsearch.lrfind.load_results({spec.name!r}, storage))")
    return 0
