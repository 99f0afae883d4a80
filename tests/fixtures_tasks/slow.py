"""The ``slow`` marker kept honest, by what a test starts rather than by a clock.

``pytest -m "not slow"`` is the fast loop (docs/development.md), so a slow test without the marker is a bug: it
makes the loop slow. A duration threshold would be flaky on a loaded machine; what a test starts is not. Each
helper that starts something slow calls :func:`starting`: the real CLI running a training command to its end
(``run``, ``worker``, ``confirm``, ``replay``, ``lr-find``: a process that imports torch and trains), a dashboard
server, a PostgreSQL server or a SLURM cluster of the test's own. The test being set up or run must then be marked
``slow``, or it fails at once saying so.

A module- or session-wide fixture that starts one is remembered: its cost lands on whichever test sets it up
first, so every later test using it (its value cached, nothing started) must be marked too.
"""

from __future__ import annotations

import pytest

# The test being set up and the fixtures being set up for it (tests/conftest.py keeps both up to date).
current_test: list[pytest.Item] = []
fixtures_in_setup: list[pytest.FixtureDef] = []
# (where the fixture is visible, its name) of each shared fixture that started something slow
_slow_fixtures: set[tuple[str, str]] = set()

# CLI commands that train in their process when they run to a successful end.
TRAINING_COMMANDS = frozenset({"run", "worker", "confirm", "replay", "lr-find"})


def _unmarked() -> pytest.Item | None:
    item = current_test[-1] if current_test else None
    return item if item is not None and item.get_closest_marker("slow") is None else None


def starting(what: str) -> None:
    """Called where a test starts something slow (``what``: e.g. "starts a dashboard server")."""
    for fixturedef in fixtures_in_setup:
        if fixturedef.scope != "function":
            _slow_fixtures.add((fixturedef.baseid, fixturedef.argname))
    if (item := _unmarked()) is not None:
        where = f" (in its fixture {fixtures_in_setup[-1].argname!r})" if fixtures_in_setup else ""
        pytest.fail(f"{item.nodeid} {what}{where} but is not marked slow: add @pytest.mark.slow", pytrace=False)


def ran_cli(args: tuple[str, ...], returncode: int) -> None:
    """After the real CLI ran ``lrsearch ARGS``: a training command that ran to its end is slow."""
    if args and args[0] in TRAINING_COMMANDS and returncode == 0:
        starting(f"ran `lrsearch {args[0]}` to its end (a real process that trains)")


def _visible(baseid: str, nodeid: str) -> bool:
    return not baseid or nodeid.startswith((baseid + "/", baseid + "::"))


def check_shared_fixtures(item: pytest.Item) -> None:
    """Before ``item`` is set up: it may not take, unmarked, a shared fixture that started something slow."""
    if item.get_closest_marker("slow") is not None:
        return
    for baseid, name in sorted(_slow_fixtures):
        if name in item.fixturenames and _visible(baseid, item.nodeid):
            pytest.fail(f"{item.nodeid} uses the fixture {name!r}, which starts something slow (see "
                        "tests/fixtures_tasks/slow.py), but is not marked slow: add @pytest.mark.slow", pytrace=False)
