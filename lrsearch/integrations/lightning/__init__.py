"""PyTorch Lightning under a trial (``pip install lrsearch[lightning]``)::

    from lrsearch.integrations.lightning import LrsearchCallback, configure_optimizers

    class Classifier(pl.LightningModule):
        def __init__(self, ctx):
            super().__init__()
            self.ctx, self.net = ctx, make_net()
        def training_step(self, batch, _):
            loss = ...; self.log("train_loss", loss, on_step=False, on_epoch=True); return loss
        def validation_step(self, batch, _):
            self.log("val_accuracy", acc, on_epoch=True)
        def configure_optimizers(self):
            return configure_optimizers(self.ctx, self, self.net)   # groups name self.net's parameters

    def train(ctx):
        trainer = pl.Trainer(max_epochs=ctx.epochs, callbacks=[LrsearchCallback(ctx)], ...)
        trainer.fit(Classifier(ctx), train_loader, val_loader)      # raises optuna.TrialPruned when pruned
"""

from lrsearch.integrations.lightning._callback import LrsearchCallback
from lrsearch.integrations.lightning._optimizers import configure_optimizers

__all__ = ["LrsearchCallback", "configure_optimizers"]
