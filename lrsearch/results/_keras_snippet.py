"""A trial's config as a plain-Keras Python file: the groups, the per-group schedules and a Keras optimizer.

The file holds the trial's data (``OPTIMIZERS``, as in the PyTorch snippet), the schedule shapes' own functions,
the PyTorch snippet's ``schedule_values``, the code of :mod:`lrsearch.results._keras_snippet_runtime` and a copy
of :class:`lrsearch.integrations.keras.GroupOptimizer`. It imports only ``fnmatch``, ``math``, ``re``, ``numpy``
and ``keras``, and runs on any Keras backend.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from lrsearch.errors import LrsearchError
from lrsearch.optim import get_optimizer_info
from lrsearch.results import _snippet_runtime
from lrsearch.results._snippet import _group_data, _literal
from lrsearch.schedules import factor_source, get_shape
from lrsearch.space import TrialConfig

_MARKER = "# -- code --\n"
_PACKAGE = Path(__file__).resolve().parent.parent
KERAS_ALGORITHMS = ("sgd", "adam", "adamw")  # what GroupOptimizer implements

_USAGE = '''\
Use it with model.fit on any Keras backend (JAX, TensorFlow, PyTorch):

    from {module} import EPOCHS, build_optimizer

    model = build_my_model()  # the model the study trained, built: the same variable paths
    model.compile(optimizer=build_optimizer(model, steps_per_epoch=math.ceil(len(x) / batch_size)), loss=...)
    model.fit(x, y, batch_size=batch_size, epochs=EPOCHS)

The optimizer applies every group's lr, momentum (beta1), weight decay, schedule and freezing itself, from its
step counter; it is saved with the model (keras.models.load_model finds it once this file is imported).
`python {module}.py` prints each group's values at the end of every epoch. Not included: data, batch size
({batch_size} in the study) and seeding (lrsearch seeded with the trial's seed {seed}).'''


def _code(relative: str) -> str:
    """The code below the marker of lrsearch's file ``relative``, read as text: importing it would import Keras."""
    source = (_PACKAGE / relative).read_text()
    return source[source.index(_MARKER) + len(_MARKER):].strip("\n")


def _optimizer_data(opt: Any) -> dict[str, Any]:
    if opt.name not in KERAS_ALGORITHMS:
        raise LrsearchError(f"optimizer {opt.name!r}: the Keras snippet has {', '.join(KERAS_ALGORITHMS)} only")
    info = get_optimizer_info(opt.name)
    return {
        "optimizer": opt.name,
        "options": {**info.default_options, **opt.options},
        "weight_decay_exclude": list(opt.weight_decay_exclude),
        "groups": [_group_data(g, info.has_momentum, info.has_betas, info) for g in opt.groups],
    }


def keras_snippet(config: TrialConfig, *, title: str, steps_per_epoch: int | None = None,
                  batch_size: int | None = None, module: str = "best_trial") -> str:
    """The Python source of a plain-Keras file that rebuilds ``config``'s optimizers as Keras optimizers."""
    optimizers = {opt.key: _optimizer_data(opt) for opt in config.optimizers}
    shapes: dict[str, tuple[str, str | None]] = {}
    sources = []
    for group in config.groups():
        name = group.schedule.shape
        if name not in shapes:
            shape = get_shape(name)
            fraction = shape.momentum_fraction.__name__ if shape.momentum_fraction is not None else None
            shapes[name] = (shape.factor.__name__, fraction)
            sources.append(factor_source(name).rstrip())
    shape_table = "{\n" + "".join(f"    {name!r}: ({f}, {m}),\n" for name, (f, m) in shapes.items()) + "}"
    usage = _USAGE.format(module=module, batch_size=batch_size or "?", seed=config.seed)
    optimizer_code = _code("integrations/keras/_optimizer.py").replace('register_keras_serializable(package="lrsearch")',
                                               f'register_keras_serializable(package={module!r})')
    parts = [
        f'"""{title}\n\nIn plain Keras: no lrsearch import. {usage}\n"""',
        "from __future__ import annotations\n\nimport fnmatch\nimport math\nimport re\n\nimport keras\nimport numpy as np",
        f"EPOCHS = {config.epochs}\nSTEPS_PER_EPOCH = {steps_per_epoch or 1}  # in the study; yours follows "
        "from your data and batch size\nSEED = " + str(config.seed),
        "# The trial's optimizers and groups: patterns are globs (* crosses /) or 're:' regexes on Keras variable\n"
        "# paths (less the model's name); lr is the schedule's peak; betas are Adam's (beta1 is its momentum).\n"
        "OPTIMIZERS = " + _literal(optimizers),
        "# Schedule shapes, copied from lrsearch.schedules: pure multipliers of (step, total, **params).",
        *sources,
        "SHAPES = " + shape_table,
        inspect.getsource(_snippet_runtime.schedule_values).strip("\n"),
        _code("results/_keras_snippet_runtime.py"),
        optimizer_code,
        'if __name__ == "__main__":\n    print_schedule()',
    ]
    return "\n\n\n".join(parts) + "\n"
