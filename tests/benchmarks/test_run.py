"""The entry command's Markdown: tables, skipped suites, and RESULTS.md blocks that keep everything else."""

from __future__ import annotations

from pathlib import Path

from benchmarks._common import Result
from benchmarks.run import markdown, update_results_md

INFO = {"date": "2026-01-02 03:04 UTC", "cpu": "X", "cores": 2, "python": "3.11", "torch": "2", "optuna": "5"}


def test_markdown_has_every_row_and_says_why_a_suite_was_skipped() -> None:
    ok = Result("a", "Suite A", [{"x": 1.23456, "ratio": 1.0, "ok": True}], notes=["a note"], seeds=[0])
    skipped = Result("b", "Suite B", [], skipped="onnxruntime is not installed")
    text = markdown([ok, skipped], INFO, "python -m benchmarks.run a b")
    assert "| x | ratio | ok |" in text and "| 1.235 | 1 | yes |" in text
    assert "Skipped: onnxruntime is not installed." in text
    assert "Command: `python -m benchmarks.run a b`" in text and "cores 2" in text


def test_update_results_replaces_only_its_own_block(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    path.write_text("# Results\n\nHand-written intro.\n\n## Pruning (by hand)\n\nKeep me.\n")
    first = Result("loop", "Loop", [{"ratio": 1.5}], seeds=[0])
    update_results_md(path, [first], INFO, "python -m benchmarks.run loop")
    update_results_md(path, [Result("loop", "Loop", [{"ratio": 1.04}], seeds=[0]),
                             Result("lcbench", "LCBench", [], skipped="no data")], INFO, "cmd")
    text = path.read_text()
    assert "Hand-written intro." in text and "Keep me." in text
    assert text.count("<!-- suite:loop -->") == 1 and "| 1.04 |" in text and "| 1.5 |" not in text
    assert "suite:lcbench" not in text  # a skipped suite leaves the last real numbers alone


def test_a_crashing_suite_is_reported_and_the_others_go_on(monkeypatch, capsys) -> None:
    import types

    from benchmarks import run as entry
    from benchmarks._common import Skip

    def crash(quick: bool) -> Result:
        raise ValueError("boom")

    def skip(quick: bool) -> Result:
        raise Skip("no service")

    def fine(quick: bool) -> Result:
        return Result("fine", "Fine", [{"ratio": 1.0}], seeds=[0])

    mods = {name: types.SimpleNamespace(TITLE=name.title(), DEFAULT=True, run=fn)
            for name, fn in (("crash", crash), ("skip", skip), ("fine", fine))}
    monkeypatch.setattr(entry, "available", lambda: mods)
    monkeypatch.setattr(entry, "machine", lambda: INFO)
    assert entry.main(["--no-write"]) == 1
    out = capsys.readouterr().out
    assert "FAILED: ValueError: boom" in out and "Skipped: no service." in out and "| 1 |" in out
