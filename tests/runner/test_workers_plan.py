"""Planning worker processes onto devices (a pure function: GPUs are parameters, no GPU needed here), and the
supervisor's hard trial limit."""

from __future__ import annotations

import pytest

from lrsearch.errors import LrsearchError
from lrsearch.runner import WorkerSlot, plan_workers
from lrsearch.runner._supervisor import hard_limit


def test_default_workers_use_the_studys_device_and_split_the_cores() -> None:
    slots = plan_workers(workers=3, cpu_count=12, cuda_count=2)
    assert slots == [WorkerSlot(i, None, 4, None) for i in range(3)]


def test_cpu_workers_hide_the_gpus_and_split_the_cores() -> None:
    slots = plan_workers(workers=2, devices="cpu", cpu_count=2, cuda_count=4)
    assert [(s.device, s.threads, s.cuda_visible_devices) for s in slots] == [("cpu", 1, ""), ("cpu", 1, "")]


def test_more_workers_than_cores_get_one_thread_each() -> None:
    assert {s.threads for s in plan_workers(workers=5, devices="cpu", cpu_count=2, cuda_count=0)} == {1}


def test_the_specs_thread_count_wins() -> None:
    assert {s.threads for s in plan_workers(workers=2, cpu_count=16, cuda_count=0, spec_threads=3)} == {3}


def test_one_worker_per_listed_gpu_each_pinned_to_it() -> None:
    slots = plan_workers(devices="cuda:0,cuda:2", cpu_count=16, cuda_count=4)
    assert [(s.device, s.cuda_visible_devices, s.threads) for s in slots] == [("cuda:0", "0", 8), ("cuda:0", "2", 8)]


def test_several_trials_per_gpu() -> None:
    slots = plan_workers(devices="cuda:1", trials_per_device=3, cpu_count=6, cuda_count=2)
    assert [s.cuda_visible_devices for s in slots] == ["1", "1", "1"]
    assert [s.index for s in slots] == [0, 1, 2] and {s.threads for s in slots} == {2}


def test_auto_takes_every_gpu_or_falls_back_to_cpu_workers() -> None:
    gpus = plan_workers(devices="auto", trials_per_device=2, cpu_count=8, cuda_count=2)
    assert [s.cuda_visible_devices for s in gpus] == ["0", "0", "1", "1"]
    cpus = plan_workers(workers=2, devices="auto", trials_per_device=2, cpu_count=8, cuda_count=0)
    assert [(s.device, s.threads) for s in cpus] == [("cpu", 4), ("cpu", 4)]


def test_gpu_indices_count_the_gpus_this_container_sees() -> None:
    # A container given GPUs 5 and 7: they are cuda:0 and cuda:1 here; each worker is pinned to the real one.
    slots = plan_workers(devices="auto", cpu_count=4, cuda_count=2, cuda_visible_devices="5,7")
    assert [s.cuda_visible_devices for s in slots] == ["5", "7"]
    assert plan_workers(devices="cuda:1", cpu_count=4, cuda_count=2, cuda_visible_devices="5,7")[0].cuda_visible_devices == "7"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"devices": "cuda:2", "cuda_count": 2}, "--device: cuda:2 does not exist; this machine has GPUs cuda:0 to cuda:1"),
    ({"devices": "cuda:0", "cuda_count": 0}, "--device: cuda:0 does not exist; this machine has no GPU"),
    ({"devices": "gpu0", "cuda_count": 1}, "--device: 'gpu0' is not a device"),
    ({"devices": "cuda:0,cuda:0", "cuda_count": 1}, "cuda:0 is listed twice"),
    ({"devices": "cuda:0,cuda:1", "cuda_count": 2, "workers": 3}, "--workers 3 conflicts with --device"),
    ({"workers": 0, "cuda_count": 0}, "--workers must be >= 1"),
    ({"trials_per_device": 0, "cuda_count": 1, "devices": "auto"}, "--trials-per-device must be >= 1"),
])
def test_impossible_plans_name_the_option(kwargs: dict, message: str) -> None:
    with pytest.raises(LrsearchError, match=message.replace("(", r"\(")):
        plan_workers(cpu_count=4, **kwargs)


def test_hard_limit_leaves_the_trials_own_check_time_to_act() -> None:
    assert hard_limit(None) is None
    assert hard_limit(4) == 6  # at least 2 s of grace
    assert hard_limit(100) == 125  # a quarter of the timeout
    assert hard_limit(7200) == 7260  # at most a minute
