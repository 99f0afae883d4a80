"""A plugin module (``plugins: [tests.fixtures_tasks.lion_plugin]``): registers lion-pytorch's Lion as ``lion``."""

from lion_pytorch import Lion

from lrsearch.optim import OptimizerInfo, register_optimizer

register_optimizer(OptimizerInfo("lion", Lion, "Lion (lion-pytorch): sign of an interpolated momentum.",
                                 has_betas=True), replace=True)
