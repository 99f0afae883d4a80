"""The documentation site: it builds with ``mkdocs build --strict``, every guide joins the nav by itself, the
references are generated from the parser and the schema, and the cheap commands the pages show are run here and
print what the pages say they print."""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lrsearch.cli import build_parser, cli_reference, command_parsers
from lrsearch.config import study_file_reference
from tests.cli.forked import CliResult, run_cli

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
PAGES = sorted([REPO / "README.md", *DOCS.glob("*.md"), *DOCS.glob("guides/*.md")])
# Commands cheap enough to run for every page that shows them (no training, no database).
CHEAP = ("space", "validate", "schedules", "tasks", "--help", "--version", "completion")


def _hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="the docs extra is not installed: pip install -e '.[docs]'")
    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)], cwd=REPO,
                          capture_output=True, text=True, timeout=600, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    home = (site / "index.html").read_text()
    for guide in DOCS.glob("guides/*.md"):
        assert f'href="guides/{guide.stem}/"' in home, f"{guide.name} is missing from the nav"
    cli = (site / "reference" / "cli" / "index.html").read_text()
    assert all(f"lrsearch {name}" in cli for name in command_parsers(build_parser()))
    assert "--trials-per-device" in cli
    assert (site / "benchmarks" / "results" / "index.html").is_file()


def test_a_new_guide_joins_the_nav_without_an_edit(tmp_path: Path) -> None:
    hooks = _hooks()
    (tmp_path / "guides").mkdir()
    (tmp_path / "guides" / "zeta.md").write_text("# A guide added later\n\ntext\n")
    (tmp_path / "guides" / "alpha.md").write_text("# Another guide\n")
    nav = [{"Home": "index.md"}, {"Guides": "guides/"}, {"Reference": [{"CLI": "reference/cli.md"}]}]
    assert hooks._fill(nav, tmp_path) == [
        {"Home": "index.md"},
        {"Guides": [{"A guide added later": "guides/zeta.md"}, {"Another guide": "guides/alpha.md"}]},
        {"Reference": [{"CLI": "reference/cli.md"}]},
    ]


def test_the_cli_reference_lists_every_command_and_shown_option() -> None:
    page = cli_reference()
    for name, parser in command_parsers(build_parser()).items():
        assert f"## `lrsearch {name}`" in page
        for action in parser._actions:
            if action.option_strings and action.help != argparse.SUPPRESS and action.dest != "help":
                assert f"`{action.option_strings[-1]}" in page, f"{name} {action.option_strings}"
    assert "--devices" not in page  # hidden aliases stay hidden


def test_the_study_file_reference_lists_every_key() -> None:
    from lrsearch.config import StudySpec

    page = study_file_reference()
    schema = StudySpec.model_json_schema()
    for model in [schema, *schema["$defs"].values()]:
        for key in model.get("properties", {}):
            assert f"| `{key}` |" in page


def shown_commands() -> list[tuple[str, str, str]]:
    """``(page, command, the output shown under it)`` for each cheap ``$ lrsearch ...`` in a fenced block."""
    found = []
    for page in PAGES:
        for block in re.findall(r"^```[a-z]*\n(.*?)^```", page.read_text(), flags=re.S | re.M):
            parts = re.split(r"^\$ ", block, flags=re.M)
            for part in parts[1:]:
                command, _, output = part.partition("\n")
                words = command.split()
                files = [w for w in words if w.endswith((".yaml", ".yml"))]
                here = all((REPO / f).is_file() for f in files)  # a page's own scratch file is not checked
                if words[0] == "lrsearch" and len(words) > 1 and words[1] in CHEAP and "|" not in command and here:
                    found.append((page.relative_to(REPO).as_posix(), command, output))
    return found


def _normal(text: str) -> str:
    """Paths of the machine the output was recorded on do not count; trailing spaces neither."""
    text = re.sub(r"sqlite:////\S*?/(studies/)", r"sqlite:////.../\1", text)
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


SHOWN = shown_commands()


def test_the_pages_show_commands_to_check() -> None:
    assert {page for page, _, _ in SHOWN} >= {"README.md", "docs/getting-started.md", "docs/study-file.md"}


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CliResult]:
    """Every shown command, each in a real process (forked from one that imported lrsearch once)."""
    commands = sorted({command for _, command, _ in SHOWN})
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # help text wraps to the terminal
    try:
        results = run_cli([c.split()[1:] for c in commands], cwd=REPO)
    finally:
        os.environ.pop("COLUMNS") if saved is None else os.environ.__setitem__("COLUMNS", saved)
    return dict(zip(commands, results, strict=True))


@pytest.mark.parametrize(("page", "command", "output"), SHOWN, ids=[f"{p}: {c}" for p, c, _ in SHOWN])
def test_a_command_shown_in_the_docs_prints_what_they_show(ran: dict[str, CliResult], page: str, command: str,
                                                             output: str) -> None:
    proc = ran[command]
    assert proc.returncode == 0, f"{page}: `{command}` exited {proc.returncode}\n{proc.stderr}"
    if output.strip():
        assert shows(_normal(proc.stdout), _normal(output)), (
            f"{page}: `{command}` prints otherwise now:\n{proc.stdout}")


def shows(actual: str, shown: str) -> bool:
    """``shown`` is ``actual``, where a line ``...`` in ``shown`` stands for any lines the page left out, and a line
    ending in ``...`` for any line that starts like it."""
    lines = actual.splitlines()

    def same(got: list[str], want: list[str]) -> bool:
        return len(got) == len(want) and all(
            g == w or (w.endswith("...") and g.startswith(w[:-3])) for g, w in zip(got, want, strict=True))

    segments: list[list[str]] = [[]]
    for line in shown.splitlines():
        if line.strip() == "...":
            segments.append([])
        else:
            segments[-1].append(line)
    if len(segments) == 1:
        return same(lines, segments[0])
    first, *middle, last = segments
    if not same(lines[:len(first)], first) or (last and not same(lines[len(lines) - len(last):], last)):
        return False
    at, end = len(first), len(lines) - len(last)
    for segment in middle:
        while at + len(segment) <= end and not same(lines[at:at + len(segment)], segment):
            at += 1
        if at + len(segment) > end:
            return False
        at += len(segment)
    return True


def test_elided_output_matches() -> None:
    assert shows("a\nb\nc\nd", "a\n...\nd") and shows("a\nb\nc", "...\nb\n...")
    assert not shows("a\nb\nc", "a\n...\nx") and not shows("a\nb", "a")
    assert shows("x, y, z, ...", "x, ...") and not shows("x, y", "z, ...")
