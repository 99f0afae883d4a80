"""Study files that are not what they should be: not UTF-8, a YAML alias bomb, a huge file, ``true`` for a
number. Each is refused at once, exit 2, naming the problem; nothing is created."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lrsearch.config import load_spec
from lrsearch.config._load import MAX_SPEC_BYTES, MAX_SPEC_NODES
from lrsearch.errors import SpecError
from tests.conftest import run_cli, write_spec
from tests.reliability._helpers import refused, tiny_spec

# The "billion laughs": nine levels of nine aliases, about 4e8 strings once expanded, in 800 bytes.
BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8))


def _spec_text(**overrides: object) -> str:
    return yaml.safe_dump(tiny_spec(**overrides), sort_keys=False)


@pytest.mark.slow
def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_bytes(_spec_text().encode() + "description: caf\xe9\n".encode("latin-1"))
    proc = run_cli("validate", str(path))
    refused(proc, "not UTF-8 text: byte 0xe9 at line", "save the study file as UTF-8")


@pytest.mark.slow
def test_an_alias_bomb_is_refused_without_expanding_it(tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text(_spec_text() + "task_notes:\n" + "".join("  " + line + "\n" for line in BOMB.splitlines()))
    assert path.stat().st_size < 2000
    with pytest.raises(SpecError, match=f"expands to more than {MAX_SPEC_NODES:,} values"):
        load_spec(path)  # in-process: a bomb that were expanded would take minutes and gigabytes here
    refused(run_cli("run", str(path), cwd=tmp_path), "through its aliases")
    assert not (tmp_path / "lrsearch.db").exists()


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text(_spec_text() + "loop: &loop [*loop]\n")
    with pytest.raises(SpecError, match="through its aliases"):
        load_spec(path)


def test_ordinary_anchors_and_merge_keys_still_work(tmp_path: Path) -> None:
    spec = tiny_spec()
    text = yaml.safe_dump(spec, sort_keys=False).replace("groups:\n", "lr_range: &lr {low: 0.001, high: 0.3, log: true}\ngroups:\n")
    path = tmp_path / "study.yaml"
    path.write_text(text)
    with pytest.raises(SpecError, match="lr_range"):  # an unknown key: the anchor itself parsed fine
        load_spec(path)


@pytest.mark.slow
def test_a_huge_file_is_refused_by_its_size(tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    with open(path, "w") as fh:
        fh.write(_spec_text())
        fh.write("description: |\n")
        line = "  " + "x" * 98 + "\n"
        fh.write(line * (MAX_SPEC_BYTES // len(line) + 10))
    proc = run_cli("run", str(path), cwd=tmp_path)
    refused(proc, f"larger than {MAX_SPEC_BYTES:,} bytes")
    assert not (tmp_path / "lrsearch.db").exists()


@pytest.mark.parametrize(("overrides", "problem"), [
    ({"budget": {"trials": True, "epochs": 1}}, "budget.trials: must be a number, got true"),
    ({"budget": {"trials": 3, "epochs": True}}, "budget.epochs: must be a number, got true"),
    ({"budget": {"trials": 3, "epochs": 1, "timeout": True}}, "budget.timeout: must be a duration"),
    ({"confirm": {"top": False}}, "confirm.top: must be a number, got false"),
])
def test_true_is_not_a_number(tmp_path: Path, overrides: dict, problem: str) -> None:
    path = write_spec(tmp_path, tiny_spec(**overrides))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert problem in str(info.value)


@pytest.mark.slow
def test_true_for_a_number_through_the_cli(tmp_path: Path) -> None:
    proc = run_cli("validate", str(write_spec(tmp_path, tiny_spec(budget={"trials": True, "epochs": 1}))))
    refused(proc, "budget.trials: must be a number, got true")
