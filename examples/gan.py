"""A GAN on scikit-learn's 8x8 digits, trained in an own loop with two lrsearch optimizers.

The study (``studies/gan.yaml``) declares two named optimizers, ``generator`` and ``discriminator``, each with
its own groups and schedule; the discriminator's lr is searched as a ratio of the generator's (a two-timescale
update rule). The objective is ``val_fid``: the Fréchet distance between generated digits and the validation
digits in the feature space of a digits classifier, trained once with a fixed recipe and cached on disk
(``$LRSEARCH_CACHE_DIR`` or ``~/.cache/lrsearch``) — the FID recipe, at the scale of 8x8 images.

Options (``task.options``): ``z_dim`` (16), ``hidden`` (128), ``fid_samples`` (1000), ``split_seed`` (0).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import tempfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lrsearch import TrialContext
from lrsearch.tasks import load_task

DEFAULTS = {"z_dim": 16, "hidden": 128, "fid_samples": 1000, "split_seed": 0}
CLASSIFIER_RECIPE = {"format": 1, "epochs": 40, "lr": 3e-3, "batch_size": 64, "width": 16, "features": 32, "seed": 0}


class Generator(nn.Module):
    def __init__(self, z_dim: int, hidden: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(z_dim, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden),
                                  nn.LeakyReLU(0.2))
        self.out = nn.Linear(hidden, 64)

    def forward(self, z: Tensor) -> Tensor:
        return torch.tanh(self.out(self.body(z))).view(-1, 1, 8, 8)  # pixels in [-1, 1]


class Discriminator(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden),
                                  nn.LeakyReLU(0.2))
        self.out = nn.Linear(hidden, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.body(x)).squeeze(1)


class DigitsClassifier(nn.Module):
    """The FID feature extractor: two conv blocks, a ``features``-wide layer (the embedding), a linear head."""

    def __init__(self, width: int, features: int) -> None:
        super().__init__()
        self.embed = nn.Sequential(OrderedDict(
            conv1=nn.Conv2d(1, width, 3, padding=1), relu1=nn.ReLU(), pool1=nn.MaxPool2d(2),
            conv2=nn.Conv2d(width, 2 * width, 3, padding=1), relu2=nn.ReLU(), pool2=nn.MaxPool2d(2),
            flatten=nn.Flatten(), fc=nn.Linear(8 * width, features), relu3=nn.ReLU(),
        ))
        self.head = nn.Linear(features, 10)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.embed(x))


def cache_dir() -> Path:
    return Path(os.environ.get("LRSEARCH_CACHE_DIR") or Path.home() / ".cache" / "lrsearch")


@functools.lru_cache(maxsize=4)
def feature_classifier(split_seed: int) -> DigitsClassifier:
    """The classifier trained on the digits train split (inputs in [-1, 1]), from the disk cache or now (~5 s)."""
    settings = {**CLASSIFIER_RECIPE, "split_seed": split_seed}
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    path = cache_dir() / f"digits-fid-classifier-{digest}.pt"
    model = DigitsClassifier(settings["width"], settings["features"])
    if path.exists():
        saved = torch.load(path, map_location="cpu", weights_only=True)
        if saved.get("settings") == settings:
            model.load_state_dict(saved["state"])
            return model.eval()
    task = load_task("digits", options={"split_seed": split_seed})
    x, y = task.train.x * 2 - 1, task.train.y
    with torch.random.fork_rng(devices=[]):  # the same weights whatever the trial's seed; its RNG untouched
        torch.manual_seed(settings["seed"])
        model = DigitsClassifier(settings["width"], settings["features"])
        optimizer = torch.optim.Adam(model.parameters(), lr=settings["lr"])
        for _ in range(settings["epochs"]):
            order = torch.randperm(len(x))
            for start in range(0, len(x), settings["batch_size"]):
                index = order[start:start + settings["batch_size"]]
                loss = F.cross_entropy(model(x[index]), y[index])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.name, suffix=".tmp", delete=False) as tmp:
        torch.save({"settings": settings, "state": model.state_dict()}, tmp)
    os.replace(tmp.name, path)  # concurrent workers see no file or a whole one
    return model.eval()


def statistics(features: Tensor) -> tuple[np.ndarray, np.ndarray]:
    f = features.double().cpu().numpy()
    return f.mean(axis=0), np.cov(f, rowvar=False)


def frechet_distance(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between two Gaussians (the FID formula)."""
    (mu_a, s_a), (mu_b, s_b) = a, b
    w, v = np.linalg.eigh(s_a)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    # Tr (S_a S_b)^(1/2) = Tr (S_a^(1/2) S_b S_a^(1/2))^(1/2): a symmetric matrix, so eigvalsh is exact and stable.
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ s_b @ root_a), 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * cross)


