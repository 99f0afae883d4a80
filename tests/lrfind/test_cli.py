"""``lrsearch lr-find`` as a user runs it: output, plots, stored results, the narrowed study, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from lrsearch.cli import main
from lrsearch.lrfind import load_results
from tests.conftest import run_cli, write_spec
from tests.lrfind.test_range_test import transfer_spec

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def found(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    tmp = tmp_path_factory.mktemp("lrfind")
    spec = transfer_spec(budget={"trials": 2, "epochs": 2}, pruner={"name": "none"},
                         optimizer={"name": {"choices": ["sgd", "adamw"]}})
    path = write_spec(tmp, spec)
    proc = run_cli("lr-find", str(path), "--iters", "40", "--write", str(tmp / "narrowed.yaml"), check=True)
    return tmp, proc


@pytest.mark.slow
def test_prints_suggestions_per_optimizer_and_group_and_the_narrowed_ranges(found) -> None:
    tmp, proc = found
    out = proc.stdout
    for optimizer in ("sgd", "adamw"):
        for group in ("head", "backbone"):
            assert any(line.split()[:2] == [optimizer, group] for line in out.splitlines()), out
    assert "head.lr" in out and "backbone.lr_ratio" in out
    assert "wrote" in out and "'lrf-lrfind'" in out


@pytest.mark.slow
def test_results_are_stored_for_the_report_with_plots(found) -> None:
    tmp, _ = found
    result = load_results("lrf", f"sqlite:///{tmp / 'lrsearch.db'}")
    assert result is not None and result.mode == "per-group"
    assert len(result.curves) == 4
    assert all(len(c.lrs) == len(c.smoothed) > 0 for c in result.curves)
    assert set(result.plots) == {"head", "backbone"}
    for png in result.plots.values():
        assert Path(png).read_bytes()[:8] == PNG
    again = load_results("lrf-lrfind", directory=tmp / "lrsearch-lrfind")
    assert again is not None and again.written is not None, "the narrowed study finds the result it came from"
    assert load_results("never-ran", directory=tmp / "lrsearch-lrfind") is None


@pytest.mark.slow
def test_the_narrowed_study_follows_the_rule_and_runs_beside_the_original(found) -> None:
    tmp, _ = found
    result = load_results("lrf", directory=tmp / "lrsearch-lrfind")
    sugg = result.group_suggestions("valley")
    data = yaml.safe_load((tmp / "narrowed.yaml").read_text())
    head_lr = data["groups"][0]["lr"]
    lows = [s["head"] for s in sugg.values()]
    assert head_lr["low"] == pytest.approx(min(lows) / 3, rel=5e-3)
    assert head_lr["high"] == pytest.approx(max(lows) * 3, rel=5e-3)
    ratio = data["groups"][1]["lr"]
    assert ratio["ratio_of"] == "head"
    assert ratio["low"] == pytest.approx(min(s["backbone"] / s["head"] for s in sugg.values()) / 3, rel=5e-3)
    assert main(["run", str(tmp / "study.yaml"), "--quiet", "--no-confirm"]) == 0
    # the same storage, a new name: not refused as a changed search space
    assert main(["run", str(tmp / "narrowed.yaml"), "--quiet", "--no-confirm"]) == 0


@pytest.mark.slow
def test_the_html_report_shows_the_lr_find_panels(found) -> None:
    pytest.importorskip("plotly")
    from lrsearch.dashboard import write_report

    tmp, _ = found
    url = f"sqlite:///{tmp / 'lrsearch.db'}"
    if not (tmp / "lrsearch.db").exists():
        assert main(["run", str(tmp / "study.yaml"), "--quiet", "--no-confirm"]) == 0
    html = write_report(url, "lrf", tmp / "report.html").read_text()
    assert 'data-panel="lrfind-head"' in html and 'data-panel="lrfind-backbone"' in html
    assert "lr-find (per-group)" in html


def test_joint_mode_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    import lrsearch.lrfind

    monkeypatch.setattr(lrsearch.lrfind, "have_matplotlib", lambda: False)
    path = write_spec(tmp_path, transfer_spec())
    assert main(["lr-find", str(path), "--mode", "joint", "--iters", "30", "--out", str(tmp_path / "o"),
                 "--runs", "2"]) == 0
    out = capsys.readouterr().out
    assert "seed 0..1 (mean loss of 2 runs)" in out
    assert "no plots: matplotlib is not installed (pip install 'lrsearch[plots]')" in out
    assert not list((tmp_path / "o").glob("*.png"))
    assert "all groups" in out and "ratio held fixed by the joint test" in out
    stored = json.loads((tmp_path / "o" / "lrf.json").read_text())
    assert [c["group"] for c in stored["curves"]] == ["(joint)"]
    assert stored["curves"][0]["multipliers"] == {"head": 1.0, "backbone": pytest.approx(0.1)}


@pytest.mark.parametrize("args, message", [
    (["--at", "head.lrr=0.1"], "not a dimension of this study"),
    (["--at", "head.lr"], "--at needs NAME=VALUE"),
    (["--at", "head.lr=5"], "outside the study's range"),
    (["--start", "1", "--end", "0.1"], "need 0 < start < end"),
    (["--iters", "5"], "--iters must be >= 20"),
    (["--groups", "neck"], "no group 'neck'"),
    (["--factor", "1"], "--factor must be > 1"),
    (["--runs", "0"], "--runs must be a whole number >= 1"),
])
def test_bad_arguments_exit_2_with_a_message(tmp_path: Path, capsys, args: list[str], message: str) -> None:
    path = write_spec(tmp_path, transfer_spec())
    assert main(["lr-find", str(path), "--no-plot", "--out", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_own_loop_study_and_missing_file_exit_2_without_traceback(tmp_path: Path, capsys) -> None:
    spec = transfer_spec(task={"train": "tests.tasks.sample_task:train"})
    assert main(["lr-find", str(write_spec(tmp_path, spec))]) == 2
    assert "own training loop" in capsys.readouterr().err
    assert main(["lr-find", str(tmp_path / "nope.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err
