"""Two real studies on the digits task in one SQLite file, run once per test session by the real CLI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import digits_spec, run_cli, write_spec

STORAGE = "sqlite:///results.db"


def alpha_spec() -> dict:
    """Per-group shapes (constant, cosine, onecycle, wsd) with warmup, sgd or adamw, bias/norm without decay."""
    return digits_spec("alpha", storage=STORAGE, budget={"trials": 8, "epochs": 3})


def beta_spec() -> dict:
    """Layer-wise lr decay below the head, freezing, one shared epoch-granular schedule, weight decay following
    the lr, a random sampler."""
    spec = digits_spec("beta", storage=STORAGE, budget={"trials": 6, "epochs": 3})
    spec["sampler"] = {"name": "random", "seed": 3}
    spec["optimizer"] = {"name": "adamw", "weight_decay_exclude": ["ndim1"]}
    spec["groups"] = [
        {"name": "head", "params": ["head.*"], "lr": {"low": 3e-3, "high": 3e-2, "log": True},
         "weight_decay": {"low": 1e-4, "high": 1e-2, "log": True}},
        {"name": "layers", "layerwise": {"pattern": r"backbone\.(?:conv|bn)(\d+)\..*", "decay": {"low": 0.5, "high": 1.0}},
         "lr": {"ratio_of": "head", "low": 0.3, "high": 1.0}, "weight_decay": 1e-3,
         "freeze_epochs": {"choices": [0, 1]}},
    ]
    spec["schedule"] = {"shape": ["cosine", "linear", "cosine_restarts"], "warmup": {"low": 0.0, "high": 0.4},
                        "granularity": "epoch", "weight_decay": "follow_lr"}
    return spec


@dataclass
class Studies:
    directory: Path
    alpha: Path
    beta: Path

    @property
    def url(self) -> str:
        return f"sqlite:///{self.directory / 'results.db'}"


@pytest.fixture(scope="session")
def studies(tmp_path_factory: pytest.TempPathFactory) -> Studies:
    """``alpha`` (8 trials) and ``beta`` (6 trials) in ``results.db``; tests only read them."""
    directory = tmp_path_factory.mktemp("results")
    alpha = write_spec(directory, alpha_spec(), "alpha.yaml")
    beta = write_spec(directory, beta_spec(), "beta.yaml")
    run_cli("run", str(alpha), "--quiet", check=True)
    run_cli("run", str(beta), "--quiet", check=True)
    return Studies(directory, alpha, beta)