class FidScorer:
    """Fréchet distance of generated digits to one real split, and how many digit classes the samples cover."""

    def __init__(self, real: Tensor, classifier: DigitsClassifier, samples: int, z_dim: int, device: torch.device):
        self.classifier = classifier.to(device)
        self.device, self.samples, self.z_dim = device, samples, z_dim
        with torch.no_grad():
            self.real = statistics(self.classifier.embed(real.to(device)))

    @torch.no_grad()
    def __call__(self, generator: nn.Module) -> dict[str, float]:
        # Fixed noise: epochs and trials are scored on the same latent points.
        z = torch.randn(self.samples, self.z_dim, generator=torch.Generator().manual_seed(1234)).to(self.device)
        fakes = generator(z)
        features = self.classifier.embed(fakes)
        probs = self.classifier.head(features).softmax(dim=1)
        shares = torch.bincount(probs.argmax(dim=1), minlength=10).float() / self.samples
        return {
            "fid": frechet_distance(statistics(features), self.real),
            "classes": float((shares >= 0.02).sum()),  # digit classes among >= 2% of the samples (mode collapse)
            "confidence": float(probs.max(dim=1).values.mean()),
        }


def train(ctx: TrialContext) -> None:
    opts = {**DEFAULTS, **ctx.options}
    unknown = sorted(set(opts) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"examples.gan: unknown task.options {unknown}; known: {sorted(DEFAULTS)}")
    device, z_dim = ctx.device, int(opts["z_dim"])
    digits = load_task("digits", options={"split_seed": opts["split_seed"]})
    real = (digits.train.x * 2 - 1).to(device)  # [0, 1] -> [-1, 1], the generator's range
    classifier = feature_classifier(int(opts["split_seed"]))
    val_fid = FidScorer(digits.val.x * 2 - 1, classifier, int(opts["fid_samples"]), z_dim, device)
    test_fid = FidScorer(digits.test.x * 2 - 1, classifier, int(opts["fid_samples"]), z_dim, device) \
        if ctx.evaluate_test else None

    generator = Generator(z_dim, int(opts["hidden"])).to(device)
    discriminator = Discriminator(int(opts["hidden"])).to(device)
    opt_g = ctx.optimizer("generator", generator)
    opt_d = ctx.optimizer("discriminator", discriminator)
    steps = math.ceil(len(real) / ctx.batch_size)
    sched_g = ctx.scheduler(opt_g, steps_per_epoch=steps)
    sched_d = ctx.scheduler(opt_d, steps_per_epoch=steps)
    shuffle = torch.Generator().manual_seed(ctx.seed)
    for epoch in range(1, ctx.epochs + 1):
        generator.train()
        discriminator.train()
        ctx.freeze(epoch)
        d_total = g_total = 0.0
        order = torch.randperm(len(real), generator=shuffle).to(device)
        for start in range(0, len(real), ctx.batch_size):
            batch = real[order[start:start + ctx.batch_size]]
            n = len(batch)
            fake = generator(torch.randn(n, z_dim, device=device))
            # Discriminator: real -> 1, fake -> 0 (the fakes detached: this step trains D only).
            d_loss = F.binary_cross_entropy_with_logits(discriminator(batch), torch.ones(n, device=device)) + \
                F.binary_cross_entropy_with_logits(discriminator(fake.detach()), torch.zeros(n, device=device))
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            sched_d.step()
            # Generator: the non-saturating loss, fakes -> 1.
            g_loss = F.binary_cross_entropy_with_logits(discriminator(fake), torch.ones(n, device=device))
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
            sched_g.step()
            d_total += d_loss.item() * n
            g_total += g_loss.item() * n
            ctx.check_deadline()
        generator.eval()
        scores = val_fid(generator)
        metrics = {"d_loss": d_total / len(real), "g_loss": g_total / len(real),
                   **{f"val_{k}": v for k, v in scores.items()}}
        if test_fid is not None and epoch == ctx.epochs:  # confirmation runs: the held-out split
            metrics.update({f"test_{k}": v for k, v in test_fid(generator).items()})
        ctx.report(epoch, metrics)
