"""Hold-then-decay shapes: warmup-stable-decay (WSD, MiniCPM / HF) and fastai's flat-cos.

They hold the group's lr and decay only at the end, so intermediate metrics of different trials stay
comparable for longer (useful with pruners). Every ``*_factor`` function here is copied verbatim into user
snippets: only ``math`` and its own arguments.
"""

from __future__ import annotations

import math

from lrsearch.schedules._base import Shape, ShapeParam, register


def wsd_factor(
    step: int, total: int, decay_fraction: float = 0.2, decay_type: str = "1-sqrt", min_ratio: float = 0.0
) -> float:
    """Warmup-stable-decay, the stable and decay parts (warmup comes from the schedule's warmup).

    Holds 1, then decays to min_ratio over the last max(1, round(decay_fraction * total)) steps with
    decay_type linear, cosine or 1-sqrt: HF get_wsd_schedule's decay, with min_lr_ratio = min_ratio.
    """
    decay_steps = max(1, round(decay_fraction * total))
    decay_start = total - decay_steps
    if step < decay_start:
        return 1.0
    progress = min(1.0, (step - decay_start) / decay_steps)
    if decay_type == "linear":
        value = 1.0 - progress
    elif decay_type == "cosine":
        value = 0.5 * (1.0 + math.cos(math.pi * progress))
    else:  # "1-sqrt" (Hägele et al. 2024: beats linear as a cooldown)
        value = 1.0 - math.sqrt(progress)
    return min_ratio + (1.0 - min_ratio) * value


def flat_cos_factor(step: int, total: int, pct_start: float = 0.75, div_final: float = 1e5) -> float:
    """fastai fit_flat_cos: flat for pct_start of the run, then a half cosine down to 1 / div_final.

    Like fastai, the position is the continuous step / total (no rounding to whole steps).
    """
    pos = step / max(1, total)
    if pos < pct_start:
        return 1.0
    end = 1.0 / div_final
    p = min(1.0, (pos - pct_start) / (1.0 - pct_start))
    return 1.0 + (1.0 + math.cos(math.pi * (1.0 - p))) * (end - 1.0) / 2.0


register(
    Shape(
        "wsd",
        "warmup-stable-decay: hold the lr, then decay over the last decay_fraction of the run",
        wsd_factor,
        params={
            "decay_fraction": ShapeParam(
                "float",
                0.2,
                "decay (cooldown) part, as a fraction of the run",
                low=0.05,
                high=0.5,
                min=0.0,
                max=1.0,
                min_open=True,
                fraction=True,
            ),
            "decay_type": ShapeParam(
                "categorical", "1-sqrt", "decay curve", choices=("linear", "cosine", "1-sqrt")
            ),
            "min_ratio": ShapeParam(
                "float", 0.0, "floor, relative to the group's lr", low=0.0, high=0.1, min=0.0, max=1.0
            ),
        },
        torch_equivalent="HF get_wsd_schedule",
    )
)
register(
    Shape(
        "flat_cos",
        "flat, then a half cosine to lr / div_final (fastai fit_flat_cos)",
        flat_cos_factor,
        params={
            "pct_start": ShapeParam(
                "float",
                0.75,
                "flat part, as a fraction of the run",
                low=0.3,
                high=0.9,
                min=0.0,
                max=1.0,
                max_open=True,
                fraction=True,
            ),
            "div_final": ShapeParam(
                "float", 1e5, "final lr = lr / div_final", low=10.0, high=1e5, log=True, min=1.0
            ),
        },
        torch_equivalent="fastai fit_flat_cos",
    )
)
