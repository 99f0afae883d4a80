"""The three ways to write a dimension, and what is rejected with which message."""

from __future__ import annotations

import math
import re

import pytest
from pydantic import ValidationError

from lrsearch.config import Dim, LrDim
from lrsearch.space import to_distribution


def test_scalar_is_a_fixed_value() -> None:
    dim = Dim.model_validate(0.1)
    assert dim.is_fixed and dim.fixed_value() == 0.1
    assert to_distribution(dim) is None
    assert Dim.model_validate("cosine").fixed_value() == "cosine"


def test_range_forms() -> None:
    plain = Dim.model_validate({"low": 0.0, "high": 0.2})
    log = Dim.model_validate({"low": 1e-4, "high": 1e-1, "log": True})
    stepped = Dim.model_validate({"low": 0, "high": 1, "step": 0.25})
    assert not plain.is_fixed and (plain.low, plain.high, plain.log) == (0.0, 0.2, False)
    assert stepped.step == 0.25 and stepped.values() == [0, 1]
    dist = to_distribution(log)
    assert (dist.low, dist.high, dist.log) == (1e-4, 1e-1, True)
    assert to_distribution(stepped).step == 0.25


def test_choices_form() -> None:
    dim = Dim.model_validate({"choices": ["sgd", "adamw"]})
    assert not dim.is_fixed and dim.values() == ["sgd", "adamw"]
    assert to_distribution(dim).choices == ("sgd", "adamw")


@pytest.mark.parametrize(
    "data", [{"low": 0.1, "high": 0.1}, {"choices": [0.5]}], ids=["equal-bounds", "one-choice"]
)
def test_degenerate_search_is_fixed(data: dict) -> None:
    dim = Dim.model_validate(data)
    assert dim.is_fixed and to_distribution(dim) is None


def test_integer_range_becomes_an_int_distribution() -> None:
    dist = to_distribution(Dim.model_validate({"low": 0, "high": 4, "step": 2}), integer=True)
    assert (dist.low, dist.high, dist.step) == (0, 4, 2)


def test_lr_dim_takes_ratio_of() -> None:
    dim = LrDim.model_validate({"ratio_of": "head", "low": 0.1, "high": 1.0})
    assert dim.ratio_of == "head" and not dim.is_fixed
    assert LrDim.model_validate(0.01).ratio_of is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"low": 0.5, "high": 0.1}, "low must be <= high, got low=0.5, high=0.1"),
        ({"low": 0.0, "high": 0.1, "log": True}, "low must be > 0 when log is true, got 0"),
        ({"low": -1.0, "high": 0.1, "log": True}, "low must be > 0 when log is true, got -1"),
        ({"choices": []}, "choices must not be empty"),
        ({}, "give exactly one of"),
        ({"low": 0.1}, "a range needs both low and high, got only low"),
        ({"high": 0.1}, "a range needs both low and high, got only high"),
        ({"low": 0.1, "high": 1.0, "choices": [0.5]}, "got low/high and choices"),
        ({"value": 0.1, "low": 0.1, "high": 0.2}, "got value and low/high"),
        ({"low": 0.1, "high": 1.0, "step": 0}, "step must be > 0, got 0"),
        ({"low": 0.1, "high": 1.0, "step": 0.1, "log": True}, "step cannot be combined with log: true"),
        ({"low": math.nan, "high": 1.0}, "low must be a finite number"),
        ({"low": 0.0, "high": math.inf}, "high must be a finite number"),
        ({"choices": [1, 2, 1]}, "choices must be distinct"),
        ({"choices": [[0.3, 0.6], [0.5]]}, "choices must be plain values"),
        ({"low": 0.1, "hihg": 1.0}, "Extra inputs"),
    ],
)
def test_invalid_dims(data: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        Dim.model_validate(data)
