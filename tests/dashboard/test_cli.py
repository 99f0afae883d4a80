"""``lrsearch run`` publishes the panels, ``lrsearch dashboard`` serves them, ``lrsearch report`` writes them."""

from __future__ import annotations

import json
import re
import shutil
import socket
import sqlite3
import sys
from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest

from lrsearch.cli import main
from lrsearch.dashboard import publish_after_run
from lrsearch.results import best_trial, curves_frame, trials_frame
from tests.conftest import digits_spec, run_cli, write_spec
from tests.dashboard.conftest import Study, get, get_json

pytestmark = pytest.mark.slow  # the session's real digits study (tests/dashboard/conftest.py), real dashboards

PANEL_IDS = ["lrsearch-lr-curves", "lrsearch-value-vs-lr", "lrsearch-value-by-shape", "lrsearch-epochs"]


def _graphs(board, name: str) -> dict[str, dict]:  # noqa: ANN001
    detail = get_json(f"{board.base}/api/studies/{board.study_id(name)}")
    return {g["id"]: json.loads(g["graph_object"]) for g in detail["plotly_graph_objects"]}, detail["note"]["body"]


def own_copy(study: Study, directory: Path) -> Study:
    """The study file and its database copied into ``directory``: a test that writes changes only its copy."""
    shutil.copy(study.spec, directory / study.spec.name)
    with sqlite3.connect(study.db) as source, sqlite3.connect(directory / study.db.name) as dest:
        source.backup(dest)
    return Study(directory / study.spec.name, directory / study.db.name, study.name)


def test_run_published_the_panels_with_the_study_data(digits_study: Study, dashboard_of) -> None:  # noqa: ANN001
    board = dashboard_of("--storage", digits_study.url, "--no-publish")  # only what `lrsearch run` published
    graphs, note = _graphs(board, digits_study.name)
    assert sorted(graphs) == sorted(PANEL_IDS)
    trials = trials_frame(digits_study.url, digits_study.name)
    curves = curves_frame(digits_study.url, digits_study.name)

    # Effective lr curves: the 5 best COMPLETE trials (fewer if fewer completed), each group's recorded lrs.
    lr = graphs["lrsearch-lr-curves"]
    assert lr["layout"]["title"]["text"] == "Effective lr per group over training: top 5 trials"
    complete = trials[trials["state"] == "COMPLETE"].sort_values("value", ascending=False)
    top = complete["number"].head(5).tolist()
    drawn = {int(t["name"].split()[0][1:]) for t in lr["data"]}
    assert drawn == set(top)
    for trace in lr["data"]:
        number, group = trace["name"][1:].split(" ", 1)
        rows = curves[(curves["trial"] == int(number)) & (curves["group"] == group) & (curves["lr"] > 0)]
        assert trace["y"] == pytest.approx(rows.sort_values("epoch")["lr"].tolist())
        assert not group.endswith(".no_decay")

    # Objective against each group's lr: every COMPLETE trial at its resolved lr, per group.
    scatter = graphs["lrsearch-value-vs-lr"]
    complete_traces = [t for t in scatter["data"] if t["name"] == "complete"]
    assert len(complete_traces) == 2  # head and backbone
    for trace, column in zip(complete_traces, ["head.lr", "backbone.lr"], strict=True):
        expected = sorted(zip(complete[column], complete["value"], strict=True))
        drawn_points = sorted(zip(trace["x"], trace["y"], strict=True))
        assert [v for point in drawn_points for v in point] == pytest.approx([v for p in expected for v in p])

    # Epochs per trial: one bar per trial, its epochs run.
    bars = {n: e for t in graphs["lrsearch-epochs"]["data"] for n, e in zip(t["x"], t["y"], strict=True)}
    assert bars == dict(zip(trials["number"], trials["epochs_run"], strict=True))

    shapes = graphs["lrsearch-value-by-shape"]
    assert [a["text"] for a in shapes["layout"]["annotations"]][:2] == ["head", "backbone"]

    # The note: the best configuration, chosen like `lrsearch best` (confirmed mean first), and the ranking.
    best = best_trial(digits_study.url, digits_study.name)
    assert best.chosen_by == "confirmed"
    assert f"Best trial #{best.number} (by the best confirmed mean" in note
    assert "Confirmed on the held-out split" in note
    assert re.search(r"\| 1 \| #\d+ \|", note)
    assert "head " in note and "backbone " in note


