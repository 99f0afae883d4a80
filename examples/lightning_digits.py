"""The ``digits`` task trained by PyTorch Lightning under lrsearch: the LightningModule returns the trial's
optimizer and per-group schedule from ``configure_optimizers``, and ``LrsearchCallback`` freezes, reports and
prunes from inside ``Trainer.fit``.

``pip install 'lrsearch[lightning]'``; run ``lrsearch run studies/lightning_digits.yaml`` from the repository root.
The groups name the CNN's parameters (``head.*``, ``backbone.*``) because ``configure_optimizers`` is given
``self.net``; given the LightningModule itself they would be ``net.head.*``, ``net.backbone.*``.
Options (``task.options``): those of the ``digits`` task (``width``, ``split_seed``).
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from lrsearch import TrialContext
from lrsearch.integrations import numeric_metrics
from lrsearch.integrations.lightning import LrsearchCallback, configure_optimizers
from lrsearch.tasks import load_task


class DigitsModule(pl.LightningModule):
    def __init__(self, ctx: TrialContext, net: torch.nn.Module) -> None:
        super().__init__()
        self.ctx, self.net = ctx, net

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> torch.Tensor:
        x, y = batch
        loss = F.cross_entropy(self.net(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def _evaluate(self, batch: tuple[torch.Tensor, torch.Tensor], prefix: str) -> None:
        x, y = batch
        out = self.net(x)
        self.log(f"{prefix}_loss", F.cross_entropy(out, y), on_epoch=True)
        self.log(f"{prefix}_accuracy", (out.argmax(dim=1) == y).float().mean(), on_epoch=True)

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> None:
        self._evaluate(batch, "test")

    def configure_optimizers(self) -> Any:
        return configure_optimizers(self.ctx, self, self.net)  # step-interval per-group schedules


def train(ctx: TrialContext) -> dict[str, float]:
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)  # "GPU available: ..." every trial
    for noise in (".*does not have many workers.*",  # in-memory tensors need none
                  ".*`srun` command is available.*",  # a machine with SLURM's tools, not running under SLURM
                  ".*LeafSpec.*is deprecated.*"):  # Lightning 2.6 on torch 2.13
        warnings.filterwarnings("ignore", noise)
    task = load_task("digits", options=ctx.options)
    module = DigitsModule(ctx, task.build_model())  # lrsearch seeded torch with ctx.seed
    loader = torch.utils.data.DataLoader
    shuffle = torch.Generator().manual_seed(ctx.seed)
    trainer = pl.Trainer(max_epochs=ctx.epochs, accelerator="gpu" if ctx.device.type == "cuda" else "cpu",
                         devices=[ctx.device.index or 0] if ctx.device.type == "cuda" else 1,
                         callbacks=[LrsearchCallback(ctx)], logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)
    trainer.fit(module, loader(task.train, batch_size=ctx.batch_size, shuffle=True, generator=shuffle),
                loader(task.val, batch_size=256))  # raises optuna.TrialPruned when pruned
    if ctx.evaluate_test:  # confirmation runs: the held-out split
        return numeric_metrics(trainer.test(module, loader(task.test, batch_size=256), verbose=False)[0])
    return {}
