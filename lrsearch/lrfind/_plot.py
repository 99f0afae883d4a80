"""One PNG per group (or one for a joint test): smoothed loss against lr, fastai's suggestions marked, the
original and the narrowed lr range shaded. Needs matplotlib (``pip install 'lrsearch[plots]'``)."""

from __future__ import annotations

from pathlib import Path

from lrsearch.lrfind._result import JOINT, LrFindResult, file_stem
from lrsearch.lrfind._suggest import marker_point

MARKERS = {"valley": "o", "steep": "^", "minimum": "s"}


def have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def write_plots(result: LrFindResult, directory: Path) -> dict[str, str]:
    """Write ``<study>-<group>.png`` for every group tested; returns ``{group: path}``."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    ranges = {r.group: r for r in result.ranges if r.kind == "lr"}
    written: dict[str, str] = {}
    for group in dict.fromkeys(c.group for c in result.curves):
        fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
        for curve in (c for c in result.curves if c.group == group):
            label = curve.optimizer
            (line,) = ax.plot(curve.lrs, curve.smoothed, label=f"{label} (smoothed)")
            ax.plot(curve.lrs, curve.losses, color=line.get_color(), alpha=0.25, linewidth=0.8)
            for name, s in curve.suggestions.items():
                x, y = marker_point(curve.lrs, curve.smoothed, s)  # at the lr the label names
                ax.plot([x], [y], MARKERS.get(name, "x"), color=line.get_color(), markersize=7,
                        label=f"{label} {name}: {s.lr:.2g}")
            finite = [v for v in curve.smoothed if v == v]
            if finite:  # fastai's view: from the start up to a little above the starting loss
                ax.set_ylim(min(finite) * 0.95 if min(finite) > 0 else None, max(finite[0] * 1.5, min(finite) * 1.5))
        target = ranges.get(group) if group != JOINT else None
        if target is not None and target.old is not None:
            ax.axvspan(target.old[0], target.old[1], color="grey", alpha=0.12, label="original range")
        if target is not None and target.new is not None:
            ax.axvspan(target.new[0], target.new[1], color="tab:green", alpha=0.18, label="narrowed range")
        ax.set_xscale("log")
        what = "every group, ratios fixed" if group == JOINT else f"group {group!r}, others held"
        ax.set_title(f"lr-find {result.study}: {what}", fontsize=10)
        ax.set_xlabel("learning rate" if group != JOINT else "learning rate of the lead group")
        ax.set_ylabel("training loss")
        ax.legend(fontsize=7, loc="best")
        fig.tight_layout()
        name = "joint" if group == JOINT else group
        path = directory / f"{file_stem(result.study)}-{file_stem(name)}.png"
        fig.savefig(path)
        plt.close(fig)
        written[group] = str(path)
    return written
