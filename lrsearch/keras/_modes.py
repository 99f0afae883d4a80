"""Training and inference mode: Keras layers read ``training=``, not torch's ``Module.training``.

On the PyTorch backend ``model.train()`` and ``model.eval()`` only flip torch's flag. A Keras layer called without
``training=`` resolves it to False (inference), so a Keras model trained by a plain torch loop would never apply
dropout, and its BatchNormalization would normalise with the moving statistics and never update them.
:class:`KerasModule` closes the gap: its ``forward`` passes ``training=self.training``.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from lrsearch.keras._detect import is_keras_object, require_torch_backend


class KerasModule(nn.Module):
    """A Keras model as an ordinary torch module: ``train()``/``eval()`` decide Keras's ``training`` flag.

    ``forward(*args, **kwargs)`` calls ``keras_model(*args, training=self.training, **kwargs)`` (an explicit
    ``training=`` wins). The Keras model is a registered submodule, so ``.to()``, ``parameters()`` and
    ``state_dict()`` reach its variables; lrsearch's groups still name them as Keras does.
    """

    def __init__(self, keras_model: Any) -> None:
        if isinstance(keras_model, KerasModule) or not is_keras_object(keras_model):
            raise TypeError(f"KerasModule wraps a Keras 3 model, got {type(keras_model).__name__}")
        require_torch_backend()
        super().__init__()
        self.keras_model = keras_model

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("training", self.training)
        return self.keras_model(*args, **kwargs)


def unwrap(model: Any) -> Any | None:
    """The Keras model inside ``model`` (itself, or the one a :class:`KerasModule` holds); None for anything else."""
    if isinstance(model, KerasModule):
        return model.keras_model
    return model if is_keras_object(model) else None


def is_keras_model(model: Any) -> bool:
    """True for a Keras 3 model or layer, bare or in a :class:`KerasModule`."""
    return unwrap(model) is not None


def prepare_model(model: Any) -> Any:
    """What the managed loop trains: a Keras model in a :class:`KerasModule`; any other model unchanged.

    Raises:
        TaskError: The model is a Keras model and Keras is not on the PyTorch backend.
    """
    if isinstance(model, KerasModule) or not is_keras_object(model):
        return model
    return KerasModule(model)
