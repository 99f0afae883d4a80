"""Parameter-name patterns (globs, or regexes prefixed ``re:``) and the name lists that error messages show."""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Callable, Sequence

REGEX_PREFIX = "re:"
MAX_LISTED = 20

NameMatcher = Callable[[str], bool]


def compile_pattern(pattern: str) -> NameMatcher:
    """A predicate on full dotted parameter names.

    ``re:<regex>`` must match the whole name (``re.fullmatch``); anything else is a glob (``fnmatchcase``), where
    ``*`` also crosses dots, so ``backbone.*`` takes every parameter below ``backbone``.

    Raises:
        re.error: The ``re:`` pattern is not a valid regex.
    """
    if pattern.startswith(REGEX_PREFIX):
        regex = re.compile(pattern[len(REGEX_PREFIX) :])
        return lambda name: regex.fullmatch(name) is not None
    return lambda name: fnmatch.fnmatchcase(name, pattern)


def quote(pattern: str) -> str:
    """A pattern in quotes as the user wrote it (``repr`` would double every backslash of a regex)."""
    return f"'{pattern}'"


def format_names(names: Sequence[str], limit: int = MAX_LISTED, quoted: bool = True) -> str:
    """``'a', 'b', 'c' (and 12 more)``: at most ``limit`` names, then a count."""
    shown = ", ".join(quote(n) if quoted else n for n in names[:limit])
    rest = len(names) - limit
    return f"{shown} (and {rest} more)" if rest > 0 else shown


def example_names(pattern: str, names: Sequence[str], count: int = 5) -> list[str]:
    """Real parameter names to show next to a pattern that matched nothing: close ones first, then a spread."""
    stem = pattern[len(REGEX_PREFIX) :] if pattern.startswith(REGEX_PREFIX) else pattern
    stem = re.sub(r"[\\*?\[\](){}^$+|]", "", stem)
    picked = difflib.get_close_matches(stem, names, n=3, cutoff=0.5) if stem else []
    # One name per top-level module shows the model's layout better than the first few names do.
    seen_tops = set()
    for name in names:
        top = name.split(".", 1)[0]
        if top not in seen_tops and name not in picked:
            seen_tops.add(top)
            picked.append(name)
        if len(picked) >= count:
            break
    return picked[:count]
