"""The narrowing rule: each searched lr range becomes ``[s / factor, s * factor]`` around the suggestion ``s``.

- A group with an absolute lr range: ``s`` is its suggested lr. With several optimizer choices (each tested),
  the range spans them all: ``[min(s) / factor, max(s) * factor]``, so no optimizer loses its good lrs.
- A ``ratio_of`` group (per-group mode): its ratio range is narrowed around ``s_group / s_reference``, the
  ratio of the two suggested lrs for the same optimizer. In joint mode the ratios were held fixed, so ratio
  ranges stay as they are.
- A fixed lr, or a group without a suggestion (the loss never fell, or the test diverged at once), stays as
  it is, with a note saying why.

The log flag is kept. Bounds are rounded to 3 significant digits. The new range is not clipped to the old one:
a suggestion outside the user's range is the finding, and the note says so.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from lrsearch.config import StudySpec

if TYPE_CHECKING:
    from lrsearch.lrfind._result import LrFindResult, NarrowedRange


def round_sig(x: float, digits: int = 3) -> float:
    return float(f"{x:.{digits}g}")


def narrow(spec: StudySpec, result: LrFindResult, *, suggestion: str = "valley", factor: float = 3.0
           ) -> list[NarrowedRange]:
    from lrsearch.lrfind._result import NarrowedRange

    by_opt = result.group_suggestions(suggestion)
    _, block = spec.blocks()[0]
    out = []
    for group in block.groups:
        lr = group.lr
        assert lr is not None
        ratio = lr.ratio_of is not None
        param = f"{group.name}.lr_ratio" if ratio else f"{group.name}.lr"
        old = None if lr.is_fixed else [lr.low, lr.high, lr.log]
        entry = NarrowedRange(group=group.name, param=param, kind="ratio" if ratio else "lr", old=old, new=None)
        out.append(entry)
        if ratio:
            if result.mode == "joint":
                entry.note = "ratio held fixed by the joint test: unchanged"
                continue
            entry.basis = [s[group.name] / s[lr.ratio_of] for s in by_opt.values()
                           if group.name in s and lr.ratio_of in s]
        else:
            entry.basis = [s[group.name] for s in by_opt.values() if group.name in s]
        if not entry.basis:
            entry.note = f"no {suggestion} suggestion: unchanged"
            continue
        if old is None:
            entry.note = "fixed in the spec: unchanged"
            continue
        entry.new = [round_sig(min(entry.basis) / factor), round_sig(max(entry.basis) * factor)]
        outside = [b for b in entry.basis if not (lr.low <= b <= lr.high)]  # type: ignore[operator]
        if outside:
            entry.note = "suggestion outside the original range"
    return out


def yaml_number(x: float) -> str:
    """A float that PyYAML reads back as a float: YAML 1.1 wants a dot in the mantissa (``1.0e-05``)."""
    if not math.isfinite(x):
        raise ValueError(f"not a finite number: {x}")
    text = f"{x:.3g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        if "." not in mantissa:
            mantissa += ".0"
        return f"{mantissa}e{exponent}"
    return text if "." in text else text + ".0"
