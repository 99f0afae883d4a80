"""Optimizers: a registry of torch optimizers with capability flags, and the builder over lrsearch's groups."""

from lrsearch.optim._build import build_optimizer
from lrsearch.optim._registry import (
    GROUP_KEYS,
    OptimizerInfo,
    capabilities,
    get_optimizer_info,
    is_import_path,
    optimizer_names,
    register_optimizer,
    validate_options,
)

__all__ = [
    "GROUP_KEYS",
    "OptimizerInfo",
    "build_optimizer",
    "capabilities",
    "is_import_path",
    "get_optimizer_info",
    "optimizer_names",
    "register_optimizer",
    "validate_options",
]
