"""Schedule-free AdamW and SGD: registered, stepped in train mode and evaluated in eval mode by the managed loop
and by TrialContext in an own loop."""

from __future__ import annotations

import pytest
import torch
from torch import nn

pytest.importorskip("schedulefree")

from lrsearch.optim import get_optimizer_info  # noqa: E402
from lrsearch.space import GroupConfig, OptimizerConfig, ScheduleConfig, TrialConfig  # noqa: E402
from lrsearch.tasks import load_task  # noqa: E402
from lrsearch.training import TrialContext, managed_train  # noqa: E402


def config(name: str, epochs: int = 2, lr: float = 0.01) -> TrialConfig:
    group = GroupConfig(name="all", lr=lr, params=[], rest=True, momentum=0.9 if name.startswith("sgd") else None,
                        betas=None if name.startswith("sgd") else (0.9, 0.999), weight_decay=0.0,
                        schedule=ScheduleConfig(shape="constant"))
    return TrialConfig(epochs=epochs, seed=0, optimizers=[OptimizerConfig(key="main", name=name, groups=[group])])


@pytest.mark.parametrize("name", ["adamw_schedulefree", "sgd_schedulefree"])
def test_registered_as_horizon_free_with_modes(name: str) -> None:
    info = get_optimizer_info(name)
    assert info.switches_modes and info.horizon_free
    assert info.has_betas == (name == "adamw_schedulefree") and info.has_momentum == (name == "sgd_schedulefree")


def test_train_mode_to_step_eval_mode_to_evaluate_at_the_averaged_weights() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    ctx = TrialContext(config=config("adamw_schedulefree"), objective="val_accuracy")
    opt = ctx.optimizer(model)
    x, y = torch.randn(64, 4), torch.randint(0, 2, (64,))
    with pytest.raises(Exception, match="train mode"):  # schedulefree refuses to step outside train mode
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    ctx.train_mode()
    for _ in range(20):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    y_weights = [p.detach().clone() for p in model.parameters()]
    ctx.eval_mode(model, [(x[:32], y[:32]), (x[32:], y[32:])])
    x_weights = [p.detach().clone() for p in model.parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(y_weights, x_weights, strict=True))  # the average, not y
    bn = model[1]
    with torch.no_grad():  # BatchNorm statistics measured again at the averaged weights, over both batches
        expected = model[0](x).mean(0)
    assert torch.allclose(bn.running_mean, expected, atol=1e-5)
    assert bn.momentum == 0.1 and model.training  # restored
    ctx.train_mode()
    assert all(torch.allclose(a, b) for a, b in zip(y_weights, model.parameters(), strict=True))


def test_other_optimizers_ignore_the_mode_calls() -> None:
    model = nn.Linear(4, 2)
    ctx = TrialContext(config=config("adamw"), objective="val_accuracy")
    ctx.optimizer(model)
    before = [p.detach().clone() for p in model.parameters()]
    ctx.eval_mode(model, [(torch.randn(8, 4), None)])
    ctx.train_mode()
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


@pytest.mark.parametrize("name", ["adamw_schedulefree", "sgd_schedulefree"])
def test_the_managed_loop_reports_the_score_of_the_averaged_weights(name: str) -> None:
    torch.set_num_threads(1)
    task = load_task("digits", None, {"width": 4})
    lr = 0.01 if name == "adamw_schedulefree" else 0.5  # schedule-free SGD wants a larger lr than SGD
    ctx = TrialContext(config=config(name, epochs=3, lr=lr), objective="val_accuracy", batch_size=128)
    metrics = managed_train(ctx, task)
    (bound,) = ctx._bound
    opt = bound.optimizer
    assert not opt.param_groups[0]["train_mode"]  # left in eval mode after the last evaluation
    model = bound.model
    model.eval()
    with torch.no_grad():
        acc = (model(task.val.x).argmax(1) == task.val.y).float().mean().item()
    assert metrics["val_accuracy"] == pytest.approx(acc)
    assert metrics["val_accuracy"] > 0.3  # it learned (10 classes)


def test_reporting_while_still_in_train_mode_is_refused_with_the_fix() -> None:
    # An own loop that switches to train mode to step but never to eval mode would score the training iterate,
    # silently: report refuses and names the call that is missing.
    model = nn.Linear(4, 2)
    ctx = TrialContext(config=config("adamw_schedulefree"), objective="val_accuracy")
    opt = ctx.optimizer(model)
    ctx.train_mode()
    nn.functional.cross_entropy(model(torch.randn(8, 4)), torch.randint(0, 2, (8,))).backward()
    opt.step()
    with pytest.raises(RuntimeError, match=r"adamw_schedulefree is still in train mode.*ctx\.eval_mode"):
        ctx.report(1, {"val_accuracy": 0.5})
    ctx.eval_mode(model)
    ctx.report(1, {"val_accuracy": 0.5})  # once in eval mode the epoch is recorded
