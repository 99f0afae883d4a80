"""Writing files the way users expect: atomically, and with the permissions their umask gives.

``tempfile`` creates its files with mode 0600 whatever the umask, and a rename keeps that mode: a result written
that way is unreadable to the user's group, unlike every other file they make. Here the temporary file is
created with ``os.open(..., 0o666)``, which the kernel narrows by the umask, as ``open(path, "w")`` would.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO]:
    """A file to write that replaces ``path`` in one rename when the block ends (and vanishes if it raises)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """``path.write_text(text)``, atomically."""
    with atomic_open(path) as fh:
        fh.write(text)
