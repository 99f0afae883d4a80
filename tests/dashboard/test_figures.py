"""The panel builders and the note, on small hand-made frames (the columns of trials_frame / curves_frame)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from lrsearch.dashboard._data import StudyContext, curve_groups, group_lr_columns, ranked
from lrsearch.dashboard._figures import epochs_per_trial, lr_curves, value_by_shape, value_vs_lr
from lrsearch.dashboard._summary import NOTE_BEGIN, NOTE_END, merge_note, summarize

NAN = math.nan
CTX = StudyContext("s", "val_loss", "minimize", epochs=3)


def _trials(rows: list[tuple]) -> pd.DataFrame:
    """(number, state, value, last_value, epochs_run, head.lr, backbone.lr, schedule.head.shape)"""
    columns = ["number", "state", "value", "last_value", "epochs_run", "head.lr", "backbone.lr",
               "schedule.head.shape"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["backbone.lr_ratio"] = frame["backbone.lr"] / frame["head.lr"]
    frame["confirmed_n"] = 0
    return frame


TRIALS = _trials([
    (0, "COMPLETE", 0.30, 0.30, 3, 0.1, 0.01, "cosine"),
    (1, "COMPLETE", 0.10, 0.10, 3, 0.05, 0.02, "onecycle"),
    (2, "PRUNED", NAN, 0.90, 1, 0.3, 0.3, "cosine"),
    (3, "COMPLETE", 0.20, 0.20, 3, 0.01, 0.001, "constant"),
    (4, "FAIL", NAN, NAN, 0, 0.2, 0.2, "cosine"),
])


def _curves(trials: list[int], epochs: int = 3, optimizer: str = "main") -> pd.DataFrame:
    rows = []
    for n in trials:
        for e in range(1, epochs + 1):
            for group, scale in (("head", 1.0), ("head.no_decay", 1.0), ("backbone", 0.1)):
                lr = 0.0 if (n == 3 and e == epochs) else 0.1 * scale / e / (n + 1)
                rows.append({"study": "s", "trial": n, "epoch": e, "step": e * 10, "optimizer": optimizer,
                             "group": group, "lr": lr, "momentum": 0.9, "weight_decay": 0.0, "frozen": e == 1 and group == "backbone"})
    return pd.DataFrame(rows)


def test_ranked_follows_the_direction_and_falls_back_to_the_last_reported_value() -> None:
    assert ranked(TRIALS, "minimize")["number"].tolist() == [1, 3, 0]
    assert ranked(TRIALS, "maximize")["number"].tolist() == [0, 3, 1]
    none_complete = TRIALS[TRIALS["state"] != "COMPLETE"]
    assert ranked(none_complete, "maximize")["number"].tolist() == [2]


def test_lr_curves_draws_each_group_of_the_top_trials_without_no_decay_companions_or_zeros() -> None:
    fig = lr_curves(TRIALS, _curves([0, 1, 2, 3]), CTX, "title", top=2)
    names = [t.name for t in fig.data]
    assert names == ["#1 head", "#1 backbone", "#3 head", "#3 backbone"]  # minimize: #1 then #3
    head_1 = fig.data[0]
    assert list(head_1.x) == [1, 2, 3] and list(head_1.y) == pytest.approx([0.05, 0.025, 0.05 / 3])
    assert list(fig.data[2].x) == [1, 2], "an lr of 0 cannot be drawn on a log axis"
    assert list(fig.data[1].marker.symbol) == ["x", "circle", "circle"], "frozen epochs are marked"
    assert fig.data[0].line.color == fig.data[1].line.color != fig.data[2].line.color
    assert fig.layout.yaxis.type == "log" and fig.layout.title.text == "title"


def test_group_labels_name_the_optimizer_when_there_are_several() -> None:
    curves = pd.concat([_curves([1], optimizer="gen"), _curves([1], optimizer="disc")])
    assert curve_groups(curves) == ["gen.head", "gen.backbone", "disc.head", "disc.backbone"]
    assert curve_groups(_curves([1])) == ["head", "backbone"]


def test_value_vs_lr_has_one_plot_per_group_with_pruned_trials_at_their_last_value() -> None:
    assert group_lr_columns(TRIALS, _curves([0])) == ["head.lr", "backbone.lr"]
    fig = value_vs_lr(TRIALS, _curves([0]), CTX, "t")
    assert [a.text for a in fig.layout.annotations] == ["head", "backbone"]
    complete = [t for t in fig.data if t.name == "complete"]
    assert [sorted(zip(t.x, t.y, strict=True)) for t in complete] == [
        [(0.01, 0.2), (0.05, 0.1), (0.1, 0.3)], [(0.001, 0.2), (0.01, 0.3), (0.02, 0.1)]]
    pruned = next(t for t in fig.data if t.name == "pruned (last reported)")
    assert list(pruned.x) == [0.3] and list(pruned.y) == [0.9]
    best = [t for t in fig.data if t.legendgroup == "best"]
    assert best[0].name == "best by search (#1)" and list(best[0].y) == [0.1]
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis2.type == "log"


def test_value_by_shape_boxes_the_complete_trials_per_shape() -> None:
    fig = value_by_shape(TRIALS, _curves([0]), CTX, "t")
    box = next(t for t in fig.data if t.type == "box")
    assert sorted(zip(box.x, box.y, strict=True)) == [("constant", 0.2), ("cosine", 0.3), ("onecycle", 0.1)]
    unsearched = value_by_shape(TRIALS.drop(columns=["schedule.head.shape"]), _curves([0]), CTX, "t")
    assert unsearched.data == () and "not searched" in unsearched.layout.annotations[0].text


def test_epochs_per_trial_counts_what_pruning_saved() -> None:
    fig = epochs_per_trial(TRIALS, _curves([0]), CTX, "t")
    bars = {t.name: dict(zip(t.x, t.y, strict=True)) for t in fig.data}
    assert bars == {"complete": {0: 3, 1: 3, 3: 3}, "pruned": {2: 1}, "failed": {4: 0}}
    texts = [a.text for a in fig.layout.annotations]
    assert "10 of 15 epochs trained (33% saved by pruning)" in texts
    assert "budget: 3 epochs a trial" in texts


@pytest.mark.parametrize("builder", [lr_curves, value_vs_lr, value_by_shape, epochs_per_trial])
def test_a_study_without_data_still_gets_its_panel(builder) -> None:  # noqa: ANN001
    empty = TRIALS.iloc[0:0]
    fig = builder(empty, _curves([]).reindex(columns=["trial", "epoch", "optimizer", "group", "lr", "frozen"]), CTX, "t")
    assert fig.layout.title.text == "t" and fig.data == ()
    assert fig.layout.annotations[0].text.startswith(("no ", "the schedule"))


def test_the_note_describes_the_study_and_keeps_the_users_text() -> None:
    summary = summarize(CTX, TRIALS, None)
    text = summary.markdown()
    assert "No trial has completed yet." in text
    assert "5 trials: 3 complete, 1 pruned, 1 failed; 10 of 15 epochs trained (33% saved by pruning)." in text
    first = merge_note("", text)
    assert first.startswith(NOTE_BEGIN) and first.endswith(NOTE_END)
    mine = "my notes\n\n" + first + "\n\nmore of mine"
    again = merge_note(mine, "new part")
    assert again == f"my notes\n\n{NOTE_BEGIN}\n\nnew part\n\n{NOTE_END}\n\nmore of mine"
    assert merge_note("only mine", "ours") == f"{NOTE_BEGIN}\n\nours\n\n{NOTE_END}\n\nonly mine"
