"""The one entry command: ``python -m benchmarks.run [SUITE ...] [--quick]``.

Runs the chosen suites (default: every suite marked DEFAULT), prints every table, and writes
``benchmarks/results/<date>-<suites>.json`` and ``.md`` with machine, versions, date and seeds.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import suites
from benchmarks._common import Result, machine

RESULTS = Path(__file__).resolve().parent / "results"


def available() -> dict[str, Any]:
    return {m.name: importlib.import_module(f"benchmarks.suites.{m.name}") for m in pkgutil.iter_modules(suites.__path__)}


def markdown(results: list[Result], info: dict[str, Any], command: str) -> str:
    lines = [f"# lrsearch benchmarks ({info['date']})", "", f"Command: `{command}`", ""]
    lines.append("Machine: " + ", ".join(f"{k} {v}" for k, v in info.items() if k != "date" and v is not None))
    for res in results:
        lines += ["", f"## {res.title}", ""]
        if res.rows:
            keys = list(res.rows[0])
            lines.append("| " + " | ".join(keys) + " |")
            lines.append("|" + "---|" * len(keys))
            for row in res.rows:
                lines.append("| " + " | ".join(_cell(row.get(k)) for k in keys) + " |")
        for note in res.notes:
            lines += ["", note]
        lines += ["", f"Seeds: {res.seeds or 'n/a'}; suite time {res.seconds:.0f}s."]
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def main(argv: list[str] | None = None) -> int:
    mods = available()
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("suites", nargs="*", help=f"suites to run (default: the default ones); known: {', '.join(mods)}")
    parser.add_argument("--quick", action="store_true", help="seconds-long smoke version of each suite")
    parser.add_argument("--out", type=Path, default=RESULTS, help="directory for the JSON/Markdown results")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    unknown = [s for s in args.suites if s not in mods]
    if unknown:
        parser.error(f"unknown suite(s) {', '.join(unknown)}; known: {', '.join(mods)}")
    chosen = args.suites or [name for name, mod in mods.items() if getattr(mod, "DEFAULT", False)]
    info = machine()
    results = []
    for name in chosen:
        print(f"== {name}: {mods[name].TITLE}", flush=True)
        start = time.perf_counter()
        res: Result = mods[name].run(quick=args.quick)
        res.seconds = time.perf_counter() - start
        results.append(res)
        print(markdown([res], info, "").split("\n## ", 1)[1], flush=True)
    command = "python -m benchmarks.run " + " ".join(sys.argv[1:] if argv is None else argv)
    if not args.no_write:
        args.out.mkdir(parents=True, exist_ok=True)
        stem = f"{info['date'][:10]}-{'-'.join(chosen)}{'-quick' if args.quick else ''}"
        (args.out / f"{stem}.json").write_text(json.dumps(
            {"command": command, "machine": info, "results": [r.to_dict() for r in results]}, indent=2))
        (args.out / f"{stem}.md").write_text(markdown(results, info, command))
        print(f"wrote {args.out / stem}.json and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
