"""The plots mark each suggestion at the lr its label names: ``minimum`` names a tenth of the lowest loss's lr."""

from __future__ import annotations

import math

import pytest

from lrsearch.lrfind import LrFindResult, lrfind_figures, suggest
from lrsearch.lrfind._result import Curve
from lrsearch.lrfind._suggest import marker_point


def _curve() -> Curve:
    lrs = [10 ** (-6 + 6 * i / 99) for i in range(100)]
    losses = [2.0 - 1.5 * math.exp(-((math.log10(lr) + 2) ** 2)) + (0.5 if lr > 0.3 else 0.0) for lr in lrs]
    return Curve(group="head", optimizer="sgd", lrs=lrs, losses=losses, smoothed=losses, stopped="end",
                 suggestions=suggest(lrs, losses, num_it=100))


def test_every_marker_sits_at_the_lr_of_its_label() -> None:
    curve = _curve()
    assert curve.suggestions["minimum"].lr == pytest.approx(curve.suggestions["minimum"].lr_at / 10)
    result = LrFindResult(study="s", mode="per-group", task="t", settings={}, hold={}, curves=[curve])
    ((_, figure),) = lrfind_figures(result)
    markers = {t.name: t for t in figure.data if t.mode == "markers"}
    assert len(markers) == len(curve.suggestions) == 3
    for name, s in curve.suggestions.items():
        trace = markers[f"sgd {name}: {s.lr:.2g}"]
        assert trace.x[0] == s.lr  # the x of the marker is the value in its label
        x, y = marker_point(curve.lrs, curve.smoothed, s)
        assert trace.y[0] == pytest.approx(y)
        i = max(k for k, lr in enumerate(curve.lrs) if lr <= s.lr)  # on the curve: between its neighbours
        assert min(curve.smoothed[i], curve.smoothed[i + 1]) - 1e-12 <= y <= max(curve.smoothed[i], curve.smoothed[i + 1]) + 1e-12


def test_the_png_marks_the_same_points(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib import pyplot as plt

    from lrsearch.lrfind import write_plots

    curve = _curve()
    result = LrFindResult(study="s", mode="per-group", task="t", settings={}, hold={}, curves=[curve])
    shown: dict[str, tuple[float, float]] = {}
    real_savefig = plt.Figure.savefig

    def capture(fig, *args, **kwargs):  # noqa: ANN001, ANN202
        for line in fig.axes[0].get_lines():
            if line.get_label().startswith("sgd ") and len(line.get_xdata()) == 1:
                shown[line.get_label()] = (line.get_xdata()[0], line.get_ydata()[0])
        return real_savefig(fig, *args, **kwargs)

    plt.Figure.savefig = capture
    try:
        write_plots(result, tmp_path)
    finally:
        plt.Figure.savefig = real_savefig
    minimum = curve.suggestions["minimum"]
    assert shown[f"sgd minimum: {minimum.lr:.2g}"][0] == minimum.lr
    assert list(tmp_path.glob("*.png"))
