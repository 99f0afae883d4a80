"""The progress display of ``lrsearch run``: a tqdm bar on a terminal, plain lines anywhere else.

On a terminal the bar is one line, clamped to the terminal's width at every redraw (so a narrow pane never
wraps it); a failed trial gets its own line above the bar, with the reason and the trial's log file, which later
redraws do not overwrite. In a pipe or a log file there is no bar: one plain line at most every few seconds, and
one per failure. The last line (after the budget, a timeout or Ctrl-C) has no ETA.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from lrsearch.runner._logs import trial_log_path

if TYPE_CHECKING:  # pragma: no cover
    from lrsearch.runner._study import StudyHandle
    from lrsearch.runner._trial import Outcome

_PLAIN_EVERY_S = 5.0
_TTY_EVERY_S = 0.5


class Progress:
    """Finished/complete/pruned/failed, best so far, ETA; and a line per failed trial."""

    def __init__(self, handle: StudyHandle, total: int | None, timeout: float | None, stream: TextIO | None,
                 log_dir: Path | None = None) -> None:
        self.handle, self.total, self.timeout = handle, total, timeout
        self.stream = stream
        self.log_dir = log_dir
        self.tty = bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())
        self.started = time.monotonic()
        self.last_line = 0.0
        self.last_text = ""
        self.done_at_start = self._finished(handle.counts())
        self.failed_here = 0
        self._bar = None
        if self.tty and stream is not None:
            self._bar = _make_bar(handle.name, total, self.done_at_start, stream)

    @staticmethod
    def _finished(counts: dict[str, int]) -> int:
        return counts["COMPLETE"] + counts["PRUNED"]

    def failure_line(self, outcome: Outcome) -> str:
        return describe_failure(self.handle.name, outcome, self.log_dir)

    def update(self, outcome: Outcome | None = None, force: bool = False, final: bool = False) -> None:
        try:
            self._update(outcome, force, final)
        except Exception as exc:  # the status is cosmetic: a database outage must not stop the run over it
            from lrsearch.storage import is_outage

            if not is_outage(exc):
                raise

    def _update(self, outcome: Outcome | None, force: bool, final: bool) -> None:
        if self.stream is None:
            return
        failed = outcome is not None and outcome.state == "FAIL"
        if failed:
            self.failed_here += 1
            self._write_line(self.failure_line(outcome))
        since = time.monotonic() - self.last_line
        if not (force or final or failed or since >= (_TTY_EVERY_S if self.tty else _PLAIN_EVERY_S)):
            return  # the status costs two queries: not after every fast trial
        self.last_line = time.monotonic()
        counts = self.handle.counts()
        finished = self._finished(counts)
        metric, best = self.handle.spec.objective.metric, self._best()
        status = (f"{counts['COMPLETE']} complete, {counts['PRUNED']} pruned, {counts['FAIL']} failed, "
                  f"best {metric}={best}")
        if self._bar is not None:
            if final:
                self._bar.bar_format = _BAR_FORMAT_DONE if self.total else _COUNTER_FORMAT
            self._bar.n = finished
            # The longest status that leaves the bar room in this terminal's width (read at every redraw).
            short = [status, f"{counts['COMPLETE']} ok, {counts['PRUNED']} pruned, {counts['FAIL']} failed, best {best}",
                     f"{counts['FAIL']} failed, best {best}", f"{counts['FAIL']} failed"]
            room = _columns(self.stream) - _fixed_width(self._bar) - _MIN_BAR
            self._bar.set_postfix_str(next((t for t in short if len(t) + 2 <= room), ""), refresh=False)
            self._bar.refresh()
            return
        elapsed = time.monotonic() - self.started
        done_here = finished - self.done_at_start
        eta = ""
        if not final and self.total and done_here > 0 and finished < self.total:
            eta = f" eta {_fmt_s(elapsed / done_here * (self.total - finished))}"
        of = f"/{self.total}" if self.total else ""
        line = f"[{self.handle.name}] {finished}{of} finished ({status}), {_fmt_s(elapsed)}{eta}"
        if line != self.last_text:
            self.last_text = line
            self.stream.write(line + "\n")
            self.stream.flush()

    def _best(self) -> str:
        try:
            return f"{self.handle.study.best_value:.4g}"
        except ValueError:
            return "-"

    def _write_line(self, text: str) -> None:
        assert self.stream is not None
        if self._bar is not None:
            self._bar.write(text, file=self.stream)  # clears the bar, writes the line, redraws the bar below it
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def note(self, text: str) -> None:
        """A line of its own (a worker that died, a retry), above the bar."""
        if self.stream is not None:
            self._write_line(f"[{self.handle.name}] {text}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


# tqdm's own look: the status inside the brackets, after the times ("[01:02<00:30, 8 ok, ...]").
_BAR_FORMAT = "{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]"
_BAR_FORMAT_DONE = "{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"
_COUNTER_FORMAT = "{desc} {n_fmt} finished [{elapsed}{postfix}]"
_MIN_BAR = 10
_MAX_DESC = 20  # a long study name is cut in the bar (the failure lines and the summary say it whole)


def _columns(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return 80


def _fixed_width(bar) -> int:  # noqa: ANN001
    """The width of the bar's line without the bar and the status."""
    total = bar.total or 0
    return len(bar.desc) + len(" 100%|| ") + 2 * len(str(total or bar.n)) + 1 + len(" [00:00<00:00]")


def _make_bar(name: str, total: int | None, initial: int, stream: TextIO):  # noqa: ANN202
    from tqdm import tqdm

    tqdm.monitor_interval = 0  # no monitor thread: the bar is redrawn by the run loop only
    desc = f"[{name}]" if len(name) + 2 <= _MAX_DESC else f"[{name[:_MAX_DESC - 3]}…]"
    return tqdm(total=total, initial=min(initial, total) if total else initial, file=stream, desc=desc,
                unit="trial", dynamic_ncols=True, leave=True, smoothing=0.1, mininterval=0,
                bar_format=_BAR_FORMAT if total else _COUNTER_FORMAT)


def describe_failure(study: str, outcome: Outcome, log_dir: Path | None = None) -> str:
    """``[study] trial 3 failed (exception): RuntimeError: ...; log: lrsearch-logs/study/trial-3.log``"""
    text = f"[{study}] trial {outcome.number} failed ({outcome.reason})"
    if outcome.error:
        text += f": {outcome.error}"
    log = outcome.log_path or (str(trial_log_path(log_dir, study, outcome.number)) if log_dir is not None else None)
    if log:
        text += f"; log: {shown_path(Path(log))}"
    return text


def shown_path(path: Path) -> str:
    """A log path relative to the working directory when it lies inside it (short enough for a narrow pane)."""
    try:
        return os.path.relpath(path) if Path(path).resolve().is_relative_to(Path.cwd().resolve()) else str(path)
    except ValueError:  # another drive (Windows)
        return str(path)


def _fmt_s(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
