"""Optimizers: a registry of torch optimizers with capability flags, and the builder over lrsearch's groups."""

from lrsearch.optim._build import build_optimizer
from lrsearch.optim._registry import (
    GROUP_KEYS,
    OptimizerInfo,
    get_optimizer_info,
    optimizer_names,
    register_optimizer,
    validate_options,
)

__all__ = [
    "GROUP_KEYS",
    "OptimizerInfo",
    "build_optimizer",
    "get_optimizer_info",
    "optimizer_names",
    "register_optimizer",
    "validate_options",
]
