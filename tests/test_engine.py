from __future__ import annotations

import threading

import numpy as np

from recognizer.registry import ModelRegistry


def test_every_batch_size_reuses_one_trace(registry: ModelRegistry) -> None:
    compiled = registry.get("resnet50").compiled
    traces_before = compiled.trace_count
    for batch_size in (1, 3, 1, 2):
        probabilities = compiled.forward(np.zeros((batch_size, 224, 224, 3), dtype=np.float32))
        assert probabilities.shape == (batch_size, 1000)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-4)
    assert compiled.trace_count == traces_before


def test_concurrent_calls_each_get_their_own_result(registry: ModelRegistry) -> None:
    compiled = registry.get("resnet50").compiled
    rng = np.random.default_rng(0)
    inputs = [rng.uniform(-120, 150, size=(1, 224, 224, 3)).astype(np.float32) for _ in range(6)]
    expected = [compiled.model(x, training=False).numpy() for x in inputs]
    results: dict[int, np.ndarray] = {}

    def run(index: int) -> None:
        results[index] = compiled.forward(inputs[index])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(inputs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for index, want in enumerate(expected):
        np.testing.assert_allclose(results[index], want, rtol=1e-4, atol=1e-6)
