"""A Ctrl-C (or a worker's stop signal) that is never lost.

CPython runs a signal handler between two bytecodes of the main thread, which can be inside a weakref callback or
a ``__del__`` that the garbage collector runs. A ``KeyboardInterrupt`` raised there is printed as "Exception
ignored in ..." and dropped, and the trial trains on as if nothing happened (seen here: a Ctrl-C during the first
trial, while torch imports its optimizer machinery, was lost that way about one time in three). So the handlers
also set a flag, and the training loop looks at it every step (:meth:`TrialContext.check_deadline`): a dropped
interrupt is raised again a step later.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

_requested = False


def request_stop() -> None:
    global _requested
    _requested = True


def raise_if_stopped() -> None:
    """Raise ``KeyboardInterrupt`` when a stop was asked for and not acted on yet."""
    if _requested:
        raise KeyboardInterrupt


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    request_stop()
    raise KeyboardInterrupt


@contextmanager
def sticky_ctrl_c() -> Iterator[None]:
    """While the block runs, a Ctrl-C raises ``KeyboardInterrupt`` and leaves the flag set for the loop to see.

    Only where Python's own handler is in place (the main thread; not a process started with SIGINT ignored, as a
    shell starts a background job). The flag is cleared on the way in and out.
    """
    install = (threading.current_thread() is threading.main_thread()
               and signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    global _requested
    previous = signal.signal(signal.SIGINT, _on_sigint) if install else None
    _requested = False
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        _requested = False
