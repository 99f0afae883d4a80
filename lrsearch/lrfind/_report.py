"""The plain-text summary ``lrsearch lr-find`` prints."""

from __future__ import annotations

from pathlib import Path

from lrsearch.lrfind._result import JOINT, LrFindResult
from lrsearch.text import table_lines


def shown(path: str | Path) -> str:
    """A path relative to the working directory when it lies below it, else as it is."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.2e}"


def _range(r: list | None) -> str:
    if r is None:
        return "fixed"
    log = "log " if len(r) > 2 and r[2] else ""
    return f"{log}[{r[0]:.3g}, {r[1]:.3g}]"


def describe(result: LrFindResult) -> str:
    s = result.settings
    lines = [f"lr-find {result.study!r} (task {result.task}): {result.mode}, {s['iters']} batches of "
             f"{s['batch_size']}, lr {s['start']:g} -> {s['end']:g}, seed {s['seed']}"]
    runs = s.get("runs", 1)  # results saved before --runs existed have none
    if runs > 1:
        lines[0] += f"..{s['seed'] + runs - 1} (mean loss of {runs} runs)"
    header = ["optimizer", "ramped", "stopped", "valley", "steep", "minimum", "others held at"]
    rows: list[list[str]] = []
    for c in result.curves:
        stopped = f"{c.stopped} at batch {len(c.lrs)}" if c.stopped != "end" else f"end ({len(c.lrs)} batches)"
        if c.group == JOINT:
            others = "ratios " + ", ".join(f"{g}={m:.3g}" for g, m in c.multipliers.items())
        else:
            others = ", ".join(f"{g}.lr={lr:.2e}" for g, lr in c.held.items()) or "-"
        rows.append([c.optimizer, "all groups" if c.group == JOINT else c.group, stopped,
                     *(_num(c.suggested(n)) for n in ("valley", "steep", "minimum")), others])
    lines += ["", *table_lines(rows, header=header)]
    if result.mode == "joint":
        lead = next((g for c in result.curves for g, m in c.multipliers.items() if m == 1.0), "?")
        lines.append(f"(joint: the lr of group {lead} ramps; every group's lr is its ratio times that lr)")
    header = ["dimension", "range now", f"narrowed ({s['suggestion']} /{s['factor']:g} .. *{s['factor']:g})",
              "from", "note"]
    rows: list[list[str]] = []
    for r in result.ranges:
        new = _range([*r.new, r.old[2] if r.old else False]) if r.new else "unchanged"
        basis = ", ".join(f"{b:.2e}" for b in r.basis) or "-"
        rows.append([r.param, _range(r.old), new, basis, r.note])
    lines += ["", *table_lines(rows, header=header)]
    if result.written:
        lines += ["", f"wrote {result.written}: study {result.new_study!r}, validated; run it with "
                      f"`lrsearch run {result.written}`"]
    if result.plots:
        lines += ["", "plots: " + ", ".join(shown(p) for p in result.plots.values())]
    return "\n".join(lines)
