"""The LCBench surrogate (YAHPO-Gym ``lcbench``) without yahpo-gym: its ONNX model called with onnxruntime.

Real learning curves of MLPs trained with SGD on 34 OpenML datasets, predicted per epoch (1..52) from the
dataset id and seven hyperparameters. lrsearch studies reach it through :func:`train`, an own-loop training
function that reads its (single) parameter group's lr, momentum and weight decay from the trial's config, so
the search runs through lrsearch's own sampler, pruner, storage and run loop.
"""

from benchmarks.lcbench._surrogate import (
    DATA_ENV,
    EPOCHS,
    HYPERPARAMETERS,
    OUTPUTS,
    Surrogate,
    data_dir,
    load,
    missing,
)
from benchmarks.lcbench._train import FIXED, config_of, held_out, train

__all__ = [
    "DATA_ENV", "EPOCHS", "FIXED", "HYPERPARAMETERS", "OUTPUTS", "Surrogate", "config_of", "data_dir", "held_out", "load", "missing",
    "train",
]
