"""The one entry command: ``python -m benchmarks.run [SUITE ...] [--quick] [--no-write] [--update-results]``.

Runs the chosen suites (default: every suite marked DEFAULT), prints every table as it finishes, and writes
``benchmarks/results/<date>-<suites>.json`` and ``.md`` with machine, versions, date and seeds. A suite that
cannot run here (an optional package or a service is missing) is reported as skipped, with the reason; one
that crashes is reported as failed (exit status 1); either way the others go on. ``--update-results`` also
replaces each suite's block in ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import re
import shlex
import sys
import time
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmarks import suites
from benchmarks._common import Result, Skip, machine

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
RESULTS_MD = HERE / "RESULTS.md"


def available() -> dict[str, ModuleType]:
    """Every suite module under ``benchmarks/suites`` (modules starting with ``_`` are helpers, not suites)."""
    names = sorted(m.name for m in pkgutil.iter_modules(suites.__path__) if not m.name.startswith("_"))
    return {name: importlib.import_module(f"benchmarks.suites.{name}") for name in names}


def defaults(mods: dict[str, ModuleType]) -> list[str]:
    return [name for name, mod in mods.items() if getattr(mod, "DEFAULT", False)]


def run_suite(name: str, mod: ModuleType, quick: bool) -> Result:
    """Run one suite; a :class:`Skip` becomes a skipped result, a crash a failed one (the other suites go on)."""
    start = time.perf_counter()
    try:
        res: Result = mod.run(quick=quick)
    except Skip as exc:
        res = Result(name, mod.TITLE, [], skipped=str(exc))
    except Exception as exc:  # one broken suite must not throw away the others' half hour of measurements
        traceback.print_exc()
        res = Result(name, mod.TITLE, [], failed=f"{type(exc).__name__}: {exc}")
    res.seconds = time.perf_counter() - start
    return res


def machine_line(info: dict[str, Any]) -> str:
    return "Machine: " + ", ".join(f"{k} {v}" for k, v in info.items() if k != "date" and v is not None)


def table(res: Result, level: int = 2) -> list[str]:
    """A suite's section: title, table, notes, seeds and time (or why it did not run)."""
    lines = [f"{'#' * level} {res.title}", ""]
    if res.skipped:
        return lines + [f"Skipped: {res.skipped}."]
    if res.failed:
        return lines + [f"FAILED: {res.failed}"]
    if res.rows:
        keys = list(res.rows[0])
        lines.append("| " + " | ".join(keys) + " |")
        lines.append("|" + "---|" * len(keys))
        for row in res.rows:
            lines.append("| " + " | ".join(_cell(row.get(k)) for k in keys) + " |")
    for note in res.notes:
        lines += ["", note]
    lines += ["", f"Seeds: {res.seeds or 'n/a'}; suite time {res.seconds:.0f}s."]
    return lines


def markdown(results: list[Result], info: dict[str, Any], command: str) -> str:
    lines = [f"# lrsearch benchmarks ({info['date']})", "", f"Command: `{command}`", "", machine_line(info)]
    for res in results:
        lines += ["", *table(res)]
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value).replace("|", "\\|")


def update_results_md(path: Path, results: list[Result], info: dict[str, Any], command: str) -> None:
    """Replace (or append) each suite's block ``<!-- suite:NAME -->`` ... ``<!-- /suite:NAME -->`` in ``path``.

    Everything outside the blocks (hand-written sections, other suites' blocks) is kept as it is.
    """
    text = path.read_text() if path.exists() else "# lrsearch benchmark results\n"
    for res in results:
        if res.skipped or res.failed:
            continue  # keep the last real numbers rather than replace them with nothing
        body = "\n".join([
            f"<!-- suite:{res.suite} -->", *table(res, level=3), "",
            f"Produced by `{command}` on {info['date']}. {machine_line(info)}.",
            f"<!-- /suite:{res.suite} -->",
        ])
        block = re.compile(rf"<!-- suite:{re.escape(res.suite)} -->.*?<!-- /suite:{re.escape(res.suite)} -->", re.S)
        text = block.sub(lambda _m, body=body: body, text) if block.search(text) else text.rstrip("\n") + "\n\n" + body
        text = text.rstrip("\n") + "\n"
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    mods = available()
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suites", nargs="*", help=f"suites to run (default: {', '.join(defaults(mods))}); "
                                                  f"known: {', '.join(mods)}")
    parser.add_argument("--quick", action="store_true", help="seconds-long smoke version of each suite")
    parser.add_argument("--out", type=Path, default=RESULTS, help="directory for the JSON/Markdown results")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--update-results", action="store_true",
                        help=f"also replace each suite's block in {RESULTS_MD.relative_to(HERE.parent)}")
    parser.add_argument("--list", action="store_true", help="list the suites and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name, mod in mods.items():
            print(f"{name:<10} {'default ' if getattr(mod, 'DEFAULT', False) else 'optional'}  {mod.TITLE}")
        return 0
    if args.quick and args.update_results:
        parser.error("--update-results records real numbers; the --quick smoke versions are not results")
    unknown = [s for s in args.suites if s not in mods]
    if unknown:
        parser.error(f"unknown suite(s) {', '.join(unknown)}; known: {', '.join(mods)}")
    chosen = args.suites or defaults(mods)
    command = "python -m benchmarks.run " + shlex.join(sys.argv[1:] if argv is None else argv)
    info = machine()
    print(machine_line(info), flush=True)
    results = []
    for name in chosen:
        print(f"\n== {name}: {mods[name].TITLE}", flush=True)
        res = run_suite(name, mods[name], args.quick)
        results.append(res)
        print("\n" + "\n".join(table(res)), flush=True)
    if not args.no_write:
        args.out.mkdir(parents=True, exist_ok=True)
        stem = f"{info['date'][:10]}-{'-'.join(chosen)}{'-quick' if args.quick else ''}"
        (args.out / f"{stem}.json").write_text(json.dumps(
            {"command": command, "machine": info, "results": [r.to_dict() for r in results]}, indent=2))
        (args.out / f"{stem}.md").write_text(markdown(results, info, command))
        print(f"\nwrote {args.out / stem}.json and .md")
    if args.update_results:
        update_results_md(RESULTS_MD, results, info, command)
        print(f"updated {RESULTS_MD}")
    skipped = [r.suite for r in results if r.skipped]
    failed = [r.suite for r in results if r.failed]
    if skipped:
        print(f"skipped: {', '.join(skipped)}")
    if failed:
        print(f"FAILED: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
