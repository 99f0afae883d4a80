"""LR range tests per parameter group (``lrsearch lr-find``), fastai's suggestions, and narrowed study files.

``lr_find(spec)`` runs the tests; ``write_narrowed`` writes the narrowed copy of the study file;
``load_results(study, storage)`` reads a stored result back (the report's entry point).
"""

from lrsearch.lrfind._figures import lrfind_figures
from lrsearch.lrfind._find import MODES, hold_point, lr_find, middle
from lrsearch.lrfind._narrow import narrow, yaml_number
from lrsearch.lrfind._plot import have_matplotlib, write_plots
from lrsearch.lrfind._range_test import Ramp, range_test
from lrsearch.lrfind._report import describe, shown
from lrsearch.lrfind._result import (
    JOINT,
    Curve,
    LrFindResult,
    NarrowedRange,
    load_results,
    results_dir,
    save_results,
)
from lrsearch.lrfind._suggest import SUGGESTERS, Suggestion, minimum, smooth, steep, suggest, valley
from lrsearch.lrfind._write import narrowed_text, write_narrowed

__all__ = [
    "JOINT", "MODES", "SUGGESTERS", "Curve", "LrFindResult", "NarrowedRange", "Ramp", "Suggestion", "describe",
    "have_matplotlib", "hold_point", "load_results", "lr_find", "lrfind_figures", "middle", "minimum", "narrow", "narrowed_text",
    "range_test", "results_dir", "save_results", "shown", "smooth", "steep", "suggest", "valley", "write_narrowed",
    "write_plots", "yaml_number",
]
