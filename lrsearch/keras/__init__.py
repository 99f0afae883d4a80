"""Keras 3 models in lrsearch, on Keras's PyTorch backend (``KERAS_BACKEND=torch``).

There a ``keras.Model`` is a ``torch.nn.Module`` whose variables are torch parameters, so lrsearch gives Keras
models what Keras itself lacks: per-group learning rates, momentum, weight decay, freezing and schedules.

- Detection (:func:`is_keras_model`): without importing Keras; a Keras model on another backend is a
  :class:`~lrsearch.errors.TaskError` that says to set ``KERAS_BACKEND=torch``.
- Naming (:func:`named_parameters`, :func:`keras_variables`): group patterns match Keras variable paths
  (``backbone/conv1/kernel``), not the backend's ``_torch_params.`` names; ``weight_decay_exclude`` rules
  know Keras biases, norm and embedding layers (:func:`no_decay_rule`).
- Modes (:class:`KerasModule`, :func:`prepare_model`): ``model.train()``/``model.eval()`` set Keras's
  ``training`` flag, so dropout and BatchNormalization behave as in ``fit`` and ``evaluate``.

This package does not import Keras; only :func:`import_keras` does.
"""

from lrsearch.keras._detect import BACKEND_ENV, import_keras, is_keras_object, require_torch_backend
from lrsearch.keras._modes import KerasModule, is_keras_model, prepare_model, unwrap
from lrsearch.keras._naming import (
    KerasVariable,
    describe_names,
    is_norm_layer,
    keras_variables,
    named_parameters,
    no_decay_rule,
)

__all__ = [
    "BACKEND_ENV",
    "KerasModule",
    "KerasVariable",
    "describe_names",
    "import_keras",
    "is_keras_model",
    "is_keras_object",
    "is_norm_layer",
    "keras_variables",
    "named_parameters",
    "no_decay_rule",
    "prepare_model",
    "require_torch_backend",
    "unwrap",
]
