"""Per-trial log files: while a trial runs, the process's stdout and stderr (file descriptors 1 and 2, so that
output of C extensions and child processes is caught too) go to ``<log dir>/<study>/trial-<n>.log``."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")


def trial_log_path(log_dir: Path, study: str, number: int) -> Path:
    return Path(log_dir) / study_log_dir_name(study) / f"trial-{number}.log"


def study_log_dir_name(study: str) -> str:
    """A directory name for ``study`` that stays inside the log directory: ``..``, ``/`` and other characters a
    path would act on are replaced; a replaced name gets a short hash, so ``a b`` and ``a_b`` stay apart."""
    safe = _UNSAFE.sub("_", study)
    if safe.startswith("."):  # ".", "..", hidden names
        safe = "_" + safe
    if safe != study:
        safe += "-" + hashlib.sha256(study.encode()).hexdigest()[:8]
    return safe


@contextlib.contextmanager
def trial_output(path: Path | None) -> Iterator[Path | None]:
    """Send this process's stdout and stderr to ``path`` (appending) until the block ends; None: leave them."""
    if path is None:
        yield None
        return
    saved_objects = sys.stdout, sys.stderr
    for stream in saved_objects:
        _flush(stream)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except FileNotFoundError:  # the first trial of the study here
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    saved = [os.dup(1), os.dup(2)]
    text = None
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        # Streams not bound to fds 1 and 2 (notebooks, pytest's capture) would miss the file: point them at it.
        if not (_writes_to_fd(sys.stdout, 1) and _writes_to_fd(sys.stderr, 2)):
            text = io.TextIOWrapper(os.fdopen(os.dup(fd), "wb", buffering=0), encoding="utf-8",
                                    errors="replace", line_buffering=True, write_through=True)
            if not _writes_to_fd(sys.stdout, 1):
                sys.stdout = text
            if not _writes_to_fd(sys.stderr, 2):
                sys.stderr = text
        yield path
    finally:
        for stream in (sys.stdout, sys.stderr):
            _flush(stream)
        sys.stdout, sys.stderr = saved_objects
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for f in (*saved, fd):
            os.close(f)
        if text is not None:
            text.close()


def _writes_to_fd(stream: object, fd: int) -> bool:
    try:
        return stream.fileno() == fd  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return False


def _flush(stream: object) -> None:
    with contextlib.suppress(Exception):
        stream.flush()  # type: ignore[attr-defined]


def log_tail(path: str | Path | None, lines: int = 40, max_chars: int = 8000) -> str:
    """The last ``lines`` lines of a log file ('' when there is none)."""
    if not path:
        return ""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - max_chars))
            data = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(line if len(line) <= 300 else line[:300] + " ..." for line in data.splitlines()[-lines:])
