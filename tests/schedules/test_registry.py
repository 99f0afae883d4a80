"""Registry-wide properties: every registered shape is checked the day it is added."""

from __future__ import annotations

import ast
import inspect
import itertools
import math

import pytest

from lrsearch.errors import LrsearchError
from lrsearch.schedules import (
    Shape,
    ShapeParam,
    UnknownShapeError,
    all_shapes,
    describe_shapes,
    factor_source,
    get_shape,
    register,
    shape_names,
    validate_param,
    validate_params,
)

TOTALS = (1, 2, 3, 10, 97, 1000)
EXPECTED_SHAPES = {
    "constant",
    "step",
    "multistep",
    "exponential",
    "linear",
    "polynomial",
    "cosine",
    "cosine_restarts",
    "cyclic",
    "onecycle",
    "wsd",
    "inverse_sqrt",
    "flat_cos",
}


def variants(shape: Shape) -> list[dict]:
    """Defaults, every choice of each categorical/bool param, and the corners of the suggested ranges."""
    out = [shape.defaults()]
    for name, p in shape.params.items():
        if p.choices is not None:
            out += [{**shape.defaults(), name: c} for c in p.choices]
    ranged = [(name, (p.low, p.high)) for name, p in shape.params.items() if p.low is not None]
    for corner in itertools.product(*(values for _, values in ranged)):
        params = {
            **shape.defaults(),
            **{name: value for (name, _), value in zip(ranged, corner, strict=True)},
        }
        for name, p in shape.params.items():
            if p.kind == "int":
                params[name] = int(params[name])
        if not shape.problems(params):
            out.append(params)
    return out


def test_builtin_shapes_are_registered() -> None:
    assert EXPECTED_SHAPES <= set(shape_names())
    assert [s.name for s in all_shapes()] == shape_names()


@pytest.mark.parametrize("name", shape_names())
def test_factor_is_finite_nonnegative_and_peaks_at_most_one(name: str) -> None:
    shape = get_shape(name)
    for params, total in itertools.product(variants(shape), TOTALS):
        for step in range(total + 1):
            value = shape.factor(step, total, **params)
            assert math.isfinite(value) and 0.0 <= value <= 1.0 + 1e-12, (params, total, step, value)


@pytest.mark.parametrize("name", shape_names())
def test_momentum_fraction_is_within_unit_interval(name: str) -> None:
    shape = get_shape(name)
    for params, total in itertools.product(variants(shape), TOTALS):
        for step in range(total + 1):
            value = shape.momentum_fraction_at(step, total, **params)
            assert 0.0 <= value <= 1.0 + 1e-12, (params, total, step, value)


@pytest.mark.parametrize("name", shape_names())
def test_factor_source_runs_standalone_with_only_math(name: str) -> None:
    shape = get_shape(name)
    source = factor_source(name)
    tree = ast.parse(source)
    assert not [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))], "no imports inside"
    assert "lrsearch" not in source
    namespace: dict = {}
    exec(compile("import math\n\n" + source, f"<{name} snippet>", "exec"), namespace)  # noqa: S102
    copied = namespace[shape.factor.__name__]
    copied_momentum = namespace[shape.momentum_fraction.__name__] if shape.momentum_fraction else None
    for params, total in itertools.product(variants(shape), (7, 100)):
        for step in range(total + 1):
            assert copied(step, total, **params) == shape.factor(step, total, **params)
            if copied_momentum is not None:
                assert copied_momentum(step, total, **params) == shape.momentum_fraction(
                    step, total, **params
                )


@pytest.mark.parametrize("name", shape_names())
def test_factor_signature_matches_declared_params(name: str) -> None:
    shape = get_shape(name)
    signature = inspect.signature(shape.factor).parameters
    assert list(signature)[:2] == ["step", "total"]
    assert {k: v.default for k, v in list(signature.items())[2:]} == shape.defaults()
    assert shape.description and shape.factor.__doc__


@pytest.mark.parametrize("name", shape_names())
def test_defaults_and_suggested_ranges_are_valid(name: str) -> None:
    shape = get_shape(name)
    for pname, p in shape.params.items():
        assert p.description
        assert validate_param(name, pname, p.default) is None, pname
        for value in (p.low, p.high, *(p.choices or ())):
            if value is not None:
                assert validate_param(name, pname, value) is None, (pname, value)
        if p.log:
            assert p.low is not None and p.low > 0
    assert validate_params(name, shape.defaults()) == []


def test_unknown_shape_lists_known_names() -> None:
    with pytest.raises(UnknownShapeError) as info:
        get_shape("cosin")
    assert isinstance(info.value, LrsearchError) and isinstance(info.value, KeyError)
    message = str(info.value)
    assert (
        message.startswith("unknown schedule shape 'cosin'; known: ")
        and "cosine" in message
        and "onecycle" in message
    )
    assert "known: constant" in validate_param("cosin", "min_ratio", 0.1)


