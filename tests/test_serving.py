"""The process's registry and decode budget: one each, however many threads ask first."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from recognizer import serving
from recognizer.serving import once_per_process


def test_threads_asking_at_the_same_moment_get_one_object_made_once() -> None:
    made: list[object] = []
    start = threading.Barrier(8)

    @once_per_process
    def slow_factory() -> object:
        time.sleep(0.05)  # long enough for every thread to arrive while the first one builds
        made.append(object())
        return made[-1]

    def ask(_: int) -> object:
        start.wait()
        return slow_factory()

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(ask, range(8)))
    assert len(made) == 1
    assert len(results) == 8 and all(result is made[0] for result in results)


def test_the_process_registry_and_budget_are_the_same_on_every_call() -> None:
    assert serving.get_registry() is serving.get_registry()
    assert serving.get_decode_budget() is serving.get_decode_budget()
