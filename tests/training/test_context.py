"""TrialContext, the own-loop API: what it builds, what it records, and clear errors when it is misused."""

from __future__ import annotations

import math
from collections.abc import Iterator

import optuna
import pytest
import torch
from torch import nn

from lrsearch.space import GroupConfig, OptimizerConfig, ScheduleConfig, TrialConfig
from lrsearch.training import NullRecorder, TrialContext, TrialFailed, run_train_function


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Small models train fastest on one thread, and a shared machine does not oversubscribe its cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class TwoLayers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(4, 8)
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.body(x)))


def _groups(prefix: str, lr: float, freeze: int = 0) -> list[GroupConfig]:
    return [
        GroupConfig(name=f"{prefix}head", lr=lr, params=["head.*"], betas=(0.5, 0.99), weight_decay=0.01,
                    schedule=ScheduleConfig(shape="cosine")),
        GroupConfig(name=f"{prefix}body", lr=lr / 10, rest=True, betas=(0.5, 0.99), freeze_epochs=freeze),
    ]


def single(epochs: int = 3, freeze: int = 0) -> TrialConfig:
    return TrialConfig(epochs=epochs, seed=7, optimizers=[
        OptimizerConfig(key="main", name="adam", groups=_groups("", 0.1, freeze))])


def gan(epochs: int = 3) -> TrialConfig:
    return TrialConfig(epochs=epochs, seed=7, optimizers=[
        OptimizerConfig(key="generator", name="adam", groups=_groups("g_", 0.1)),
        OptimizerConfig(key="discriminator", name="sgd", groups=[GroupConfig(name="d", lr=0.4, rest=True, momentum=0.9)]),
    ])


class PruneAlways(NullRecorder):
    def should_prune(self, epoch: int, value: float) -> bool:
        return True


def _step(opt: torch.optim.Optimizer, model: nn.Module, sched: object | None = None) -> None:
    loss = model(torch.randn(5, 4)).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    if sched is not None:
        sched.step()


def test_context_exposes_the_trial_settings() -> None:
    ctx = TrialContext(config=single(), objective="val_loss", direction="minimize", options={"width": 3},
                       batch_size=17, trial_number=4)
    assert (ctx.epochs, ctx.seed, ctx.batch_size, ctx.options, ctx.trial_number) == (3, 7, 17, {"width": 3}, 4)
    assert ctx.device == torch.device("cpu") and ctx.evaluate_test is False
    assert ctx.threads == torch.get_num_threads()
    assert ctx.optimizer_names == ["main"] and ctx.last_epoch == 0 and ctx.last_metrics == {}


def test_param_groups_and_optimizer_carry_the_sampled_values() -> None:
    ctx = TrialContext(config=single(), objective="val_loss")
    model = TwoLayers()
    groups = ctx.param_groups(model)
    assert [(g["name"], g["lr"]) for g in groups] == [("head", 0.1), ("body", pytest.approx(0.01))]
    opt = ctx.optimizer(model)
    assert isinstance(opt, torch.optim.Adam)
    assert [tuple(g["betas"]) for g in opt.param_groups] == [(0.5, 0.99), (0.5, 0.99)]


