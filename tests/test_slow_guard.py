"""The guard of the ``slow`` marker (tests/fixtures_tasks/slow.py): an unmarked test that starts something slow
fails naming itself and what it started; a marked one goes on; a shared fixture that started something makes
its later unmarked users fail too."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from tests.fixtures_tasks import slow


@pytest.fixture
def guard_state() -> Iterator[None]:
    """The guard's state as this test left it, restored afterwards for the tests that follow."""
    saved = (list(slow.current_test), list(slow.fixtures_in_setup), set(slow._slow_fixtures))
    yield
    slow.current_test[:], slow.fixtures_in_setup[:] = saved[0], saved[1]
    slow._slow_fixtures.clear()
    slow._slow_fixtures.update(saved[2])


def _item(nodeid: str, marked: bool, fixturenames: tuple[str, ...] = ()) -> SimpleNamespace:
    return SimpleNamespace(nodeid=nodeid, fixturenames=fixturenames,
                           get_closest_marker=lambda name: object() if marked and name == "slow" else None)


def test_an_unmarked_test_that_trains_fails_saying_what_it_started(guard_state: None) -> None:
    slow.current_test[:] = [_item("tests/x/test_a.py::test_quick", marked=False)]
    with pytest.raises(pytest.fail.Exception, match=r"tests/x/test_a.py::test_quick ran `lrsearch run` to its end "
                                                    r".* but is not marked slow: add @pytest.mark.slow"):
        slow.ran_cli(("run", "study.yaml"), 0)
    slow.ran_cli(("run", "study.yaml"), 2)  # refused before any trial: nothing trained
    slow.ran_cli(("validate", "study.yaml"), 0)


def test_a_marked_test_may_start_anything(guard_state: None) -> None:
    slow.current_test[:] = [_item("tests/x/test_a.py::test_long", marked=True)]
    slow.ran_cli(("confirm", "--study", "s"), 0)
    slow.starting("starts a dashboard server")


def test_a_shared_fixture_that_started_something_needs_every_user_marked(guard_state: None) -> None:
    slow.current_test[:] = [_item("tests/x/test_a.py::test_first", marked=True, fixturenames=("studies",))]
    slow.fixtures_in_setup[:] = [SimpleNamespace(scope="session", baseid="tests/x", argname="studies")]
    slow.ran_cli(("run", "alpha.yaml"), 0)
    slow.fixtures_in_setup.clear()

    slow.check_shared_fixtures(_item("tests/x/test_b.py::test_marked", marked=True, fixturenames=("studies",)))
    slow.check_shared_fixtures(_item("tests/y/test_c.py::test_elsewhere", marked=False, fixturenames=("studies",)))
    with pytest.raises(pytest.fail.Exception, match=r"test_b.py::test_reads uses the fixture 'studies'"):
        slow.check_shared_fixtures(_item("tests/x/test_b.py::test_reads", marked=False, fixturenames=("studies",)))
