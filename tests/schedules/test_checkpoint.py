"""A checkpoint round trip: train, save optimizer and scheduler state to a file, load both into new objects in
the order Hugging Face Trainer and Lightning use, continue; every step's values equal an uninterrupted run's."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from lrsearch.errors import LrsearchError
from lrsearch.schedules import GroupScheduler
from lrsearch.space import GroupConfig, OptimizerConfig, ScheduleConfig, TrialConfig
from lrsearch.training import TrialContext

SPE, EPOCHS, SAVED_AFTER = 5, 4, 2  # 5 batches an epoch, 4 epochs, the checkpoint after epoch 2


def config() -> TrialConfig:
    """SGD with three groups: each its own shape, momentum and weight decay moving with the lr."""
    return TrialConfig(epochs=EPOCHS, seed=3, optimizers=[OptimizerConfig(key="main", name="sgd", groups=[
        GroupConfig(name="head", lr=0.2, params=["2.*"], momentum=0.9, weight_decay=1e-3,
                    schedule=ScheduleConfig("onecycle", momentum="inverse", weight_decay="follow_lr")),
        GroupConfig(name="middle", lr=0.05, params=["1.*"], momentum=0.95,
                    schedule=ScheduleConfig("cosine_restarts", {"T_0": 0.25, "T_mult": 2}, warmup=0.1)),
        GroupConfig(name="body", lr=0.01, rest=True, momentum=0.8, weight_decay=5e-4,
                    schedule=ScheduleConfig("cosine", weight_decay="cosine", weight_decay_end_factor=0.0)),
    ])])


def model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 6), nn.Linear(6, 6), nn.Linear(6, 1))


def batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(step)
    return torch.randn(8, 3, generator=g), torch.randn(8, 1, generator=g)


def values(opt: torch.optim.Optimizer) -> list[tuple[float, float, float]]:
    return [(g["lr"], g["momentum"], g["weight_decay"]) for g in opt.param_groups]


def train(net: nn.Module, opt: torch.optim.Optimizer, sched: GroupScheduler, steps: range,
          seen: list[list[tuple[float, float, float]]]) -> None:
    """Batch steps ``steps`` as a training loop runs them, noting the values each optimizer step uses."""
    for step in steps:
        x, y = batch(step)
        loss = nn.functional.mse_loss(net(x), y)
        opt.zero_grad()
        loss.backward()
        seen.append(values(opt))
        opt.step()
        sched.step()


def fresh() -> tuple[nn.Module, torch.optim.Optimizer, GroupScheduler]:
    ctx = TrialContext(config=config(), objective="loss")
    net = model()
    opt = ctx.optimizer(net)
    return net, opt, ctx.scheduler(opt, steps_per_epoch=SPE)


@pytest.mark.parametrize("order", ["optimizer first", "scheduler first"])
def test_resumed_run_uses_the_uninterrupted_runs_values_at_every_step(tmp_path: Path, order: str) -> None:
    net, opt, sched = fresh()
    uninterrupted: list[list[tuple[float, float, float]]] = []
    train(net, opt, sched, range(SPE * EPOCHS), uninterrupted)

    net, opt, sched = fresh()
    before: list[list[tuple[float, float, float]]] = []
    train(net, opt, sched, range(SPE * SAVED_AFTER), before)
    path = tmp_path / "checkpoint.pt"
    torch.save({"model": net.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, path)
    saved_lrs = [g["lr"] for g in opt.param_groups]
    del net, opt, sched

    checkpoint = torch.load(path, weights_only=True)  # plain data: loads without unpickling code
    assert checkpoint["scheduler"] == {"step": SPE * SAVED_AFTER, "total_steps": SPE * EPOCHS}
    net, opt, sched = fresh()  # construction writes step 0's values: the resume must move them on
    assert [g["lr"] for g in opt.param_groups] != saved_lrs
    net.load_state_dict(checkpoint["model"])
    if order == "optimizer first":  # Trainer and Lightning: this replaces every param-group dict
        old_groups = list(opt.param_groups)
        opt.load_state_dict(checkpoint["optimizer"])
        assert all(a is not b for a, b in zip(old_groups, opt.param_groups, strict=True))
        sched.load_state_dict(checkpoint["scheduler"])
    else:
        sched.load_state_dict(checkpoint["scheduler"])
        opt.load_state_dict(checkpoint["optimizer"])
    assert sched.last_step == SPE * SAVED_AFTER and sched.get_last_lr() == saved_lrs
    after: list[list[tuple[float, float, float]]] = []
    train(net, opt, sched, range(SPE * SAVED_AFTER, SPE * EPOCHS), after)

    assert before + after == uninterrupted  # exactly: the same arithmetic at the same steps
    assert len({tuple(v[0] for v in step) for step in uninterrupted}) > SPE, "the lrs moved"


def test_resumed_weights_equal_the_uninterrupted_runs(tmp_path: Path) -> None:
    """Momentum buffers come back with the optimizer state, so training continues exactly."""
    net_a, opt_a, sched_a = fresh()
    train(net_a, opt_a, sched_a, range(SPE * EPOCHS), [])

    net, opt, sched = fresh()
    train(net, opt, sched, range(SPE * SAVED_AFTER), [])
    torch.save({"model": net.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict()},
               tmp_path / "c.pt")
    checkpoint = torch.load(tmp_path / "c.pt", weights_only=True)
    net, opt, sched = fresh()
    net.load_state_dict(checkpoint["model"])
    opt.load_state_dict(checkpoint["optimizer"])
    sched.load_state_dict(checkpoint["scheduler"])
    train(net, opt, sched, range(SPE * SAVED_AFTER, SPE * EPOCHS), [])
    for a, b in zip(net_a.parameters(), net.parameters(), strict=True):
        assert torch.equal(a, b)


def test_a_checkpoint_of_a_run_of_another_length_is_refused() -> None:
    _, _, sched = fresh()
    with pytest.raises(LrsearchError, match=r"from a run of 30 steps, this scheduler runs 20 \(5 steps an epoch "
                                            r"x 4 epochs\)"):
        sched.load_state_dict({"step": 12, "total_steps": 30})
    assert sched.last_step == 0


def test_values_reach_param_groups_that_replaced_the_old_ones() -> None:
    """What accelerate does when it prepares an optimizer: load its own state, which swaps every group dict."""
    _, opt, sched = fresh()
    opt.load_state_dict(opt.state_dict())
    for _ in range(SPE):
        opt.step()
        sched.step()
    assert [g["lr"] for g in opt.param_groups] == sched.get_last_lr()
    _, opt_b, sched_b = fresh()
    for _ in range(SPE):
        opt_b.step()
        sched_b.step()
    assert values(opt) == values(opt_b) != values(fresh()[1])


def test_the_scheduler_is_a_torch_lr_scheduler() -> None:
    _, opt, sched = fresh()
    assert isinstance(sched, torch.optim.lr_scheduler.LRScheduler)
    assert sched.base_lrs == [0.2, 0.05, 0.01], "the peaks, whatever step 0's lrs are"
    opt.add_param_group({"params": [nn.Parameter(torch.zeros(1))], "param_names": ["extra"], "lr": 0.1})
    opt.step()
    with pytest.raises(LrsearchError, match="4 param groups, the scheduler was built for 3"):
        sched.step()