def test_report_records_effective_group_values_of_every_optimizer_and_the_step_count() -> None:
    recorder = NullRecorder()
    ctx = TrialContext(config=gan(), objective="fid", direction="minimize", recorder=recorder)
    g, d = TwoLayers(), TwoLayers()
    opt_g, opt_d = ctx.optimizer("generator", g), ctx.optimizer("discriminator", d)
    sched_g = ctx.scheduler(opt_g, steps_per_epoch=4)
    for _ in range(4):
        _step(opt_d, d)
        _step(opt_d, d)  # the discriminator steps twice as often: n_critic = 2
        _step(opt_g, g, sched_g)
    ctx.report(1, {"fid": torch.tensor(12.5), "classes": 9})
    row = recorder.epochs[0]
    assert row["epoch"] == 1 and row["step"] == 8, "step: the most step() calls of any optimizer"
    assert row["metrics"] == {"fid": 12.5, "classes": 9.0}
    by_name = {(r["optimizer"], r["group_name"]): r for r in row["groups"]}
    assert set(by_name) == {("generator", "g_head"), ("generator", "g_body"), ("discriminator", "d")}
    # cosine over 3 epochs of 4 steps, read after 4 steps: lr = 0.1 * (1 + cos(pi * 4 / 12)) / 2
    assert by_name["generator", "g_head"]["lr"] == pytest.approx(0.1 * (1 + math.cos(math.pi / 3)) / 2)
    assert by_name["generator", "g_head"]["momentum"] == 0.5, "beta1 is recorded as the momentum column"
    assert by_name["discriminator", "d"] == {"optimizer": "discriminator", "group_name": "d", "lr": 0.4,
                                             "momentum": 0.9, "weight_decay": 0.0, "frozen": False}
    assert ctx.last_metrics == {"fid": 12.5, "classes": 9.0} and ctx.last_epoch == 1


def test_count_step_overrides_the_optimizer_step_count() -> None:
    recorder = NullRecorder()
    ctx = TrialContext(config=single(), objective="acc", recorder=recorder)
    model = TwoLayers()
    opt = ctx.optimizer(model)
    _step(opt, model)
    ctx.count_step(5)
    ctx.report(1, {"acc": 0.5})
    assert recorder.epochs[0]["step"] == 5


def test_freeze_follows_freeze_epochs_and_is_recorded() -> None:
    recorder = NullRecorder()
    ctx = TrialContext(config=single(freeze=1), objective="acc", recorder=recorder)
    model = TwoLayers()
    ctx.optimizer(model)
    ctx.freeze(1)
    assert not model.body.weight.requires_grad and model.head.weight.requires_grad
    ctx.report(1, {"acc": 0.1})
    ctx.freeze(2)
    assert model.body.weight.requires_grad
    ctx.report(2, {"acc": 0.2})
    frozen = [[(g["group_name"], g["frozen"]) for g in e["groups"]] for e in recorder.epochs]
    assert frozen == [[("head", False), ("body", True)], [("head", False), ("body", False)]]


def test_report_raises_the_prune_signal_after_recording() -> None:
    recorder = PruneAlways()
    ctx = TrialContext(config=single(), objective="acc", recorder=recorder)
    ctx.optimizer(TwoLayers())
    with pytest.raises(optuna.TrialPruned, match="pruned at epoch 1"):
        ctx.report(1, {"acc": 0.3})
    assert len(recorder.epochs) == 1


def test_non_finite_objective_fails_the_trial_as_nan() -> None:
    ctx = TrialContext(config=single(), objective="acc")
    ctx.optimizer(TwoLayers())
    with pytest.raises(TrialFailed) as info:
        ctx.report(1, {"acc": float("nan")})
    assert info.value.reason == "nan"


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda ctx, m: ctx.optimizer("main"), TypeError, r"needs the nn.Module whose parameters it optimizes, got nothing"),
    (lambda ctx, m: ctx.optimizer(m, m), TypeError, r"takes \(model\) or \(name, module\), got two modules"),
    (lambda ctx, m: ctx.optimizer(3), TypeError, r"got a int first"),
    (lambda ctx, m: ctx.optimizer("generator", m), ValueError, r"no optimizer 'generator' in this study; use "
                                                                r"ctx.optimizer\(model\) without a name"),
    (lambda ctx, m: ctx.scheduler(torch.optim.SGD(m.parameters(), lr=0.1), 3), ValueError,
     r"needs an optimizer built by ctx.optimizer"),
    (lambda ctx, m: ctx.freeze(0), ValueError, r"epochs count from 1 to 3 \(as in ctx.report\), got 0"),
        (lambda ctx, m: ctx.freeze(4), ValueError, r"epochs count from 1 to 3 \(as in ctx.report\), got 4"),
    (lambda ctx, m: ctx.freeze(1), RuntimeError, r"call ctx.optimizer\(...\) first"),
    (lambda ctx, m: ctx.report(1, {"acc": 1.0}), RuntimeError, r"ctx.report before ctx.optimizer\(model\)"),
])
def test_misuse_before_building_is_explained(call: object, error: type[Exception], message: str) -> None:
    ctx = TrialContext(config=single(), objective="acc")
    with pytest.raises(error, match=message):
        call(ctx, TwoLayers())  # type: ignore[operator]


