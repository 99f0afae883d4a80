"""Search dimensions as users write them: a fixed value, a range, or a list of choices."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


class Dim(BaseModel):
    """One searchable setting.

    Written in YAML as a scalar (fixed), ``{low, high, log, step}`` (a range) or ``{choices: [...]}``; a
    group's ``weight_decay``, ``momentum``, ``beta1`` and ``beta2`` may also be ``{same_as: GROUP}``: whatever an
    earlier group of the same optimizer took in the trial (one searched value for both).
    """

    model_config = ConfigDict(extra="forbid")

    value: Any = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: list[Any] | None = None
    same_as: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _scalar_is_fixed(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return {"value": data}
        return data

    @model_validator(mode="after")
    def _check(self) -> Dim:
        forms = [self.value is not None, self.low is not None or self.high is not None, self.choices is not None]
        if self.same_as is not None:
            if any(forms):
                raise ValueError("same_as takes its value from another group: give it alone, without a value, "
                                 "range or choices")
            return self
        if sum(forms) != 1:
            given = [k for k, on in zip(("value", "low/high", "choices"), forms, strict=True) if on]
            raise ValueError("give exactly one of: a fixed value (a plain value, or value: X), a range {low, high}, "
                             f"or {{choices: [...]}}; got {' and '.join(given) or 'none'}")
        if forms[1]:
            if self.low is None or self.high is None:
                have = "low" if self.low is not None else "high"
                raise ValueError(f"a range needs both low and high, got only {have}")
            for key in ("low", "high", "step"):
                number = getattr(self, key)
                if number is not None and not math.isfinite(number):
                    raise ValueError(f"{key} must be a finite number, got {number}")
            if self.low > self.high:
                raise ValueError(f"low must be <= high, got low={self.low:g}, high={self.high:g}")
            if self.log and self.low <= 0:
                raise ValueError(f"low must be > 0 when log is true, got {self.low:g}")
            if self.step is not None and self.step <= 0:
                raise ValueError(f"step must be > 0, got {self.step:g}")
            if self.log and self.step is not None:
                raise ValueError("step cannot be combined with log: true")
        if forms[2]:
            if not self.choices:
                raise ValueError("choices must not be empty")
            odd = [c for c in self.choices if c is not None and not isinstance(c, (bool, int, float, str))]
            if odd:
                raise ValueError(f"choices must be plain values (numbers, strings, true/false), got {odd[0]!r}")
            if len({repr(c) for c in self.choices}) != len(self.choices):
                raise ValueError(f"choices must be distinct, got {self.choices}")
        return self

    @property
    def is_fixed(self) -> bool:
        if self.same_as is not None:
            return False
        return self.value is not None or (self.choices is not None and len(self.choices) == 1) or (
            self.low is not None and self.low == self.high
        )

    def fixed_value(self) -> Any:
        if self.value is not None:
            return self.value
        if self.choices is not None:
            return self.choices[0]
        return self.low

    def values(self) -> list[Any]:
        """Every value this dimension can take when it is a fixed value or a choice, else low and high."""
        if self.value is not None:
            return [self.value]
        if self.choices is not None:
            return list(self.choices)
        return [self.low, self.high]


class LrDim(Dim):
    """A learning rate: absolute, or relative to another group's (``ratio_of``)."""

    ratio_of: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _scalar_is_fixed(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return {"value": data}
        return data

