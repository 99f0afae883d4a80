"""What the panels are drawn from: the study's context and the few selections every panel and the report share.

No plotly here: the note and the report table use these too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

NO_DECAY = ".no_decay"
_GROUP_LR = re.compile(r"^(?!schedule\.|opt\.)(.+)\.lr$")


@dataclass(frozen=True)
class StudyContext:
    """What the builders need to know about the study besides its frames."""

    study: str
    metric: str
    direction: str  # "maximize" or "minimize"
    epochs: int  # the budget's epochs per trial


def ranked(trials: pd.DataFrame, direction: str) -> pd.DataFrame:
    """COMPLETE trials, best first; when none completed, the finished ones by their last reported value."""
    done = trials[trials["state"] == "COMPLETE"]
    column = "value"
    if done.empty:
        done, column = trials[trials["state"].isin(["PRUNED", "COMPLETE"]) & trials["last_value"].notna()], "last_value"
    return done.sort_values([column, "number"], ascending=[direction == "minimize", True], kind="stable")


def group_lr_columns(trials: pd.DataFrame, curves: pd.DataFrame) -> list[str]:
    """The ``<group>.lr`` columns (resolved absolute lrs), in the order the groups were built."""
    columns = [c for c in trials.columns if _GROUP_LR.match(c) and trials[c].notna().any()]
    order = {g: i for i, g in enumerate(dict.fromkeys(curves["group"].dropna()))} if len(curves) else {}
    return sorted(columns, key=lambda c: order.get(c[:-3], len(order) + columns.index(c)))


def curve_groups(curves: pd.DataFrame) -> list[str]:
    """Group labels to draw: ``<name>.no_decay`` companions share their group's lr and are left out."""
    labels = list(dict.fromkeys(label(o, g) for o, g in zip(curves["optimizer"], curves["group"], strict=True) if isinstance(g, str)))
    return [g for g in labels if not (g.endswith(NO_DECAY) and g[: -len(NO_DECAY)] in labels)]


def label(optimizer: Any, group: str) -> str:
    return group if optimizer in (None, "main") or not isinstance(optimizer, str) else f"{optimizer}.{group}"
