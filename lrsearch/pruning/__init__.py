"""Pruning for per-group schedule searches: compare trials only with trials of the same schedule shapes.

Turned on in a spec with ``pruner: {name: hyperband, by_shape: true}``; see :class:`ShapeAwarePruner`.
"""

from lrsearch.pruning._shape_aware import ShapeAwarePruner, shape_param_names

__all__ = ["ShapeAwarePruner", "shape_param_names"]
