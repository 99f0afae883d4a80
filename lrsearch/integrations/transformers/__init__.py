"""Hugging Face ``Trainer`` under a trial (``pip install lrsearch[transformers]``)::

    from lrsearch.integrations.transformers import LrsearchCallback, trainer_args, trial_optimizers

    def train(ctx):
        model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2)
        args = trainer_args(ctx, output_dir="runs/hf")      # epochs, batch size, seed, per-epoch eval from ctx
        trainer = Trainer(model=model, args=args, train_dataset=train_ds, eval_dataset=val_ds,
                          compute_metrics=accuracy,
                          optimizers=trial_optimizers(ctx, model, args, train_ds),   # the one line
                          callbacks=[LrsearchCallback(ctx)])
        trainer.train()                                     # raises optuna.TrialPruned when pruned

The Trainer's ``eval_*`` metrics are reported as ``val_*`` (``eval_accuracy`` -> ``val_accuracy``) and the
epoch's training loss as ``train_loss``, the names the managed loop records.
"""

from lrsearch.integrations.transformers._callback import LrsearchCallback
from lrsearch.integrations.transformers._optimizers import steps_per_epoch, trainer_args, trial_optimizers

__all__ = ["LrsearchCallback", "steps_per_epoch", "trainer_args", "trial_optimizers"]
