"""A batch's threads kept on one CPU (Linux), and the process's CPUs as they were afterwards."""

from __future__ import annotations

import os
import threading

import pytest

from smsp_cli.system import cpus

pytestmark = pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs a system that sets CPU affinity and more than one CPU to choose from",
)


def test_the_block_and_the_threads_it_starts_run_on_one_cpu_then_all_are_back() -> None:
    before = os.sched_getaffinity(0)
    seen_by_thread: list[set[int]] = []
    with cpus.on_one_cpu() as kept:
        assert kept is not None
        assert kept in before
        assert os.sched_getaffinity(0) == {kept}
        worker = threading.Thread(target=lambda: seen_by_thread.append(os.sched_getaffinity(0)))
        worker.start()
        worker.join()
    assert seen_by_thread == [{kept}]
    assert os.sched_getaffinity(0) == before


def test_the_cpus_are_back_when_the_block_raises() -> None:
    before = os.sched_getaffinity(0)
    with pytest.raises(RuntimeError), cpus.on_one_cpu():
        raise RuntimeError("the batch failed")
    assert os.sched_getaffinity(0) == before


def test_smsp_batch_one_cpu_0_leaves_every_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMSP_BATCH_ONE_CPU", "0")
    before = os.sched_getaffinity(0)
    with cpus.on_one_cpu() as kept:
        assert kept is None
        assert os.sched_getaffinity(0) == before
