"""Is this a Keras model, and is Keras on the PyTorch backend? Answered without importing Keras.

A Keras model can only exist once ``keras`` has been imported, so a process that never imported it (every
torch-only study) pays nothing: the checks look in ``sys.modules`` and stop there.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType
from typing import Any

from lrsearch.errors import TaskError

BACKEND_ENV = "KERAS_BACKEND"
INSTALL_HINT = "pip install 'lrsearch[keras]'"


def loaded_keras() -> ModuleType | None:
    """The imported ``keras`` module, or None when nothing in this process has imported it."""
    module = sys.modules.get("keras")
    return module if module is not None and hasattr(module, "layers") else None


def is_keras_object(obj: Any) -> bool:
    """True for a Keras 3 layer or model (a ``keras.Model`` is a ``keras.layers.Layer``), whatever its backend."""
    keras = loaded_keras()
    return keras is not None and isinstance(obj, keras.layers.Layer)


def backend_error(backend: str) -> TaskError:
    return TaskError(
        f"Keras is set to its {backend!r} backend; lrsearch's own loop trains Keras models on the PyTorch backend, where "
        f"a keras.Model is a torch.nn.Module whose variables are torch parameters. Set {BACKEND_ENV}=torch before "
        f"Keras is imported: `{BACKEND_ENV}=torch lrsearch run STUDY.yaml`, or os.environ['{BACKEND_ENV}'] = 'torch' "
        f"at the top of your task module, before `import keras`. To keep {backend!r} and train with model.fit, "
        f"give the study a task.train function that uses lrsearch.integrations.keras.fit_setup"
    )


def require_torch_backend() -> None:
    """Raise :class:`TaskError` saying to set ``KERAS_BACKEND=torch`` unless the loaded Keras runs on torch."""
    keras = loaded_keras()
    if keras is None:
        return
    backend = keras.backend.backend()
    if backend != "torch":
        raise backend_error(backend)


def import_keras(purpose: str = "this") -> ModuleType:
    """Import Keras 3 on the PyTorch backend (the default lrsearch sets), or say what to install or set.

    ``KERAS_BACKEND`` decides the backend once, when Keras is first imported; an explicit other value is an
    error here rather than a confusing failure later (Keras would also try to import jax or tensorflow).
    """
    chosen = os.environ.setdefault(BACKEND_ENV, "torch")
    if loaded_keras() is None and chosen != "torch":
        raise backend_error(chosen)
    try:
        import keras
    except ImportError as exc:
        raise TaskError(f"{purpose} needs Keras 3: {INSTALL_HINT} ({exc})") from None
    major = str(getattr(keras, "__version__", "0")).split(".")[0]
    if not major.isdigit() or int(major) < 3:
        raise TaskError(f"{purpose} needs Keras 3, found keras {keras.__version__}: {INSTALL_HINT}")
    require_torch_backend()
    return keras
