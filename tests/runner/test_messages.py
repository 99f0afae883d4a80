"""The worker-to-supervisor protocol and the stop rules both run loops share.

The messages go through a real pipe (pickled, as between processes); the stop rules are fed outcomes as a run
would, in this process or in the supervisor.
"""

from __future__ import annotations

import multiprocessing as mp

import pytest

from lrsearch.runner import Outcome, WorkerSlot
from lrsearch.runner._loop import StopRules
from lrsearch.runner._messages import ExitReason, ProtocolError, TrialFinished, TrialStarted, WorkerExiting
from lrsearch.runner._process import WorkerProcess


def _worker_pipe(slot: int = 0) -> tuple[WorkerProcess, object]:
    ctx = mp.get_context("spawn")
    receiving, sending = ctx.Pipe(duplex=False)
    worker = WorkerProcess(WorkerSlot(index=slot, device="cpu", threads=1), ctx.Process(target=print), receiving)
    return worker, sending


def test_the_messages_of_a_trial_arrive_whole_and_in_order() -> None:
    worker, pipe = _worker_pipe(slot=1)
    sent = [TrialStarted(1, "study", 4, 17, "/logs/study/trial-4.log", "host:12"),
            TrialFinished(1, "study", Outcome(4, "FAIL", None, "exception", 2, "RuntimeError: boom", "/logs/x.log")),
            WorkerExiting(1, ExitReason.RECYCLE)]
    for message in sent:
        pipe.send(message)
    assert list(worker.received()) == sent
    assert list(worker.received()) == []  # nothing more: it does not wait


def test_a_message_outside_the_protocol_stops_the_supervisor_loudly() -> None:
    worker, pipe = _worker_pipe()
    pipe.send(TrialStarted(0, "study", 0, 1, "trial-0.log", "host:1"))
    pipe.send(("finished", 0, "study", Outcome(0, "COMPLETE", 0.5)))  # the old positional form
    received = worker.received()
    assert next(received).number == 0
    with pytest.raises(ProtocolError, match=r"worker 0 sent \('finished', 0, 'study'.*not a worker message"):
        next(received)


def test_a_message_in_the_name_of_another_worker_is_refused() -> None:
    worker, pipe = _worker_pipe(slot=2)
    pipe.send(WorkerExiting(3, ExitReason.DONE))
    with pytest.raises(ProtocolError, match="worker 2 sent a message in the name of worker 3"):
        list(worker.received())


def _fail(number: int, reason: str = "exception", error: str | None = None) -> Outcome:
    return Outcome(number, "FAIL", None, reason, error=error)


def test_the_same_error_three_times_in_a_row_stops_with_its_trials_named() -> None:
    rules = StopRules(max_failures=10)
    assert rules.add(_fail(0, error="ValueError: bad shape (3, 4)")) is None
    assert rules.add(_fail(1, reason="interrupted")) is None  # cut short by a stop: neither breaks nor extends
    assert rules.add(_fail(2, error="ValueError: bad shape (5, 6)")) is None  # numbers differ: the same error
    assert rules.add(_fail(3, error="ValueError: bad shape (7, 8)")) == "repeated error"
    note = rules.note("repeated error")
    assert note is not None and "trials 0, 2, 3 failed with the same error" in note


def test_a_completed_trial_breaks_the_run_of_errors() -> None:
    rules = StopRules()
    for number in (0, 1):
        assert rules.add(_fail(number, error="KeyError: 'x'")) is None
    assert rules.add(Outcome(2, "COMPLETE", 0.9)) is None
    for number in (3, 4):
        assert rules.add(_fail(number, error="KeyError: 'x'")) is None
    assert rules.add(_fail(5, error="KeyError: 'x'")) == "repeated error"


def test_many_failures_stop_the_run_even_when_their_errors_differ() -> None:
    rules = StopRules(max_failures=10)  # lrsearch run: max(10, budget) failed trials in all
    outcomes = [_fail(n, reason="nan") if n % 3 else Outcome(n, "COMPLETE", 0.1) for n in range(15)]
    verdicts = [rules.add(o) for o in outcomes]
    assert verdicts[:14] == [None] * 14 and verdicts[14] == "failures"  # the 10th failure is trial 14
    assert rules.note("failures") is None


def test_failures_in_a_row_stop_a_worker_pool_but_interrupted_trials_do_not_count() -> None:
    rules = StopRules(max_in_a_row=4)  # lrsearch worker: a machine where every trial fails
    assert [rules.add(_fail(n, reason="oom")) for n in range(3)] == [None] * 3
    assert rules.add(_fail(3, reason="interrupted")) is None
    assert rules.add(Outcome(4, "PRUNED", 0.3)) is None  # a pruned trial ran: the row starts again
    assert [rules.add(_fail(n, reason="timeout")) for n in range(5, 9)] == [None, None, None, "failures"]
