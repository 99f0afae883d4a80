"""Training frameworks that own the loop, driven by a trial's :class:`~lrsearch.TrialContext`.

- :mod:`lrsearch.integrations.transformers`: Hugging Face ``Trainer`` (``pip install lrsearch[transformers]``).
- :mod:`lrsearch.integrations.lightning`: PyTorch Lightning (``pip install lrsearch[lightning]``).

Each gives the framework the trial's optimizer and per-group scheduler (a real torch ``LRScheduler``, stepped
per optimizer step), freezes groups at epoch starts, and reports every epoch's metrics through ``ctx.report``,
so a trial records the same per-epoch, per-group rows as the managed loop. This package imports neither
framework; each subpackage imports its own.
"""

from lrsearch.integrations._common import numeric_metrics

__all__ = ["numeric_metrics"]
