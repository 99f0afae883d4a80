"""Loading the surrogate's files and querying its ONNX model.

The input encoding follows yahpo-gym 1.0.2 (``BenchmarkSet._config_to_xs`` and ``benchmarks/lcbench.py``):

- ``x_cat``: int32, shape (n, 1): the dataset id (``OpenML_task_id``) encoded through ``encoding.json``;
- ``x_cont``: float32, shape (n, 8): epoch, batch_size, learning_rate, momentum, weight_decay, num_layers,
  max_units, max_dropout, in that order, unscaled (the model normalises internally);
- output: float32, shape (n, 6): time, val_accuracy (percent), val_cross_entropy, val_balanced_accuracy,
  test_cross_entropy, test_balanced_accuracy (fractions).
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DATA_ENV = "LRSEARCH_LCBENCH_DIR"
EPOCHS = 52
# The order of the model's continuous inputs (after the epoch), as yahpo-gym's lcbench config lists them.
HYPERPARAMETERS = ("batch_size", "learning_rate", "momentum", "weight_decay", "num_layers", "max_units", "max_dropout")
OUTPUTS = ("time", "val_accuracy", "val_cross_entropy", "val_balanced_accuracy", "test_cross_entropy",
           "test_balanced_accuracy")
_FILES = ("model.onnx", "encoding.json", "config_space.json")


def data_dir() -> Path:
    """``$LRSEARCH_LCBENCH_DIR``, else ``shared/data/lcbench`` beside the repository."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "shared" / "data" / "lcbench"


def missing(path: Path | None = None) -> str | None:
    """Why the surrogate cannot be loaded here (no onnxruntime, no data files), or None when it can."""
    path = path or data_dir()
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return "onnxruntime is not installed (pip install 'lrsearch[bench]')"
    absent = [name for name in _FILES if not (path / name).is_file()]
    if absent:
        return f"the LCBench surrogate is not at {path} (missing {', '.join(absent)}; set ${DATA_ENV})"
    return None


@dataclass(frozen=True)
class Bound:
    low: float
    high: float
    log: bool
    integer: bool
    default: float


class Surrogate:
    """The surrogate model of one data folder: ``curve(instance, config)`` gives every output at every epoch."""

    def __init__(self, path: Path | None = None) -> None:
        import onnxruntime as ort

        self.path = path or data_dir()
        reason = missing(self.path)
        if reason:
            raise FileNotFoundError(reason)
        self.encoding: dict[str, int] = json.loads((self.path / "encoding.json").read_text())["OpenML_task_id"]
        space = json.loads((self.path / "config_space.json").read_text())
        self.bounds: dict[str, Bound] = {}
        self.instances: list[str] = []
        for hp in space["hyperparameters"]:
            if hp["name"] == "OpenML_task_id":
                self.instances = [c for c in hp["choices"] if c in self.encoding]
            elif hp["name"] in HYPERPARAMETERS:
                self.bounds[hp["name"]] = Bound(float(hp["lower"]), float(hp["upper"]), bool(hp.get("log")),
                                                hp["type"] == "uniform_int", float(hp["default"]))
        options = ort.SessionOptions()
        # One thread: the benchmark machine is small and the trials run one at a time; reproducible too.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(self.path / "model.onnx"), sess_options=options,
                                            providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self.session.get_inputs()}
        if self._inputs != {"x_cat", "x_cont"}:
            raise ValueError(f"{self.path / 'model.onnx'}: expected inputs x_cat and x_cont, got {sorted(self._inputs)}")

    @property
    def defaults(self) -> dict[str, float]:
        return {name: b.default for name, b in self.bounds.items()}

    def check(self, instance: str, config: dict[str, Any]) -> None:
        if instance not in self.encoding:
            raise ValueError(f"unknown LCBench instance {instance!r}; known: {', '.join(self.instances)}")
        for name in HYPERPARAMETERS:
            if name not in config:
                raise ValueError(f"LCBench config lacks {name}; it needs {', '.join(HYPERPARAMETERS)}")
            b, value = self.bounds[name], float(config[name])
            # config_space.json stores bounds like 0.10000000000000002: allow float round-off.
            if not b.low * (1 - 1e-9) <= value <= b.high * (1 + 1e-9):
                raise ValueError(f"LCBench {name} must be in [{b.low:g}, {b.high:g}], got {value!r}")

    def curve(self, instance: str, config: dict[str, Any], epochs: int = EPOCHS) -> dict[str, np.ndarray]:
        """Every output at epochs 1..``epochs``, in one batched query."""
        if not 1 <= epochs <= EPOCHS:
            raise ValueError(f"LCBench has epochs 1..{EPOCHS}, got {epochs}")
        self.check(instance, config)
        row = [float(config[name]) for name in HYPERPARAMETERS]
        x_cont = np.array([[float(e), *row] for e in range(1, epochs + 1)], dtype=np.float32)
        x_cat = np.full((epochs, 1), self.encoding[instance], dtype=np.int32)
        out = self.session.run(None, {"x_cat": x_cat, "x_cont": x_cont})[0]
        return {name: out[:, i].astype(np.float64) for i, name in enumerate(OUTPUTS)}

    def final(self, instance: str, config: dict[str, Any]) -> dict[str, float]:
        """Every output at the last epoch (52): what a config scores when trained in full."""
        return {name: float(values[-1]) for name, values in self.curve(instance, config).items()}


@functools.lru_cache(maxsize=2)
def load(path: str | None = None) -> Surrogate:
    """The surrogate of ``path`` (default :func:`data_dir`), loaded once per process."""
    return Surrogate(Path(path) if path else None)
