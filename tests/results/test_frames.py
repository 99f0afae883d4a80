"""The trials and curves frames, read from a real SQLite file, and their round trip through CSV and Parquet."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import optuna
import pandas as pd
import pytest

from lrsearch.api import run_study
from lrsearch.errors import LrsearchError
from lrsearch.results import curves_frame, read_frame, replay_trial, trials_frame, write_frame
from tests.conftest import digits_spec, run_cli, write_spec
from tests.results.conftest import Studies


def optuna_trials(studies: Studies, name: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=studies.url).trials


@pytest.mark.slow
def test_one_row_per_trial_with_optunas_states_values_and_params(studies: Studies) -> None:
    frame = trials_frame(studies.url, "alpha")
    trials = optuna_trials(studies, "alpha")
    assert list(frame["number"]) == [t.number for t in trials]
    assert list(frame["state"]) == [t.state.name for t in trials]
    for t, row in zip(trials, frame.itertuples(index=False), strict=True):
        assert (row.value == t.value) if t.state.name == "COMPLETE" else pd.isna(row.value)
        for name, value in t.params.items():
            assert frame.loc[row.number, name] == value, name
        inactive = set(frame.columns[frame.columns.get_loc("opt.name"):]) - set(t.params)
        assert frame.loc[row.number, list(inactive)].isna().all(), "a parameter a trial did not sample is empty"
        assert row.seed == row.number, "trial seeds are task.seed + number"
        assert row.device == "cpu/1t" and row.duration_s > 0
    # Stable names as columns, conditional momentum present because some trials chose sgd.
    for column in ("opt.name", "head.lr", "head.weight_decay", "backbone.lr_ratio", "backbone.momentum",
                   "schedule.head.shape", "schedule.backbone.warmup"):
        assert column in frame.columns
    # The backbone's resolved lr: head.lr * backbone.lr_ratio.
    assert (frame["backbone.lr"] - frame["head.lr"] * frame["backbone.lr_ratio"]).abs().max() < 1e-15


@pytest.mark.slow
def test_epochs_run_agrees_with_the_curves(studies: Studies) -> None:
    trials = trials_frame(studies.url, ["alpha", "beta"])
    curves = curves_frame(studies.url, ["alpha", "beta"])
    last = curves.groupby(["study", "trial"])["epoch"].max()
    for row in trials.itertuples():
        assert row.epochs_run == last[(row.study, row.number)]
    pruned = trials[trials["state"] == "PRUNED"]
    assert len(pruned) and (pruned["epochs_run"] < 3).all()
    assert pruned["last_value"].notna().all() and pruned["value"].isna().all()


@pytest.mark.slow
def test_curves_hold_every_group_row_and_the_metrics(studies: Studies) -> None:
    curves = curves_frame(studies.url, "beta")
    with sqlite3.connect(studies.directory / "results.db") as conn:
        rows = conn.execute("SELECT trial_number, epoch, group_name, lr, momentum, weight_decay, frozen "
                            "FROM lrsearch_group_epochs WHERE study_name = 'beta'").fetchall()
    assert len(curves) == len(rows)
    by_key = curves.set_index(["trial", "epoch", "group"])
    for trial, epoch, group, lr, momentum, weight_decay, frozen in rows:
        row = by_key.loc[(trial, epoch, group)]
        assert (row["lr"], row["momentum"], row["weight_decay"], row["frozen"]) == (lr, momentum, weight_decay, bool(frozen))
    assert {"layers.1", "layers.2", "layers.1.no_decay", "head", "head.no_decay"} <= set(curves["group"])
    assert {"train_loss", "val_loss", "val_accuracy"} <= set(curves.columns)
    # A layer frozen for one epoch (freeze_epochs 1) shows as frozen in epoch 1 only.
    frozen = curves[curves["frozen"].astype(bool)]
    assert set(frozen["epoch"]) <= {1} and set(frozen["group"]) <= {"layers.1", "layers.1.no_decay", "layers.2",
                                                                     "layers.2.no_decay"}


@pytest.mark.slow
def test_several_studies_at_once(studies: Studies) -> None:
    both = trials_frame(studies.url, ["alpha", "beta"])
    assert list(both["study"].unique()) == ["alpha", "beta"]
    assert len(both) == len(trials_frame(studies.url, "alpha")) + len(trials_frame(studies.url, "beta"))
    assert both.columns.is_unique and "layers.layer_decay" in both.columns and "backbone.lr_ratio" in both.columns
    assert len(trials_frame(studies.url)) >= len(both), "no study argument: every study in the storage"


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_frames_round_trip_with_the_same_columns_and_dtypes(studies: Studies, tmp_path: Path, suffix: str) -> None:
    for kind, frame in (("trials", trials_frame(studies.url, ["alpha", "beta"])),
                        ("curves", curves_frame(studies.url, ["alpha", "beta"]))):
        path = write_frame(frame, tmp_path / f"{kind}{suffix}")
        back = read_frame(path, kind)
        pd.testing.assert_frame_equal(back, frame, check_exact=True)
        if suffix == ".parquet":
            assert dict(pd.read_parquet(path).dtypes) == dict(frame.dtypes), "plain pandas reads the same types"


@pytest.mark.slow
def test_export_command_writes_both_formats(studies: Studies, tmp_path: Path) -> None:
    out = run_cli("export", str(studies.beta), "-o", str(tmp_path / "t.parquet"), "--curves",
                  str(tmp_path / "c.csv"), check=True).stdout
    assert "wrote 6 trials" in out
    pd.testing.assert_frame_equal(read_frame(tmp_path / "t.parquet"), trials_frame(studies.url, "beta"))
    pd.testing.assert_frame_equal(read_frame(tmp_path / "c.csv", "curves"), curves_frame(studies.url, "beta"))
    by_name = run_cli("export", "--storage", studies.url, "--study", "alpha", "-o", str(tmp_path / "a.csv"),
                      check=True)
    assert "wrote 8 trials" in by_name.stdout


@pytest.mark.slow
def test_export_errors_name_the_option_and_what_is_valid(studies: Studies, tmp_path: Path) -> None:
    bad = run_cli("export", str(studies.alpha), "-o", str(tmp_path / "t.xlsx"))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "-o" in bad.stderr and ".csv, .parquet" in bad.stderr
    unknown = run_cli("export", "--storage", studies.url, "--study", "gamma", "-o", str(tmp_path / "t.csv"))
    assert unknown.returncode == 2 and "no lrsearch study 'gamma'" in unknown.stderr
    assert "studies there: alpha, beta" in unknown.stderr
    with pytest.raises(LrsearchError, match="studies there"):
        curves_frame(studies.url, ["alpha", "nope"])


def test_failed_trials_keep_their_reason_through_export(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, digits_spec("boom", budget={"trials": 2, "epochs": 2, "trial_timeout": 0.001}))
    handle, _ = run_study(spec, trials=2, progress=None)
    frame = trials_frame(handle.url, "boom").head(3)
    assert set(frame["state"]) == {"FAIL"} and set(frame["fail_reason"]) == {"timeout"}
    assert frame["value"].isna().all() and frame["datetime_complete"].notna().all()
    for suffix in (".csv", ".parquet"):
        pd.testing.assert_frame_equal(read_frame(write_frame(frame, tmp_path / f"t{suffix}")), frame)
    with pytest.raises(LrsearchError, match=r"trial #0 of study 'boom' is FAIL \(reason: timeout\); replay needs"):
        replay_trial(handle.url, "boom", 0)
