"""A per-process cache for what an own loop builds once and reuses in every trial: data, tokenizers, a frozen
feature extractor. A worker process runs many trials one after another; each would otherwise load them again."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

_VALUES: dict[Hashable, Any] = {}
_LOCK = threading.Lock()


def cached(key: Hashable, build: Callable[[], T]) -> T:
    """``build()`` the first time ``key`` is asked for in this process; the same object every time after.

    Key it by everything the value depends on (``("digits", n_train)``): two trials with different options get
    different values. What is cached lives until the process ends (or :func:`clear_cache`); keep it read-only,
    since every later trial of the worker gets the same object.
    """
    try:
        hash(key)
    except TypeError:
        raise TypeError(f"ctx.cache: the key must be hashable (a str or a tuple of them), got {type(key).__name__}") from None
    if not callable(build):
        raise TypeError(f"ctx.cache(key, build): build must be a function of no arguments, got {type(build).__name__}")
    with _LOCK:
        if key in _VALUES:
            return _VALUES[key]
    value = build()  # outside the lock: building may take long, and a failed build caches nothing
    with _LOCK:
        return _VALUES.setdefault(key, value)


def clear_cache() -> None:
    """Forget every cached value (tests; a notebook that changed the data)."""
    with _LOCK:
        _VALUES.clear()
