"""A Ctrl-C or SIGTERM (or a worker's stop signal) that is never lost.

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
_held = 0


def request_stop() -> None:
    global _requested
    _requested = True


def raise_if_stopped() -> None:
    """Raise ``KeyboardInterrupt`` when a stop was asked for and not acted on yet (and none is held back)."""
    if _requested and not _held:
        raise KeyboardInterrupt


def stop_requested() -> bool:
    return _requested


def on_stop_signal(signum: int, frame: FrameType | None) -> None:
    """The handler for Ctrl-C and SIGTERM: stop now, unless inside :func:`interrupts_held` (then at its end)."""
    request_stop()
    if not _held:
        raise KeyboardInterrupt


@contextmanager
def interrupts_held() -> Iterator[None]:
    """Hold a Ctrl-C or SIGTERM back while the block runs (it is acted on at the next :func:`raise_if_stopped`).

    For the steps that must not be cut in half: asking the study for a trial (a trial marked RUNNING that nobody
    knows of would stay so), failing an interrupted trial and queuing its config, a message to the supervisor.
    """
    global _held
    _held += 1
    try:
        yield
    finally:
        _held -= 1


@contextmanager
def sticky_ctrl_c() -> Iterator[None]:
    """While the block runs, a Ctrl-C or SIGTERM raises ``KeyboardInterrupt`` and leaves the flag set for the loop
    to see: SIGTERM (``docker stop``, a batch system's cancel, ``kill``) is acted on exactly as Ctrl-C is.

    Only where Python's own handlers are in place (the main thread; not a process started with SIGINT ignored, as
    a shell starts a background job). The flag is cleared on the way in and out.
    """
    main = threading.current_thread() is threading.main_thread()
    install_int = main and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    install_term = main and signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None)
    global _requested
    previous_int = signal.signal(signal.SIGINT, on_stop_signal) if install_int else None
    previous_term = signal.signal(signal.SIGTERM, on_stop_signal) if install_term else None
    _requested = False
    try:
        yield
    finally:
        if previous_int is not None:
            signal.signal(signal.SIGINT, previous_int)
        if previous_term is not None:
            signal.signal(signal.SIGTERM, previous_term)
        _requested = False
