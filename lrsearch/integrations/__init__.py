"""Training frameworks that own the loop, driven by a trial's :class:`~lrsearch.TrialContext`: lrsearch's
groups and schedules inside them.

- :mod:`lrsearch.integrations.keras`: Keras 3 ``model.fit`` on the JAX, TensorFlow or PyTorch backend.
- :mod:`lrsearch.integrations.transformers`: Hugging Face ``Trainer`` (``pip install lrsearch[transformers]``).
- :mod:`lrsearch.integrations.lightning`: PyTorch Lightning (``pip install lrsearch[lightning]``).

The torch ones give the framework the trial's optimizer and per-group scheduler (a real torch ``LRScheduler``,
stepped per optimizer step), freeze groups at epoch starts, and report every epoch's metrics through
``ctx.report``, so a trial records the same per-epoch, per-group rows as the managed loop. Each integration
imports its framework; this package imports none.
"""

from lrsearch.integrations._common import numeric_metrics

__all__ = ["numeric_metrics"]