def test_publish_only_refreshes_and_keeps_the_users_note(digits_study: Study, tmp_path: Path) -> None:
    from optuna_dashboard import get_note, save_note

    digits_study = own_copy(digits_study, tmp_path)  # the note written here must not reach the other tests
    study = optuna.load_study(study_name=digits_study.name, storage=digits_study.url)
    before = get_note(study)
    save_note(study, "My own finding: adamw needs warmup.\n\n" + before)
    proc = run_cli("dashboard", str(digits_study.spec), "--publish-only", check=True)
    assert "published 4 panels and the best-configuration note into study 'dash'" in proc.stdout
    after = get_note(study)
    assert after.startswith("My own finding: adamw needs warmup.")
    assert after.count("[//]: # (lrsearch:begin") == 1 and after.count("[//]: # (lrsearch:end)") == 1
    assert "Best trial #" in after


def test_report_is_one_offline_file_with_the_panels_and_the_trials(digits_study: Study, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    proc = run_cli("report", str(digits_study.spec), "-o", str(out), check=True)
    assert f"wrote {out}" in proc.stdout
    text = out.read_text()
    for panel in PANEL_IDS:
        assert f'id="{panel}"' in text
    assert not re.search(r"""<(script|link|img|iframe)[^>]+(src|href)=["']?(https?:)?//""", text)
    assert "Plotly.newPlot" in text and len(text) > 3_000_000  # plotly.js itself is inside
    table = text[text.index('<table class="trials">'):]
    rows = re.findall(r"<tr><td>#(\d+)</td>", table)
    trials = trials_frame(digits_study.url, digits_study.name)
    assert sorted(map(int, rows)) == sorted(trials["number"])
    best = trials[trials["state"] == "COMPLETE"].sort_values("value", ascending=False)["number"].iloc[0]
    assert int(rows[0]) == best, "the table lists the best trial first"
    assert "confirmed_mean" in table


def test_dashboard_stops_cleanly_on_sigterm(digits_study: Study, dashboard_of) -> None:  # noqa: ANN001
    board = dashboard_of(str(digits_study.spec), "--publish-every", "0")
    assert get(f"{board.base}/dashboard")[0] == 200
    output = board.stop()
    assert board.proc.returncode == 0, output
    assert f"serving sqlite:///{digits_study.db} at {board.base}/dashboard" in output
    assert "study 'dash': " in output and "lrsearch dashboard: stopped" in output
    assert "Traceback" not in output


@pytest.mark.parametrize("args, message", [
    (["dashboard"], "give a study file (STUDY.yaml), or --storage URL (or set $LRSEARCH_STORAGE)"),
    (["dashboard", "--storage", "sqlite:///{tmp}/none.db"], "no database at"),
    (["dashboard", "{spec}", "--publish-every", "often"], "--publish-every must be a duration"),
    (["dashboard", "{spec}", "--port", "70000"], "--port must be between 0 and 65535"),
    (["dashboard", "{spec}", "--publish-only", "--read-only"], "cannot go with --no-publish or --read-only"),
    (["dashboard", "--storage", "{url}", "--study", "nope", "--publish-only"], "no lrsearch study 'nope'"),
    (["dashboard", "{spec}", "--panels", "{tmp}/missing.yaml"], "panels file {tmp}/missing.yaml does not exist"),
    (["report", "{spec}", "-o", "{tmp}/report.txt"], "the report is an HTML file"),
    (["report", "{spec}", "-o", "{tmp}/no/such/dir/r.html"], "does not exist"),
    (["report", "--storage", "{url}", "--study", "nope", "-o", "{tmp}/r.html"], "no lrsearch study 'nope'"),
])
def test_bad_input_exits_2_with_a_message(digits_study: Study, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch, args: list[str], message: str) -> None:
    monkeypatch.delenv("LRSEARCH_STORAGE", raising=False)
    fill = {"tmp": str(tmp_path), "spec": str(digits_study.spec), "url": digits_study.url}
    assert main([a.format(**fill) for a in args]) == 2
    err = capsys.readouterr().err
    assert message.format(**fill) in err
    assert "Traceback" not in err


def test_a_port_in_use_is_a_clear_error(digits_study: Study, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["dashboard", str(digits_study.spec), "--port", str(port), "--no-publish"]) == 2
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in capsys.readouterr().err


def test_bad_panel_definitions_are_all_reported(digits_study: Study, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    panels = tmp_path / "panels.yaml"
    panels.write_text(
        "panels:\n"
        "  - {id: 'has space', kind: lr_curves, title: t}\n"
        "  - {id: a, kind: histogram, title: t}\n"
        "  - {id: b, kind: lr_curves, title: t, options: {top: 0, colour: red}}\n"
        "  - {id: c, kind: epochs_per_trial, title: 'by {owner}'}\n"
    )
    assert main(["report", str(digits_study.spec), "-o", str(tmp_path / "r.html"), "--panels", str(panels)]) == 2
    err = capsys.readouterr().err
    assert "5 problem(s)" in err  # every problem at once, two of them in one panel
    for expected in ["panels[0].id:", "panels[1].kind: unknown panel kind 'histogram'; known: lr_curves, value_vs_lr",
                     "panels[2].options.top: must be an integer >= 1, got 0",
                     "panels[2].options.colour: not an option of lr_curves (options: top)",
                     "panels[3].title: unknown placeholder 'owner'"]:
        assert expected in err
    assert not (tmp_path / "r.html").exists()


def test_publishing_after_a_run_fails_soft(digits_study: Study, monkeypatch: pytest.MonkeyPatch) -> None:
    handle = SimpleNamespace(url=digits_study.url, name="no-such-study")
    with pytest.warns(RuntimeWarning, match="lrsearch panels not published into study 'no-such-study'"):
        assert publish_after_run(handle) is False
    monkeypatch.setitem(sys.modules, "optuna_dashboard", None)  # as if the dashboard extra were not installed
    with pytest.warns(RuntimeWarning, match=r"optuna_dashboard is not installed \(pip install 'lrsearch\[dashboard\]'\)"):
        assert publish_after_run(SimpleNamespace(url=digits_study.url, name=digits_study.name)) is False


@pytest.mark.postgres
def test_postgres_storage_publishes_and_serves_read_only(postgres_url: str, tmp_path: Path) -> None:
    from optuna_dashboard import get_note

    from lrsearch.dashboard import dashboard_storage

    spec = write_spec(tmp_path, digits_spec("pg", budget={"trials": 4, "epochs": 2}))
    run_cli("run", str(spec), "--storage", postgres_url, "--quiet", check=True)
    proc = run_cli("dashboard", "--storage", postgres_url, "--publish-only", check=True)
    assert "published 4 panels and the best-configuration note into study 'pg'" in proc.stdout
    storage = dashboard_storage(postgres_url, read_only=True)
    study = optuna.load_study(study_name="pg", storage=storage)
    assert "Best trial #" in get_note(study)
    assert {f"dashboard:plot_data:{p}:0" for p in PANEL_IDS} <= set(storage.get_study_system_attrs(study._study_id))
    with pytest.raises(Exception) as refused:
        storage.set_study_user_attr(study._study_id, "x", 1)
    assert "read-only transaction" in str(refused.value.__cause__ or refused.value)
    storage.engine.dispose()
