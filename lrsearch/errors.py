"""The one exception family for user errors: anything the user can fix in their input.

The CLI catches :class:`LrsearchError` and prints its message, exiting with code 2 and no traceback.
"""

from __future__ import annotations


class LrsearchError(Exception):
    """A problem in the user's input (spec, arguments, model, storage) that the user can fix."""


class SpecError(LrsearchError):
    """A study spec is invalid. Holds every problem found, each as ``(field path, message)``."""

    def __init__(self, problems: list[tuple[str, str]], source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        head = f"{source}: " if source else ""
        lines = [f"{head}{len(problems)} problem(s) in the study spec:"]
        lines += [f"  {path}: {msg}" if path else f"  {msg}" for path, msg in problems]
        super().__init__("\n".join(lines))


class GroupError(LrsearchError):
    """Parameter groups do not cover a model exactly once."""


class TaskError(LrsearchError):
    """A task cannot be imported, built or run as configured."""


class StorageError(LrsearchError):
    """A storage URL is malformed or unreachable, or a database is not one lrsearch can use."""


class DiskFull(StorageError):
    """The disk holding the database or the trial logs is full (exit code 1: the run stops cleanly)."""


class DatabaseUnavailable(StorageError):
    """The database stayed unreachable, during a run, for longer than ``LRSEARCH_DB_OUTAGE_LIMIT`` (exit code 1:
    not the user's input, the database went away)."""
