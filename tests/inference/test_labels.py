from __future__ import annotations

import numpy as np
import pytest

from recognizer.inference.labels import imagenet_classes, top_k_predictions


def test_class_index_has_1000_classes_with_wordnet_ids_and_names() -> None:
    classes = imagenet_classes()
    assert len(classes) == 1000
    assert (classes[967].class_id, classes[967].label) == ("n07920052", "espresso")
    assert (classes[281].class_id, classes[281].label) == ("n02123045", "tabby")
    assert len({c.class_id for c in classes}) == 1000


def test_top_k_is_sorted_highest_first() -> None:
    scores = np.zeros(1000, dtype=np.float32)
    scores[[3, 967, 10]] = [0.2, 0.7, 0.1]
    top = top_k_predictions(scores, 3)
    assert [p.index for p in top] == [967, 3, 10]
    assert top[0].label == "espresso"
    assert top[0].score == pytest.approx(0.7)


def test_top_k_refuses_a_wrong_shape() -> None:
    with pytest.raises(ValueError, match="Expected 1000 class scores"):
        top_k_predictions(np.zeros(10), 5)
