"""The frames and confirmation on PostgreSQL (JSON columns, IN queries) as on SQLite."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from lrsearch.api import run_study
from lrsearch.results import confirmed_frame, curves_frame, read_frame, trials_frame, write_frame
from tests.conftest import digits_spec, write_spec

pytestmark = pytest.mark.postgres


@pytest.mark.slow
def test_frames_and_confirm_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    spec = digits_spec("pg", budget={"trials": 3, "epochs": 2}, confirm={"top": 1, "seeds": 2})
    handle, _ = run_study(write_spec(tmp_path, spec), storage=postgres_url, progress=None)
    trials = trials_frame(postgres_url, "pg")
    curves = curves_frame(postgres_url, "pg")
    assert len(trials) == 3 and set(trials["state"]) <= {"COMPLETE", "PRUNED"}
    assert len(curves) == 4 * int(trials["epochs_run"].sum()), "4 groups (head, backbone, and their no_decay)"
    ranking = confirmed_frame(postgres_url, "pg")
    assert list(ranking["n"]) == [2]
    assert trials.set_index("number").loc[int(ranking["number"].iloc[0]), "confirmed_n"] == 2
    for suffix in (".csv", ".parquet"):
        pd.testing.assert_frame_equal(read_frame(write_frame(trials, tmp_path / f"t{suffix}")), trials)
