"""``lrsearch validate``: every shipped study passes; every broken spec exits 2 naming the field, no traceback.

Each file in ``tests/specs/`` is one kind of user error. Each of its ``# expect:`` comment lines is a fragment
the error output must contain; ``# args:`` adds command-line options. Add a file to add a case.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.forked import REPO, CliResult, run_cli

STUDIES = sorted((REPO / "studies").glob("*.yaml"))
BROKEN = sorted((REPO / "tests" / "specs").glob("*.yaml"))
# Studies whose validation imports a large framework (their own loop's module, or Keras): seconds each, so they
# are validated apart, in the slow tests.
HEAVY = {REPO / "studies" / name for name in ("hf_minilm_sentiment.yaml", "lightning_digits.yaml", "keras_fit.yaml")}


def comments(path: Path, key: str) -> list[str]:
    prefix = f"# {key}: "
    return [line[len(prefix):] for line in path.read_text().splitlines() if line.startswith(prefix)]


def argv(path: Path) -> list[str]:
    options = " ".join(comments(path, "args")).split() if path.exists() else []
    return ["validate", *options, str(path)]


MISSING = REPO / "tests" / "specs" / "no-such-study.yml"


def _run_all(paths: list[Path]) -> dict[Path, CliResult]:
    return dict(zip(paths, run_cli([argv(p) for p in paths]), strict=True))


@pytest.fixture(scope="module")
def results() -> dict[Path, CliResult]:
    """Every command line of this module but the heavy studies', run at once."""
    return _run_all([*(p for p in STUDIES if p not in HEAVY), *BROKEN, MISSING])


@pytest.fixture(scope="module")
def heavy_results() -> dict[Path, CliResult]:
    return _run_all(sorted(HEAVY))


def test_there_are_studies_and_broken_specs() -> None:
    assert STUDIES and len(BROKEN) >= 15
    assert HEAVY <= set(STUDIES), "a heavy study was renamed or removed"
    for path in BROKEN:
        assert comments(path, "expect"), f"{path.name} has no '# expect:' line"


@pytest.mark.parametrize("path", [pytest.param(p, marks=pytest.mark.slow) if p in HEAVY else p for p in STUDIES],
                         ids=lambda p: p.name)
def test_every_shipped_study_is_valid(request: pytest.FixtureRequest, path: Path) -> None:
    result = request.getfixturevalue("heavy_results" if path in HEAVY else "results")[path]
    assert result.returncode == 0, result.stderr
    assert f"{path}: valid" in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_broken_spec_exits_2_naming_the_field(results: dict[Path, CliResult], path: Path) -> None:
    result = results[path]
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: "), result.stderr
    for fragment in comments(path, "expect"):
        assert fragment in result.stderr, f"{fragment!r} not in:\n{result.stderr}"


def test_problems_are_listed_one_per_line_under_a_count(results: dict[Path, CliResult]) -> None:
    stderr = results[REPO / "tests" / "specs" / "several_problems.yaml"].stderr
    head, *lines = stderr.rstrip("\n").splitlines()
    assert head == f"error: {REPO / 'tests' / 'specs' / 'several_problems.yaml'}: 5 problem(s) in the study spec:"
    assert len(lines) == 5 and all(line.startswith("  ") for line in lines)


@pytest.mark.slow
def test_the_console_script_itself(tmp_path: Path) -> None:
    """One fresh ``lrsearch`` process (the rest fork from a warm interpreter): the installed entry point."""
    script = Path(sys.executable).with_name("lrsearch")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "lrsearch"]
    broken = REPO / "tests" / "specs" / "unknown_shape.yaml"
    done = subprocess.run([*command, "validate", str(broken)], capture_output=True, text=True, cwd=tmp_path,
                          timeout=600, check=False)
    assert done.returncode == 2
    assert "schedule.shape: unknown shape 'onecycel'" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_missing_file(results: dict[Path, CliResult]) -> None:
    result = results[MISSING]
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr == f"error: {MISSING}: 1 problem(s) in the study spec:\n  no such file: {MISSING}\n"
