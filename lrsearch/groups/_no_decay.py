"""The weight-decay exclusions: which parameters get no weight decay, and the ``<name>.no_decay`` split."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import replace

import torch
from torch import nn

from lrsearch.groups._assign import ResolvedGroup
from lrsearch.groups._patterns import compile_pattern, example_names, format_names, quote
from lrsearch.keras import named_parameters, no_decay_rule  # Keras names, Keras bias/norm layers

NO_DECAY_SUFFIX = ".no_decay"

NORM_TYPES: tuple[type[nn.Module], ...] = (
    nn.modules.batchnorm._NormBase,  # BatchNorm1d/2d/3d, SyncBatchNorm, InstanceNorm*, the lazy variants
    nn.LayerNorm,
    nn.GroupNorm,
    nn.LocalResponseNorm,
    nn.CrossMapLRN2d,
    *((nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ()),  # torch >= 2.4
)
# Custom norms (LlamaRMSNorm, T5LayerNorm, FrozenBatchNorm2d, timm's BatchNormAct2d) subclass nn.Module
# directly, so the class name is the only hint; "Normal..." (Normalize, NormalInit) is not a norm layer.
_NORM_NAME = re.compile(r"Norm(?!al)")

EMBEDDING_TYPES: tuple[type[nn.Module], ...] = (nn.Embedding, nn.EmbeddingBag)

# A built-in rule: (model, trainable named params) -> the names it excludes from weight decay.
Rule = Callable[[nn.Module, Sequence[tuple[str, torch.Tensor]]], set[str]]


def is_norm_module(module: nn.Module) -> bool:
    return isinstance(module, NORM_TYPES) or _NORM_NAME.search(type(module).__name__) is not None


def _direct_params(
    model: nn.Module, named: Sequence[tuple[str, torch.Tensor]], accept: Callable[[nn.Module], bool]
) -> Iterator[str]:
    # By identity, not by name: a tied weight (an embedding shared with the output layer) is listed once, under
    # whichever name named_parameters() saw first.
    name_of = {id(p): n for n, p in named}
    for module in model.modules():
        if accept(module):
            for param in module.parameters(recurse=False):
                if id(param) in name_of:
                    yield name_of[id(param)]


def _bias(model: nn.Module, named: Sequence[tuple[str, torch.Tensor]]) -> set[str]:
    return {n for n, _ in named if n == "bias" or n.endswith(".bias")}


def _norm(model: nn.Module, named: Sequence[tuple[str, torch.Tensor]]) -> set[str]:
    return set(_direct_params(model, named, is_norm_module))


def _ndim1(model: nn.Module, named: Sequence[tuple[str, torch.Tensor]]) -> set[str]:
    return {n for n, p in named if p.ndim <= 1}


def _embedding(model: nn.Module, named: Sequence[tuple[str, torch.Tensor]]) -> set[str]:
    return set(_direct_params(model, named, lambda m: isinstance(m, EMBEDDING_TYPES)))


NO_DECAY_RULES: dict[str, tuple[Rule, str]] = {
    "bias": (_bias, "parameters named 'bias' or '*.bias'"),
    "norm": (_norm, "parameters of normalization modules (BatchNorm, LayerNorm, GroupNorm, RMSNorm, ...)"),
    "ndim1": (_ndim1, "parameters with ndim <= 1 (biases, norm scales; timm's rule)"),
    "embedding": (_embedding, "weights of nn.Embedding and nn.EmbeddingBag"),
}


def no_decay_parameter_names(model: nn.Module, exclude: Sequence[str]) -> tuple[set[str], list[str]]:
    """The trainable parameters that ``weight_decay_exclude`` exempts, and the problems found.

    Each entry is a rule name from :data:`NO_DECAY_RULES`, or a pattern (glob, or ``re:`` regex). A rule that
    finds nothing is fine (a spec may be shared by models without norms); a pattern that matches nothing is a
    problem, since it is almost always a typo.
    """
    named = [(n, p) for n, p in named_parameters(model) if p.requires_grad]
    ordered = [n for n, _ in named]
    trainable = set(ordered)
    names: set[str] = set()
    problems: list[str] = []
    for entry in exclude:
        if entry in NO_DECAY_RULES:
            rule = no_decay_rule(model, entry) or NO_DECAY_RULES[entry][0]
            names |= rule(model, named) & trainable
            continue
        try:
            matches = compile_pattern(entry)
        except re.error as exc:
            problems.append(f"weight_decay_exclude {quote(entry)} is not a valid regex: {exc}")
            continue
        hits = {n for n in trainable if matches(n)}
        if not hits:
            rules = ", ".join(NO_DECAY_RULES)
            problems.append(
                f"weight_decay_exclude {quote(entry)} is neither a rule ({rules}) nor a pattern matching a trainable "
                f"parameter; parameter names look like: {format_names(example_names(entry, ordered))}"
            )
        names |= hits
    return names, problems


def split_no_decay(groups: Sequence[ResolvedGroup], no_decay: Collection[str]) -> list[ResolvedGroup]:
    """Split each group holding a no-decay parameter into ``<name>`` and ``<name>.no_decay`` (weight decay 0).

    The companion follows its group and inherits everything else (lr, layer scale, momentum, schedule, freezing).
    A side that would be empty is not created, so a group of only norm weights becomes ``<name>.no_decay`` alone.
    The split does not depend on the weight decay's value, so every trial of a study has the same groups.
    """
    result: list[ResolvedGroup] = []
    for group in groups:
        decayed = tuple(n for n in group.param_names if n not in no_decay)
        exempt = tuple(n for n in group.param_names if n in no_decay)
        if decayed:
            result.append(replace(group, param_names=decayed))
        if exempt:
            result.append(
                replace(group, name=group.name + NO_DECAY_SUFFIX, param_names=exempt, no_decay=True)
            )
    return result
