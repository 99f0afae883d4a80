"""The one plain-text table every command prints its columns with: exact lines, since users read them aligned."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lrsearch.text import table_lines


def test_columns_are_as_wide_as_their_widest_cell_two_spaces_apart() -> None:
    rows = [("head", "sgd", "0.1"), ("backbone", "adamw", "0.003")]
    assert table_lines(rows) == [
        "head      sgd    0.1",
        "backbone  adamw  0.003",
    ]


def test_a_header_counts_for_the_widths() -> None:
    lines = table_lines([("a", "1"), ("bb", "2")], header=("group name", "n"))
    assert lines == [
        "group name  n",
        "a           1",
        "bb          2",
    ]


def test_right_aligned_columns_line_up_their_last_digits() -> None:
    rows = [("1", "0.387707", "0"), ("12", "0.9", "-1.2e-07")]
    assert table_lines(rows, header=("epoch", "recorded val_loss", "diff"), right=(0, 1, 2)) == [
        "epoch  recorded val_loss      diff",
        "    1           0.387707         0",
        "   12                0.9  -1.2e-07",
    ]


def test_right_takes_negative_numbers_and_refuses_columns_the_table_lacks() -> None:
    assert table_lines([("a", "1"), ("bbb", "22")], right=(-1,)) == ["a     1", "bbb  22"]
    with pytest.raises(ValueError, match=r"right names columns of a table of 2, got \[2\]"):
        table_lines([("a", "1")], right=(2,))


def test_no_line_ends_in_spaces_when_a_last_cell_is_short_or_empty() -> None:
    rows = [("x", "a long description"), ("yy", ""), ("", "")]
    assert table_lines(rows) == ["x   a long description", "yy", ""]


def test_an_indent_comes_before_every_line_and_a_gap_between_columns() -> None:
    assert table_lines([("a", "b"), ("cc", "d")], indent="    ", gap=" | ") == ["    a  | b", "    cc | d"]


def test_a_rule_under_the_header_spans_each_column_and_the_last_one_its_heading() -> None:
    rows = [("head", "2", "head.weight, head.bias"), ("backbone", "10", "conv1.weight, ...")]
    assert table_lines(rows, header=("group", "tensors", "examples"), rule=True) == [
        "group     tensors  examples",
        "--------  -------  --------",
        "head      2        head.weight, head.bias",
        "backbone  10       conv1.weight, ...",
    ]


def test_a_rule_under_a_right_aligned_last_column_spans_the_column() -> None:
    lines = table_lines([("a", "123456")], header=("x", "n"), right={1}, rule=True)
    assert lines == ["x       n", "-  ------", "a  123456"]


def test_no_rows_leave_the_header_alone_and_no_header_nothing() -> None:
    assert table_lines([], header=("dimension", "distribution"), rule=True) == [
        "dimension  distribution",
        "---------  ------------",
    ]
    assert table_lines([]) == []
    assert table_lines(iter([("a", "b")])) == ["a  b"]  # any iterable of rows, consumed once


def test_a_row_with_a_cell_too_many_or_too_few_is_an_error_naming_it() -> None:
    with pytest.raises(ValueError, match=r"needs 2 cells, but row 1 has 3: \('c', 'd', 'e'\)"):
        table_lines([("a", "b"), ("c", "d", "e")])
    with pytest.raises(ValueError, match="needs 3 cells, but row 0 has 2"):
        table_lines([("a", "b")], header=("x", "y", "z"))


def test_importing_it_imports_nothing_heavy() -> None:
    code = "import sys, lrsearch.text; print(sorted(m for m in ('torch', 'optuna', 'pandas') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
