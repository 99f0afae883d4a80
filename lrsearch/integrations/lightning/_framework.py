"""Which Lightning: ``pytorch_lightning`` (what ``lrsearch[lightning]`` installs), else ``lightning.pytorch``.

A callback must subclass the ``Callback`` of the package whose ``Trainer`` runs it, so lrsearch uses one of
them per process: the standalone package when it is installed.
"""

from __future__ import annotations

try:
    import pytorch_lightning as pl
except ImportError:  # pragma: no cover - depends on what is installed
    try:
        import lightning.pytorch as pl  # type: ignore[no-redef]
    except ImportError:
        raise ImportError("lrsearch.integrations.lightning needs PyTorch Lightning: pip install 'lrsearch[lightning]'"
                          ) from None

__all__ = ["pl"]
