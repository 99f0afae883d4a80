"""``trackers:`` in the spec: names and options checked by field, paths made absolute against the study file."""

from __future__ import annotations

from pathlib import Path

import pytest

from lrsearch.config import load_spec, parse_spec, spec_hash
from lrsearch.errors import SpecError
from lrsearch.trackers import TrackerEntry, get_tracker, tracker_names
from tests.config.builders import spec_data
from tests.conftest import write_spec


def test_unknown_trackers_and_options_are_problems_by_field() -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(spec_data(trackers=["mlflw", {"name": "tensorboard", "options": {"logdir": "x"}}]))
    assert info.value.problems == [
        ("trackers[0].name", f"unknown tracker 'mlflw'; did you mean 'mlflow'? known: {', '.join(tracker_names())}"),
        ("trackers[1].options", "tracker 'tensorboard' has no option 'logdir'; options: log_dir"),
    ]


def test_relative_paths_are_relative_to_the_study_file(tmp_path: Path) -> None:
    path = write_spec(tmp_path, spec_data(trackers=[
        {"name": "mlflow", "options": {"tracking_uri": "sqlite:///mlflow.db"}},
        "tensorboard",
        {"name": "mlflow", "options": {"tracking_uri": "http://tracking:5000", "experiment": "e"}},
    ]))
    spec = load_spec(path)
    assert spec.trackers[0].options == {"tracking_uri": f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"}
    assert spec.trackers[1].options == {"log_dir": str(tmp_path.resolve() / "runs")}
    assert spec.trackers[2].options == {"tracking_uri": "http://tracking:5000", "experiment": "e"}


def test_trackers_and_plugins_do_not_change_the_search_space() -> None:
    """A study may be resumed with trackers added or removed: its trials stay comparable."""
    plain = parse_spec(spec_data())
    tracked = parse_spec(spec_data(trackers=["tensorboard"], plugins=["json"]))
    assert spec_hash(plain) == spec_hash(tracked)


def test_validate_says_when_a_tracker_s_package_is_missing() -> None:
    mlflow = get_tracker("mlflow")
    assert mlflow is not None and mlflow.describe() in ("mlflow", "mlflow (not installed here: pip install 'lrsearch[mlflow]')")
    missing = TrackerEntry("wandb", mlflow.factory, "", "wandb", mlflow.options, module="no_such_package_xyz")
    assert missing.describe() == "wandb (not installed here: pip install 'lrsearch[wandb]')"
