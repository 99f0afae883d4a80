"""The narrowing rule and the narrowed copy of the study file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lrsearch.config import load_spec, parse_spec
from lrsearch.errors import LrsearchError, SpecError
from lrsearch.lrfind import (
    JOINT,
    Curve,
    LrFindResult,
    Suggestion,
    narrow,
    narrowed_text,
    write_narrowed,
    yaml_number,
)
from tests.conftest import digits_spec

STUDY = """\
# Transfer study.
# run: lrsearch run studies/transfer.yaml
name: "transfer"   # the study name
objective: {metric: val_accuracy, direction: maximize}
budget: {trials: 10, epochs: 3}
task:
  builtin: digits
optimizer:
  name: {choices: [sgd, adamw]}
groups:
  - name: head
    params: ["head.*"]
    lr:                      # the new head learns fast
      low: 1.0e-4
      high: 1.0
      log: true
  - name: backbone
    rest: true
    lr: {ratio_of: head, low: 0.001, high: 1.0, log: true}   # slower than the head
schedule:
  shape: [constant, cosine]
"""


def _result(curves: list[Curve], mode: str = "per-group") -> LrFindResult:
    return LrFindResult(study="transfer", mode=mode, task="digits", settings={}, hold={}, curves=curves)


def _curve(group: str, optimizer: str, lr: float | None, **kw: object) -> Curve:
    suggestions = {} if lr is None else {"valley": Suggestion("valley", lr, lr, 1.0)}
    return Curve(group=group, optimizer=optimizer, lrs=[], losses=[], smoothed=[], stopped="end",
                 suggestions=suggestions, **kw)


@pytest.fixture
def spec():
    return parse_spec(yaml.safe_load(STUDY))


def test_absolute_and_ratio_ranges_narrow_around_the_suggestions(spec) -> None:
    ranges = narrow(spec, _result([_curve("head", "sgd", 0.01), _curve("backbone", "sgd", 0.002)]))
    head, backbone = ranges
    assert (head.param, head.new, head.basis) == ("head.lr", [pytest.approx(0.00333), pytest.approx(0.03)], [0.01])
    assert backbone.param == "backbone.lr_ratio"
    assert backbone.basis == [pytest.approx(0.2)]
    assert backbone.new == [pytest.approx(0.0667), pytest.approx(0.6)]


def test_several_optimizers_get_a_range_that_covers_every_suggestion(spec) -> None:
    curves = [_curve("head", "sgd", 0.03), _curve("head", "adamw", 0.001),
              _curve("backbone", "sgd", 0.003), _curve("backbone", "adamw", 0.001)]
    head, backbone = narrow(spec, _result(curves), factor=2)
    assert head.new == [pytest.approx(0.0005), pytest.approx(0.06)]
    assert backbone.new == [pytest.approx(0.05), pytest.approx(2.0)]  # ratios 0.1 (sgd) and 1.0 (adamw)


def test_joint_mode_scales_the_lead_and_leaves_ratios_alone(spec) -> None:
    joint = _curve(JOINT, "sgd", 0.01, multipliers={"head": 1.0, "backbone": 0.1})
    head, backbone = narrow(spec, _result([joint], mode="joint"))
    assert head.new == [pytest.approx(0.00333), pytest.approx(0.03)]
    assert backbone.new is None and "unchanged" in backbone.note


def test_no_suggestion_and_fixed_lrs_stay_unchanged(spec) -> None:
    head, backbone = narrow(spec, _result([_curve("head", "sgd", None), _curve("backbone", "sgd", 0.01)]))
    assert head.new is None and "no valley suggestion" in head.note
    assert backbone.new is None  # its reference has no suggestion either
    fixed = parse_spec(digits_spec(groups=[{"name": "all", "rest": True, "lr": 0.01}]))
    (only,) = narrow(fixed, _result([_curve("all", "sgd", 0.05)]))
    assert only.new is None and "fixed" in only.note


@pytest.mark.parametrize("x", [1e-5, 3.456e-4, 0.0123, 0.5, 1.0, 3.0, 12.5, 1e5, 2.5e-10])
def test_numbers_are_written_so_that_pyyaml_reads_floats(x: float) -> None:
    text = yaml_number(x)
    assert isinstance(yaml.safe_load(f"v: {text}")["v"], float)
    assert float(text) == pytest.approx(x, rel=5e-3)


def test_the_copy_changes_only_the_name_the_ranges_and_the_run_comment(spec) -> None:
    ranges = narrow(spec, _result([_curve("head", "sgd", 0.01), _curve("backbone", "sgd", 0.002)]))
    text = narrowed_text(STUDY, ranges, "transfer-lrfind", "narrowed by lr-find", run_path="new.yaml")
    old, new = STUDY.splitlines(), text.splitlines()
    assert new[0] == "# narrowed by lr-find"
    changed = [(a, b) for a, b in zip(old, new[1:], strict=True) if a != b]
    assert changed == [
        ("# run: lrsearch run studies/transfer.yaml", "# run: lrsearch run new.yaml"),
        ('name: "transfer"   # the study name', "name: transfer-lrfind   # the study name"),
        ("      low: 1.0e-4", "      low: 0.00333"),
        ("      high: 1.0", "      high: 0.03"),
        ("    lr: {ratio_of: head, low: 0.001, high: 1.0, log: true}   # slower than the head",
         "    lr: {ratio_of: head, low: 0.0667, high: 0.6, log: true}   # slower than the head"),
    ]


def test_write_validates_and_refuses_to_overwrite_the_source(spec, tmp_path: Path) -> None:
    source = tmp_path / "transfer.yaml"
    source.write_text(STUDY)
    ranges = narrow(spec, _result([_curve("head", "sgd", 0.01), _curve("backbone", "sgd", 0.002)]))
    written = write_narrowed(source, tmp_path / "new.yaml", ranges, "transfer-lrfind", "narrowed")
    assert written.name == "transfer-lrfind"
    assert load_spec(tmp_path / "new.yaml").groups[0].lr.high == pytest.approx(0.03)
    with pytest.raises(LrsearchError, match="does not overwrite"):
        write_narrowed(source, source, ranges, "x", "narrowed")
    with pytest.raises(SpecError, match="name"):  # an invalid copy is reported, not written
        write_narrowed(source, tmp_path / "bad.yaml", ranges, " ", "narrowed")
    assert not (tmp_path / "bad.yaml").exists()
