"""Monotone shapes: constant and the classic decays (torch StepLR ... CosineAnnealingLR, HF inverse_sqrt).

Every ``*_factor`` function here is copied verbatim into user snippets: only ``math`` and its own arguments.
"""

from __future__ import annotations

import math

from lrsearch.schedules._base import Shape, ShapeParam, register


def constant_factor(step: int, total: int) -> float:
    """Constant: the group's lr throughout (combine with warmup for constant-with-warmup)."""
    return 1.0


def step_factor(step: int, total: int, step_size: float = 0.3, gamma: float = 0.1) -> float:
    """torch StepLR: multiply by gamma every step_size.

    step_size is a fraction of the run: the period is max(1, round(step_size * total)) steps.
    """
    period = max(1, round(step_size * total))
    return gamma ** (step // period)


def multistep_factor(step: int, total: int, milestones: tuple = (0.5, 0.75), gamma: float = 0.1) -> float:
    """torch MultiStepLR: multiply by gamma at each milestone.

    milestones are fractions of the run: milestone m is at step max(1, round(m * total)).
    """
    passed = sum(1 for m in milestones if step >= max(1, round(m * total)))
    return gamma**passed


def exponential_factor(step: int, total: int, end_factor: float = 0.01) -> float:
    """torch ExponentialLR with gamma = end_factor ** (1 / total): the factor reaches end_factor at the end.

    Parameterised by the end value rather than the per-step gamma so that a value means the same thing
    whatever the run length.
    """
    return end_factor ** (step / max(1, total))


def linear_factor(
    step: int, total: int, start_factor: float = 1.0, end_factor: float = 0.0, duration: float = 1.0
) -> float:
    """torch LinearLR: from start_factor to end_factor over duration, then held.

    duration is a fraction of the run: total_iters = max(1, round(duration * total)).
    """
    iters = max(1, round(duration * total))
    t = min(step, iters) / iters
    # Weighted form: lands exactly on end_factor at t = 1 (start + (end - start) * t can undershoot 0).
    return start_factor * (1.0 - t) + end_factor * t


def polynomial_factor(
    step: int, total: int, power: float = 1.0, end_factor: float = 0.0, duration: float = 1.0
) -> float:
    """Polynomial decay from 1 to end_factor over duration, then held (HF polynomial with a relative end).

    With end_factor=0 this is torch PolynomialLR with total_iters = max(1, round(duration * total)).
    """
    iters = max(1, round(duration * total))
    return end_factor + (1.0 - end_factor) * (1.0 - min(step, iters) / iters) ** power


def cosine_factor(step: int, total: int, min_ratio: float = 0.0) -> float:
    """torch CosineAnnealingLR over the whole run, with T_max = total and eta_min = lr * min_ratio.

    The floor is relative to each group's lr (torch's eta_min is one absolute value for all groups).
    """
    return min_ratio + (1.0 - min_ratio) * (1.0 + math.cos(math.pi * step / max(1, total))) / 2.0


def inverse_sqrt_factor(step: int, total: int, timescale: float = 0.1) -> float:
    """HF inverse_sqrt: 1 / sqrt(1 + step / timescale), starting at 1.

    timescale is a fraction of the run: max(1, round(timescale * total)) steps. With a warmup of W steps this
    equals HF get_inverse_sqrt_schedule(num_warmup_steps=W, timescale=timescale_steps).
    """
    steps = max(1, round(timescale * total))
    return 1.0 / math.sqrt(1.0 + step / steps)


_GAMMA = ShapeParam(
    "float",
    0.1,
    "multiplier applied at each decay",
    low=0.05,
    high=0.5,
    log=True,
    min=0.0,
    max=1.0,
    min_open=True,
)


def _duration(default: float, what: str) -> ShapeParam:
    return ShapeParam(
        "float",
        default,
        f"{what}, as a fraction of the run",
        low=0.1,
        high=1.0,
        min=0.0,
        max=1.0,
        min_open=True,
        fraction=True,
    )


register(Shape("constant", "constant lr (use warmup for constant-with-warmup)", constant_factor))
register(
    Shape(
        "step",
        "multiply by gamma every step_size of the run",
        step_factor,
        params={"step_size": _duration(0.3, "period between decays"), "gamma": _GAMMA},
        torch_equivalent="StepLR",
    )
)
register(
    Shape(
        "multistep",
        "multiply by gamma at each milestone",
        multistep_factor,
        params={
            "milestones": ShapeParam(
                "float_list",
                (0.5, 0.75),
                "increasing fractions of the run at which to decay (fixed, not searched)",
                min=0.0,
                max=1.0,
                min_open=True,
                fraction=True,
            ),
            "gamma": _GAMMA,
        },
        torch_equivalent="MultiStepLR",
    )
)
register(
    Shape(
        "exponential",
        "exponential decay reaching end_factor at the end of the run",
        exponential_factor,
        params={
            "end_factor": ShapeParam(
                "float",
                0.01,
                "factor reached at the end; per-step gamma = end_factor ** (1 / total)",
                low=1e-3,
                high=0.5,
                log=True,
                min=0.0,
                max=1.0,
                min_open=True,
            )
        },
        torch_equivalent="ExponentialLR",
    )
)
register(
    Shape(
        "linear",
        "linear from start_factor to end_factor over duration, then held",
        linear_factor,
        params={
            "start_factor": ShapeParam(
                "float", 1.0, "factor at the start", low=0.1, high=1.0, min=0.0, max=1.0
            ),
            "end_factor": ShapeParam("float", 0.0, "factor at the end", low=0.0, high=0.5, min=0.0, max=1.0),
            "duration": _duration(1.0, "length of the ramp"),
        },
        torch_equivalent="LinearLR",
    )
)
register(
    Shape(
        "polynomial",
        "(1 - t)^power decay from 1 to end_factor over duration, then held",
        polynomial_factor,
        params={
            "power": ShapeParam(
                "float", 1.0, "exponent of the decay", low=0.5, high=3.0, min=0.0, min_open=True
            ),
            "end_factor": ShapeParam(
                "float", 0.0, "factor at the end (relative)", low=0.0, high=0.1, min=0.0, max=1.0
            ),
            "duration": _duration(1.0, "length of the decay"),
        },
        torch_equivalent="PolynomialLR",
    )
)
register(
    Shape(
        "cosine",
        "half cosine from 1 to min_ratio over the run",
        cosine_factor,
        params={
            "min_ratio": ShapeParam(
                "float",
                0.0,
                "floor, relative to the group's lr",
                low=0.0,
                high=0.1,
                min=0.0,
                max=1.0,
            )
        },
        torch_equivalent="CosineAnnealingLR",
    )
)
register(
    Shape(
        "inverse_sqrt",
        "1 / sqrt(1 + t / timescale) (transformer-style decay; combine with warmup)",
        inverse_sqrt_factor,
        params={
            "timescale": ShapeParam(
                "float",
                0.1,
                "decay timescale, as a fraction of the run",
                low=0.01,
                high=1.0,
                log=True,
                min=0.0,
                min_open=True,
                fraction=True,
            )
        },
        torch_equivalent="HF get_inverse_sqrt_schedule",
    )
)
