"""Keras names for torch parameters: what group patterns match when the model is a Keras model.

On the PyTorch backend each Keras variable's value is a ``torch.nn.Parameter``, and ``model.named_parameters()``
lists it as ``_torch_params.<variable path>`` (``torch_params.`` in older Keras), sorted by path. lrsearch names
it as Keras does instead: the variable's path (``backbone/conv1/kernel``, ``head/bias``), the same string that
Keras's own ``OptimizerMap`` matches, with the model's own name removed from its front where Keras puts it
(subclassed models build their layers inside their own name scope: ``my_net/head/kernel`` becomes
``head/kernel``; the model's name changes each time one is built in a process, the rest does not).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from lrsearch.errors import TaskError
from lrsearch.keras._detect import loaded_keras, require_torch_backend
from lrsearch.keras._modes import unwrap
from lrsearch.text import table_lines

Named = Sequence[tuple[str, torch.Tensor]]
Rule = Callable[[Any, Named], set[str]]

# Custom norm layers (keras_hub's RMSNormalization, a user's LayerNorm) are recognised by class name as well.
_NORM_NAME = re.compile(r"(Batch|Layer|Group|Instance|RMS)Norm")
_NORM_CLASSES = ("BatchNormalization", "LayerNormalization", "GroupNormalization", "RMSNormalization")


@dataclass(frozen=True)
class KerasVariable:
    """One Keras variable and the torch parameter that holds its value.

    Attributes:
        name: What group patterns match: ``path`` less the model's own name in front.
        path: ``variable.path`` as Keras has it.
        torch_name: The name ``model.named_parameters()`` gives the parameter ('' where torch does not list it).
        parameter: The ``torch.nn.Parameter`` that is the variable's value; the optimizer updates it in place.
        trainable: Keras's ``variable.trainable``; non-trainable variables (BatchNorm moving statistics, seed
            generator states) have ``requires_grad=False`` and so never join a group.
    """

    name: str
    path: str
    torch_name: str
    parameter: nn.Parameter
    trainable: bool


def keras_variables(model: Any) -> list[KerasVariable]:
    """Every variable of a Keras model (bare or in a KerasModule), in Keras's order, with its name and parameter.

    Raises:
        TaskError: Keras is not on the torch backend; the model has no variables yet (not built); two trainable
            variables share a name (Keras then keeps only one of them in ``named_parameters()``).
    """
    keras_model = unwrap(model)
    if keras_model is None:
        raise TypeError(f"keras_variables needs a Keras model, got {type(model).__name__}")
    require_torch_backend()
    variables = list(keras_model.variables)
    if not variables or not getattr(keras_model, "built", True):
        raise TaskError(
            f"the Keras model {keras_model.name!r} has no variables yet: build it in build_model before returning "
            "it (call it once on a batch, or model.build(input_shape)), so its groups can be formed"
        )
    torch_names = {id(p): n for n, p in keras_model.named_parameters(remove_duplicate=False)}
    prefix = f"{keras_model.name}/"
    table = []
    for variable in variables:
        parameter = variable.value
        if not isinstance(parameter, nn.Parameter):
            raise TaskError(f"Keras variable {variable.path!r} holds a {type(parameter).__name__}, not a torch "
                            "Parameter; lrsearch needs Keras 3 on the torch backend")
        path = variable.path
        table.append(KerasVariable(path.removeprefix(prefix), path, torch_names.get(id(parameter), ""), parameter,
                                   bool(variable.trainable)))
    _check_unique(table)
    return table


def _check_unique(table: Sequence[KerasVariable]) -> None:
    seen: dict[str, int] = {}
    for entry in table:
        if entry.trainable:
            seen[entry.name] = seen.get(entry.name, 0) + 1
    shared = sorted(name for name, count in seen.items() if count > 1)
    if shared:
        raise TaskError(
            f"{len(shared)} Keras variable path(s) belong to more than one trainable variable: {', '.join(shared)}; "
            "give the layers distinct names (name=...), since Keras on torch tracks one parameter per path"
        )


def named_parameters(model: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """``model.named_parameters()``, except that a Keras model's parameters carry their Keras names.

    This is the one place :mod:`lrsearch.groups` gets parameter names from.
    """
    if unwrap(model) is None:
        return list(model.named_parameters())
    return [(entry.name, entry.parameter) for entry in keras_variables(model)]


def _all_layers(keras_model: Any) -> Iterator[Any]:
    yield from keras_model._flatten_layers(include_self=True, recursive=True)


def _variables_of(model: Any, named: Named, accept: Callable[[Any], bool]) -> set[str]:
    # By identity: a layer's variables are the parameters in ``named`` whatever they are called.
    name_of = {id(p): n for n, p in named}
    return {
        name_of[id(v.value)]
        for layer in _all_layers(unwrap(model))
        if accept(layer)
        for v in layer.variables
        if id(v.value) in name_of
    }


def is_norm_layer(layer: Any) -> bool:
    keras = loaded_keras()
    assert keras is not None
    classes = tuple(getattr(keras.layers, n) for n in _NORM_CLASSES if hasattr(keras.layers, n))
    if isinstance(layer, keras.layers.Wrapper):  # SpectralNormalization wraps a layer whose kernel decays
        return False
    return isinstance(layer, classes) or _NORM_NAME.search(type(layer).__name__) is not None


def _bias(model: Any, named: Named) -> set[str]:
    return {n for n, _ in named if n.rsplit("/", 1)[-1] == "bias"}


def _norm(model: Any, named: Named) -> set[str]:
    return _variables_of(model, named, is_norm_layer)


def _embedding(model: Any, named: Named) -> set[str]:
    keras = loaded_keras()
    assert keras is not None
    return _variables_of(model, named, lambda layer: isinstance(layer, keras.layers.Embedding))


# ``ndim1`` needs nothing Keras-specific: torch's rule reads the parameters' shapes.
_RULES: dict[str, Rule] = {"bias": _bias, "norm": _norm, "embedding": _embedding}


def no_decay_rule(model: Any, rule: str) -> Rule | None:
    """The Keras version of a ``weight_decay_exclude`` rule for a Keras model; None for other models and rules.

    Keras biases are ``<layer>/bias``; norm and embedding layers are Keras layers, not torch modules.
    """
    return _RULES.get(rule) if unwrap(model) is not None else None


def describe_names(model: Any) -> str:
    """For a Keras model, a table of every variable: Keras name, shape, trainable, torch parameter; else ''."""
    if unwrap(model) is None:
        return ""
    table = keras_variables(model)
    header = ("keras name (what patterns match)", "shape", "trainable", "torch parameter")
    rows = [(e.name, str(tuple(e.parameter.shape)), "yes" if e.parameter.requires_grad else "no",
             e.torch_name or "(not listed by torch)") for e in table]
    lines = table_lines(rows, header=header)
    trainable = sum(1 for e in table if e.parameter.requires_grad)
    keras_model = unwrap(model)
    head = (f"Keras model {keras_model.name!r} on the torch backend: {len(table)} variable(s), {trainable} trainable; "
            "groups match the Keras names, non-trainable variables join no group")
    return "\n".join([head, *lines])