@pytest.mark.parametrize(
    ("shape", "param", "value", "expected"),
    [
        ("cosine", "min_lr", 0.1, "schedule shape 'cosine' has no parameter 'min_lr'; it has: min_ratio"),
        ("constant", "gamma", 0.1, "has no parameter 'gamma'; it has: none"),
        ("cosine", "min_ratio", 1.5, "must be >= 0 and <= 1, got 1.5"),
        ("step", "step_size", 0.0, "must be > 0 and <= 1 (a fraction of the run), got 0.0"),
        ("step", "gamma", "0.1", "must be a number, got '0.1'"),
        ("cosine_restarts", "T_mult", 1.5, "must be a whole number, got 1.5"),
        ("cosine_restarts", "T_mult", 0, "must be >= 1, got 0"),
        ("onecycle", "anneal_strategy", "cosine", "must be one of 'cos', 'linear', got 'cosine'"),
        ("onecycle", "three_phase", 1, "must be true or false, got 1"),
        ("onecycle", "pct_start", float("nan"), "must be finite"),
        ("wsd", "decay_type", "sqrt", "one of 'linear', 'cosine', '1-sqrt'"),
        ("multistep", "milestones", [0.5, 0.4], "must be strictly increasing, got [0.5, 0.4]"),
        (
            "multistep",
            "milestones",
            [0.5, 1.2],
            "every item must be > 0 and <= 1 (a fraction of the run), got 1.2",
        ),
        ("multistep", "milestones", 0.5, "must be a non-empty list of numbers"),
        ("cyclic", "step_size_up", None, "must be given (float), got None"),
    ],
)
def test_validation_messages_name_the_rule(shape: str, param: str, value: object, expected: str) -> None:
    message = validate_param(shape, param, value)
    assert message is not None and expected in message


def test_valid_values_pass() -> None:
    assert validate_param("cyclic", "step_size_down", None) is None
    assert validate_param("cosine_restarts", "T_mult", 2.0) is None
    assert validate_param("multistep", "milestones", (0.3, 0.6)) is None
    assert validate_param("onecycle", "three_phase", True) is None


def test_cross_parameter_problems_are_reported() -> None:
    problems = validate_params("onecycle", {"three_phase": True, "pct_start": 0.6})
    assert problems == [
        ("", "three_phase needs pct_start < 0.5 (rise and fall both take pct_start), got 0.6")
    ]
    assert validate_params("onecycle", {"three_phase": True, "pct_start": 0.3}) == []
    assert validate_params("nope", {})[0][1].startswith("unknown schedule shape 'nope'")
    both = validate_params("cosine_restarts", {"T_0": 2.0, "T_mult": 0})
    assert [name for name, _ in both] == ["T_0", "T_mult"]


def test_resolve_fills_defaults_and_coerces() -> None:
    shape = get_shape("cosine_restarts")
    assert shape.resolve({"T_mult": 2.0}) == {"T_0": 0.25, "T_mult": 2, "min_ratio": 0.0, "cycle_decay": 1.0}
    assert isinstance(shape.resolve({"T_mult": 2.0})["T_mult"], int)
    with pytest.raises(
        LrsearchError, match="invalid parameters for schedule shape 'cosine_restarts': T_0: must be"
    ):
        shape.resolve({"T_0": -1})


def test_register_rejects_duplicates_and_mismatched_signatures() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register(Shape("cosine", "dup", get_shape("cosine").factor))

    def bad_factor(step: int, total: int, k: float = 2.0) -> float:
        return 1.0

    with pytest.raises(ValueError, match="default of k differs"):
        register(Shape("bad", "bad", bad_factor, params={"k": ShapeParam("float", 1.0, "k")}))
    with pytest.raises(ValueError, match="must take"):
        register(Shape("bad", "bad", bad_factor, params={}))
    assert "bad" not in shape_names()


def test_describe_shapes_lists_every_shape_and_param() -> None:
    text = describe_shapes()
    for shape in all_shapes():
        assert f"\n{shape.name}: " in text
        for pname in shape.params:
            assert pname in text
    assert "0.05..0.5 log" in text  # a suggested range
    assert "{cos, linear}" in text  # choices
    assert "[= OneCycleLR]" in text


def test_fraction_durations_round_to_whole_steps() -> None:
    step_shape = get_shape("step")
    # 0.15 * 133 = 19.95 -> a 20-step period; a tiny fraction still decays at least every step.
    assert step_shape.factor(19, 133, step_size=0.15, gamma=0.5) == 1.0
    assert step_shape.factor(20, 133, step_size=0.15, gamma=0.5) == 0.5
    assert step_shape.factor(3, 10, step_size=0.001, gamma=0.5) == 0.125
