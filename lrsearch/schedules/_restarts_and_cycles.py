"""Shapes that go up as well as down: SGDR restarts, cyclical lr (CLR) and one-cycle.

CyclicLR and OneCycleLR also cycle momentum (or Adam's beta1); their ``*_momentum_fraction`` functions give
the position between the high end (0) and the low end (1) exactly as torch computes it. Every function here is
copied verbatim into user snippets: only ``math`` and its own arguments.
"""

from __future__ import annotations

import math
from typing import Any

from lrsearch.schedules._base import Shape, ShapeParam, register


def cosine_restarts_factor(
    step: int,
    total: int,
    T_0: float = 0.25,
    T_mult: int = 1,
    min_ratio: float = 0.0,
    cycle_decay: float = 1.0,
) -> float:
    """torch CosineAnnealingWarmRestarts (SGDR), with eta_min = lr * min_ratio.

    T_0 is a fraction of the run: the first cycle is max(1, round(T_0 * total)) steps; each next cycle is
    T_mult times longer. cycle_decay (timm) scales the peak of cycle i by cycle_decay ** i.
    """
    period = max(1, round(T_0 * total))
    if T_mult == 1:
        cycle, t_cur = divmod(step, period)
    else:
        cycle, t_cur = 0, step
        while t_cur >= period:
            t_cur -= period
            period *= T_mult
            cycle += 1
    peak = cycle_decay**cycle
    return min_ratio + (peak - min_ratio) * (1.0 + math.cos(math.pi * t_cur / period)) / 2.0


def cyclic_factor(
    step: int,
    total: int,
    mode: str = "triangular",
    step_size_up: float = 0.1,
    step_size_down: float | None = None,
    base_ratio: float = 0.1,
    gamma: float = 0.5,
) -> float:
    """torch CyclicLR with max_lr = the group's lr and base_lr = lr * base_ratio.

    step_size_up/step_size_down are fractions of the run (max(1, round(frac * total)) steps; down defaults to
    up). In exp_range mode the amplitude is multiplied by gamma per cycle: torch's per-iteration gamma is
    gamma ** (1 / cycle_steps).
    """
    up = max(1, round(step_size_up * total))
    down = up if step_size_down is None else max(1, round(step_size_down * total))
    cycle_steps = up + down
    cycle = math.floor(1 + step / cycle_steps)
    x = 1.0 + step / cycle_steps - cycle
    up_ratio = up / cycle_steps
    height = x / up_ratio if x <= up_ratio else (x - 1) / (up_ratio - 1)
    if mode == "triangular2":
        height *= 1 / (2.0 ** (cycle - 1))
    elif mode == "exp_range":
        height *= gamma ** (step / cycle_steps)
    return base_ratio + (1.0 - base_ratio) * height


def cyclic_momentum_fraction(
    step: int,
    total: int,
    mode: str = "triangular",
    step_size_up: float = 0.1,
    step_size_down: float | None = None,
    base_ratio: float = 0.1,
    gamma: float = 0.5,
) -> float:
    """CyclicLR momentum: momentum = max_momentum - (max_momentum - base_momentum) * fraction.

    The fraction is the lr's height above base_lr (0 at base_lr, 1 at max_lr), scaled like the lr in
    triangular2/exp_range, so momentum is at its low end when the lr peaks.
    """
    up = max(1, round(step_size_up * total))
    down = up if step_size_down is None else max(1, round(step_size_down * total))
    cycle_steps = up + down
    cycle = math.floor(1 + step / cycle_steps)
    x = 1.0 + step / cycle_steps - cycle
    up_ratio = up / cycle_steps
    height = x / up_ratio if x <= up_ratio else (x - 1) / (up_ratio - 1)
    if mode == "triangular2":
        height *= 1 / (2.0 ** (cycle - 1))
    elif mode == "exp_range":
        height *= gamma ** (step / cycle_steps)
    return height


def onecycle_factor(
    step: int,
    total: int,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    anneal_strategy: str = "cos",
    three_phase: bool = False,
) -> float:
    """torch OneCycleLR with max_lr = the group's lr (total_steps = total).

    Starts at 1 / div_factor, peaks at 1 after pct_start of the run, and reaches
    1 / (div_factor * final_div_factor) at step total - 1 (torch's convention), held after that.
    """
    initial = 1.0 / div_factor
    minimum = initial / final_div_factor
    if three_phase:
        phases = (
            (pct_start * total - 1, initial, 1.0),
            (2 * pct_start * total - 2, 1.0, initial),
            (total - 1, initial, minimum),
        )
    else:
        phases = ((pct_start * total - 1, initial, 1.0), (total - 1, 1.0, minimum))
    # The phase holding `step`; the last phase also takes the steps past its end (where torch extrapolates).
    phase_start = 0.0
    phase_end, start, end = phases[0]
    for following in phases[1:]:
        if step <= phase_end:
            break
        phase_start = phase_end
        phase_end, start, end = following
    # torch divides by zero on an empty phase; treat it as finished.
    pct = min(1.0, (step - phase_start) / (phase_end - phase_start)) if phase_end > phase_start else 1.0
    if anneal_strategy == "cos":
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
    return (end - start) * pct + start