def test_misuse_after_building_is_explained() -> None:
    ctx = TrialContext(config=single(epochs=3), objective="acc")
    model = TwoLayers()
    opt = ctx.optimizer(model)
    with pytest.raises(RuntimeError, match="optimizer 'main' was already built in this trial"):
        ctx.optimizer(model)
    with pytest.raises(ValueError, match="steps_per_epoch must be a positive int"):
        ctx.scheduler(opt, steps_per_epoch=0)
    ctx.scheduler(opt, steps_per_epoch=2)
    with pytest.raises(RuntimeError, match="ctx.scheduler was already called for optimizer 'main'"):
        ctx.scheduler(opt, steps_per_epoch=2)
    with pytest.raises(ValueError, match="epoch must be an int from 1 to 3, got 4"):
        ctx.report(4, {"acc": 1.0})
    with pytest.raises(TypeError, match="metrics must be a dict"):
        ctx.report(1, [("acc", 1.0)])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"metric 'acc' is a tensor of shape \(2,\), not one number"):
        ctx.report(1, {"acc": torch.ones(2)})
    with pytest.raises(TrialFailed, match="without the objective 'acc'"):
        ctx.report(1, {"accuracy": 1.0})
    ctx.report(2, {"acc": 0.5})
    with pytest.raises(ValueError, match="epoch 2 was reported after epoch 2"):
        ctx.report(2, {"acc": 0.5})


def test_several_optimizers_must_each_be_named_and_built_before_reporting() -> None:
    ctx = TrialContext(config=gan(), objective="fid")
    with pytest.raises(TypeError, match=r"several optimizers \(generator, discriminator\); name one: "
                                        r"ctx.optimizer\('generator', module\)"):
        ctx.optimizer(TwoLayers())
    ctx.optimizer("generator", TwoLayers())
    with pytest.raises(RuntimeError, match=r"ctx.report before ctx.optimizer\('discriminator', module\)"):
        ctx.report(1, {"fid": 3.0})


def test_run_train_function_seeds_and_returns_the_final_metrics() -> None:
    seen: list[torch.Tensor] = []

    def train(ctx: TrialContext) -> dict[str, float]:
        seen.append(torch.rand(3))
        ctx.optimizer(TwoLayers())
        ctx.report(1, {"acc": 0.25, "loss": 2.0})
        return {"test_acc": torch.tensor(0.5)}

    ctx = TrialContext(config=single(), objective="acc")
    assert run_train_function(ctx, train) == {"acc": 0.25, "loss": 2.0, "test_acc": 0.5}
    torch.manual_seed(ctx.seed)
    assert torch.equal(seen[0], torch.rand(3)), "the function runs with torch seeded by ctx.seed"


def test_run_train_function_explains_a_function_that_never_reports_or_returns_junk() -> None:
    def silent(ctx: TrialContext) -> None:
        ctx.optimizer(TwoLayers())

    with pytest.raises(TrialFailed, match=r"silent returned without calling ctx.report\(epoch, metrics\); report 'acc'"):
        run_train_function(TrialContext(config=single(), objective="acc"), silent)

    def junk(ctx: TrialContext) -> list[float]:
        ctx.optimizer(TwoLayers())
        ctx.report(1, {"acc": 1.0})
        return [1.0]

    with pytest.raises(TypeError, match="returns None or a dict of final metrics, got list"):
        run_train_function(TrialContext(config=single(), objective="acc"), junk)
