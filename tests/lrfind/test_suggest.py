"""fastai's suggestion rules on recorded curves: smoothing, trimming, valley, steep, minimum."""

from __future__ import annotations

import math

import pytest

from lrsearch.lrfind import minimum, smooth, steep, suggest, valley
from lrsearch.lrfind._suggest import trimmed


def test_smoothing_is_fastais_debiased_moving_average() -> None:
    losses = [2.0, 1.0, 4.0]
    avg, expected = 0.0, []
    for n, loss in enumerate(losses, start=1):
        avg = 0.98 * avg + 0.02 * loss
        expected.append(avg / (1 - 0.98**n))
    assert smooth(losses) == pytest.approx(expected)
    assert smooth([3.0])[0] == pytest.approx(3.0), "debiasing makes the first value the first loss"


def test_trimming_drops_the_first_tenth_the_last_five_and_everything_after_a_nan() -> None:
    lrs = [float(i) for i in range(30)]
    losses = [1.0] * 30
    xs, ys = trimmed(lrs, losses, num_it=30)
    assert xs == lrs[3:25]
    losses[10] = math.nan
    xs, _ = trimmed(lrs, losses, num_it=30)
    assert xs == lrs[3:10]


def test_valley_is_halfway_along_the_longest_decreasing_run() -> None:
    lrs = [10.0 ** (i / 4 - 5) for i in range(16)]
    # flat, then strictly down over indices 3..11, then up
    losses = [3.0, 3.0, 3.0, 2.9, 2.7, 2.4, 2.0, 1.6, 1.3, 1.1, 1.0, 0.95, 1.5, 3.0, 6.0, 9.0]
    s = valley(lrs, losses)
    assert s is not None
    # fastai: the longest decreasing subsequence ends at 11 and has length 10 (from index 2), start = 11 - 10 = 1;
    # idx = 1 + int(10 / 3) + int(10 / 3 / 2) = 1 + 3 + 1 = 5
    assert s.lr == lrs[5] and s.loss_at == losses[5]


def test_steep_is_the_steepest_fall_per_log_lr_and_minimum_is_a_tenth_of_the_argmin() -> None:
    lrs = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    losses = [2.0, 1.9, 1.0, 0.8, 3.0]
    assert steep(lrs, losses).lr == 1e-3  # 1.9 -> 1.0 is the largest drop per decade
    m = minimum(lrs, losses)
    assert m.lr == pytest.approx(1e-2) and m.lr_at == 1e-1 and m.loss_at == 0.8


def test_suggest_on_a_typical_range_test_curve() -> None:
    num_it = 100
    lrs = [1e-7 * (1e8) ** (i / (num_it - 1)) for i in range(num_it)]
    # loss flat at low lr, falls between 1e-4 and 1e-1, blows up after
    losses = [2.3 - 1.8 / (1 + math.exp(-3 * (math.log10(lr) + 2.5))) + (50 * lr if lr > 0.1 else 0) for lr in lrs]
    found = suggest(lrs, smooth(losses), num_it)
    assert set(found) == {"valley", "steep", "minimum"}
    assert 1e-4 < found["valley"].lr < 1e-1
    assert 1e-4 < found["steep"].lr < 1e-1
    assert found["minimum"].lr == pytest.approx(found["minimum"].lr_at / 10)


def test_too_short_a_curve_gives_no_suggestion() -> None:
    assert suggest([1e-3] * 8, [1.0] * 8, num_it=100) == {}
