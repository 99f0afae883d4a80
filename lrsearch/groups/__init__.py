"""Parameter groups: (model, OptimizerConfig) -> torch param-group dicts, failing loudly on any ambiguity.

Membership is decided on parameter names alone (:func:`assign_parameters`); the no-decay split also looks at
module types and tensor shapes (:func:`split_no_decay`); :func:`build_param_groups` puts both together and
:func:`set_frozen` freezes groups for their first epochs.
"""

from lrsearch.groups._assign import (
    Assignment,
    ResolvedGroup,
    assign_parameters,
    check_unique_names,
    group_error,
    resolve_groups,
)
from lrsearch.groups._build import build_param_groups, describe_groups, resolve_param_groups
from lrsearch.groups._freeze import set_frozen
from lrsearch.groups._no_decay import (
    NO_DECAY_RULES,
    NO_DECAY_SUFFIX,
    is_norm_module,
    no_decay_parameter_names,
    split_no_decay,
)
from lrsearch.groups._patterns import compile_pattern, example_names, format_names, quote

__all__ = [
    "NO_DECAY_RULES",
    "NO_DECAY_SUFFIX",
    "Assignment",
    "ResolvedGroup",
    "assign_parameters",
    "build_param_groups",
    "check_unique_names",
    "compile_pattern",
    "describe_groups",
    "example_names",
    "format_names",
    "group_error",
    "is_norm_module",
    "no_decay_parameter_names",
    "quote",
    "resolve_groups",
    "resolve_param_groups",
    "set_frozen",
    "split_no_decay",
]