def onecycle_momentum_fraction(
    step: int,
    total: int,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    anneal_strategy: str = "cos",
    three_phase: bool = False,
) -> float:
    """OneCycleLR momentum: from the high end (0) to the low end (1) while the lr rises, back while it falls.

    momentum = max_momentum - (max_momentum - base_momentum) * fraction; in three_phase mode the last phase
    holds momentum at max_momentum.
    """
    if three_phase:
        phases = (
            (pct_start * total - 1, 0.0, 1.0),
            (2 * pct_start * total - 2, 1.0, 0.0),
            (total - 1, 0.0, 0.0),
        )
    else:
        phases = ((pct_start * total - 1, 0.0, 1.0), (total - 1, 1.0, 0.0))
    phase_start = 0.0
    phase_end, start, end = phases[0]
    for following in phases[1:]:
        if step <= phase_end:
            break
        phase_start = phase_end
        phase_end, start, end = following
    pct = min(1.0, (step - phase_start) / (phase_end - phase_start)) if phase_end > phase_start else 1.0
    if anneal_strategy == "cos":
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
    return (end - start) * pct + start


def _onecycle_check(params: dict[str, Any]) -> str | None:
    pct = params["pct_start"]
    if params["three_phase"] and pct >= 0.5:
        return f"three_phase needs pct_start < 0.5 (rise and fall both take pct_start), got {pct!r}"
    return None


def _step_size(default: float | None, what: str) -> ShapeParam:
    return ShapeParam(
        "float",
        default,
        what,
        low=0.02,
        high=0.25,
        log=True,
        min=0.0,
        max=1.0,
        min_open=True,
        optional=default is None,
        fraction=True,
    )


_CYCLIC_PARAMS = {
    "mode": ShapeParam(
        "categorical", "triangular", "amplitude policy", choices=("triangular", "triangular2", "exp_range")
    ),
    "step_size_up": _step_size(0.1, "rise from base to max, as a fraction of the run"),
    "step_size_down": _step_size(
        None, "fall from max to base, as a fraction of the run (None: = step_size_up)"
    ),
    "base_ratio": ShapeParam(
        "float",
        0.1,
        "base_lr / max_lr (the group's lr is max_lr)",
        low=0.01,
        high=0.5,
        log=True,
        min=0.0,
        max=1.0,
        max_open=True,
    ),
    "gamma": ShapeParam(
        "float",
        0.5,
        "exp_range: amplitude multiplier per cycle",
        low=0.1,
        high=1.0,
        min=0.0,
        max=1.0,
        min_open=True,
    ),
}

register(
    Shape(
        "cosine_restarts",
        "cosine annealing with warm restarts (SGDR)",
        cosine_restarts_factor,
        params={
            "T_0": ShapeParam(
                "float",
                0.25,
                "first cycle, as a fraction of the run",
                low=0.05,
                high=0.5,
                log=True,
                min=0.0,
                max=1.0,
                min_open=True,
                fraction=True,
            ),
            "T_mult": ShapeParam(
                "int", 1, "each cycle is T_mult times longer (int, like torch)", low=1, high=3, min=1
            ),
            "min_ratio": ShapeParam(
                "float", 0.0, "floor, relative to the group's lr", low=0.0, high=0.1, min=0.0, max=1.0
            ),
            "cycle_decay": ShapeParam(
                "float",
                1.0,
                "peak of cycle i is cycle_decay ** i (timm)",
                low=0.3,
                high=1.0,
                min=0.0,
                max=1.0,
                min_open=True,
            ),
        },
        torch_equivalent="CosineAnnealingWarmRestarts",
    )
)
register(
    Shape(
        "cyclic",
        "cyclical lr between lr * base_ratio and lr; cycles momentum inversely",
        cyclic_factor,
        params=_CYCLIC_PARAMS,
        momentum_fraction=cyclic_momentum_fraction,
        torch_equivalent="CyclicLR",
    )
)
register(
    Shape(
        "onecycle",
        "1cycle: warm up to the group's lr, then anneal far below it; cycles momentum inversely",
        onecycle_factor,
        params={
            "pct_start": ShapeParam(
                "float",
                0.3,
                "rising part, as a fraction of the run",
                low=0.1,
                high=0.5,
                min=0.0,
                max=1.0,
                fraction=True,
            ),
            "div_factor": ShapeParam(
                "float",
                25.0,
                "initial lr = lr / div_factor",
                low=5.0,
                high=100.0,
                log=True,
                min=1.0,
            ),
            "final_div_factor": ShapeParam(
                "float",
                1e4,
                "final lr = initial lr / final_div_factor",
                low=10.0,
                high=1e5,
                log=True,
                min=1.0,
            ),
            "anneal_strategy": ShapeParam("categorical", "cos", "annealing curve", choices=("cos", "linear")),
            "three_phase": ShapeParam(
                "bool", False, "anneal back to the initial lr before the final decay", choices=(False, True)
            ),
        },
        momentum_fraction=onecycle_momentum_fraction,
        check=_onecycle_check,
        torch_equivalent="OneCycleLR",
    )
)
