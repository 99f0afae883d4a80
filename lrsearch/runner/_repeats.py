"""Stopping a run that fails the same way again and again.

A trial that raises is failed alone and the study goes on: one config may hit a bug the others miss. But when
trial after trial raises the *same* error (an import that fails, a typo in the user's training code, a dataset
path that does not exist), every further trial is wasted time: the run stops after ``SAME_ERROR_LIMIT`` of them in
a row and says which error it was and where the last trial's log is.
"""

from __future__ import annotations

import re

from lrsearch.runner._trial import Outcome

SAME_ERROR_LIMIT = 3
# Only exceptions: NaN, out-of-memory and timeouts depend on the config (a high learning rate diverges, a large
# batch does not fit), so a few in a row say nothing about the next config.
_JUDGED = ("exception",)
_NUMBER = re.compile(r"\d+")


def _signature(outcome: Outcome) -> str:
    # Numbers differ between trials of one deterministic error (trial numbers, shapes of a sampled width).
    return _NUMBER.sub("#", outcome.error or "")


class RepeatedFailure:
    """Feed it every outcome of a run; ``add`` says when the same error has failed ``limit`` trials in a row."""

    def __init__(self, limit: int = SAME_ERROR_LIMIT) -> None:
        self.limit = limit
        self.run: list[Outcome] = []

    def add(self, outcome: Outcome) -> bool:
        if outcome.state != "FAIL":
            self.run = []
            return False
        if outcome.reason not in _JUDGED or not outcome.error:
            return False  # interrupted, killed, database, nan ...: neither breaks nor extends the run
        if self.run and _signature(self.run[-1]) != _signature(outcome):
            self.run = []
        self.run.append(outcome)
        return len(self.run) >= self.limit

    def describe(self) -> str:
        last = self.run[-1]
        numbers = ", ".join(str(o.number) for o in self.run)
        text = (f"stopped: trials {numbers} failed with the same error, so the next would too: {last.error}. "
                "Fix the cause and run again (the study resumes where it stopped)")
        if last.log_path:
            text += f"; the last trial's log: {last.log_path}"
        return text
