from __future__ import annotations

from importlib import resources

import keras
import numpy as np
import pytest

from recognizer.inference import hierarchy
from recognizer.inference.hierarchy import (
    CLASS_THRESHOLD,
    HEDGE_THRESHOLD,
    confidence,
    hedge,
    is_a_chain,
    is_useful,
    synset,
)
from recognizer.inference.labels import NUM_CLASSES, imagenet_classes
from tests.inference.photos import CHELSEA, model_batch, open_rgb

ENTITY = "n00001740"
DOMESTIC_CAT = "n02121808"
DOG = "n02084071"
CARNIVORE = "n02075296"
ARTIFACT = "n00021939"
TABBY, TIGER_CAT, EGYPTIAN_CAT = 281, 282, 285
ESPRESSO = 967
DOG_BREEDS = range(151, 269)  # Chihuahua .. Mexican hairless; the wolves (269..) are not dogs


def scores_with(mass: dict[int, float]) -> np.ndarray:
    """A probability vector with `mass` on the given classes and what is left spread evenly over the others."""
    scores = np.full(NUM_CLASSES, (1.0 - sum(mass.values())) / (NUM_CLASSES - len(mass)), dtype=np.float32)
    for index, probability in mass.items():
        scores[index] = probability
    return scores


def test_every_class_has_a_chain_ending_at_entity() -> None:
    chains = [is_a_chain(index) for index in range(NUM_CLASSES)]

    assert all(chain[-1].class_id == ENTITY for chain in chains)
    assert all(len({node.class_id for node in chain}) == len(chain) for chain in chains)
    assert synset(ENTITY).label == "entity"
    assert len(synset(ENTITY).leaves) == NUM_CLASSES


def test_each_node_is_one_level_above_the_next_in_a_chain() -> None:
    for index in range(NUM_CLASSES):
        depths = [node.depth for node in is_a_chain(index)]
        assert depths == list(range(len(depths) - 1, -1, -1)), imagenet_classes()[index]


def test_a_node_covers_exactly_the_classes_whose_chain_passes_through_it() -> None:
    below: dict[str, set[int]] = {}
    for index in range(NUM_CLASSES):
        for node in is_a_chain(index):
            below.setdefault(node.class_id, set()).add(index)

    for class_id, leaves in below.items():
        assert set(synset(class_id).leaves) == leaves, class_id
    assert not {c.class_id for c in imagenet_classes()} & set(below), "a class is an ancestor of another"


def test_cat_breeds_share_the_domestic_cat_ancestor() -> None:
    for index in (TABBY, TIGER_CAT, EGYPTIAN_CAT):
        assert DOMESTIC_CAT in [node.class_id for node in is_a_chain(index)]
    assert is_a_chain(TIGER_CAT)[0].class_id == DOMESTIC_CAT
    assert synset(DOMESTIC_CAT).label == "domestic cat"
    assert synset(DOMESTIC_CAT).leaves == (281, 282, 283, 284, 285)


def test_all_dog_breeds_and_nothing_else_are_under_dog() -> None:
    assert synset(DOG).label == "dog"
    assert set(synset(DOG).leaves) == set(DOG_BREEDS)


def test_names_are_readable_and_the_table_small() -> None:
    data = resources.files(hierarchy.__package__).joinpath("data", "imagenet_hierarchy.json")

    assert synset("n02087122").label == "hunting dog"
    assert all("_" not in synset(node.class_id).label for i in range(NUM_CLASSES) for node in is_a_chain(i))
    assert len(data.read_bytes()) < 400_000


def test_the_most_general_nodes_are_never_an_answer() -> None:
    for class_id in (ENTITY, "n00001930", "n00002684", "n00003553", ARTIFACT, "n00004258", "n00015388"):
        assert not is_useful(synset(class_id)), synset(class_id).label
    for class_id in (DOMESTIC_CAT, DOG, CARNIVORE, "n01503061"):  # ... bird
        assert is_useful(synset(class_id)), synset(class_id).label


def test_mass_split_across_cat_breeds_hedges_to_domestic_cat() -> None:
    scores = scores_with({EGYPTIAN_CAT: 0.3, TABBY: 0.3, TIGER_CAT: 0.3})

    answer = hedge(scores, threshold=HEDGE_THRESHOLD)

    assert answer is not None
    assert (answer.label, answer.class_id, answer.is_leaf) == ("domestic cat", DOMESTIC_CAT, False)
    assert answer.score == pytest.approx(scores[list(synset(DOMESTIC_CAT).leaves)].sum())
    assert answer.as_dict() == {"label": "domestic cat", "class_id": DOMESTIC_CAT, "score": answer.score}
    assert confidence(scores) == "high"


def test_a_confident_top1_is_its_own_answer() -> None:
    answer = hedge(scores_with({EGYPTIAN_CAT: 0.9}), threshold=HEDGE_THRESHOLD)

    assert answer is not None
    assert (answer.label, answer.class_id, answer.is_leaf) == ("Egyptian cat", "n02124075", True)
    assert answer.score == pytest.approx(0.9)


def test_the_answer_stays_on_the_top1_chain_when_it_can() -> None:
    """Tabby on top and the rest on dogs: "carnivore" (above the tabby) rather than "dog", which would contradict it."""
    scores = scores_with({TABBY: 0.25} | {breed: 0.75 / len(DOG_BREEDS) for breed in DOG_BREEDS})

    answer = hedge(scores, threshold=HEDGE_THRESHOLD)

    assert answer is not None
    assert answer.class_id == CARNIVORE


def test_off_the_top1_chain_the_most_specific_node_is_the_answer() -> None:
    """Espresso's ancestors never reach the threshold, so the answer is the dog node, not canine or mammal."""
    scores = scores_with({ESPRESSO: 0.2} | {breed: 0.8 / len(DOG_BREEDS) for breed in DOG_BREEDS})

    answer = hedge(scores, threshold=HEDGE_THRESHOLD)

    assert answer is not None
    assert (answer.class_id, answer.is_leaf) == (DOG, False)


def test_uniform_scores_have_no_answer_and_low_confidence() -> None:
    scores = np.full(NUM_CLASSES, 1.0 / NUM_CLASSES, dtype=np.float32)

    assert hedge(scores, threshold=HEDGE_THRESHOLD) is None
    assert confidence(scores) == "low"


def test_mass_spread_over_all_artifacts_is_too_general_to_be_an_answer() -> None:
    artifacts = synset(ARTIFACT).leaves
    scores = scores_with({index: 0.9 / len(artifacts) for index in artifacts})

    assert hedge(scores, threshold=HEDGE_THRESHOLD) is None
    assert confidence(scores) == "low"


def test_a_top1_above_the_class_threshold_is_confident_on_its_own() -> None:
    scores = scores_with({ESPRESSO: CLASS_THRESHOLD + 0.01})

    assert confidence(scores) == "high"


def test_scores_of_the_wrong_shape_are_refused() -> None:
    with pytest.raises(ValueError, match="1000 class scores"):
        hedge(np.ones(10, dtype=np.float32) / 10, threshold=HEDGE_THRESHOLD)


@pytest.mark.slow
def test_the_top_of_chelsea_hedges_from_a_breed_to_domestic_cat(efficientnet_lite0: keras.Model) -> None:
    """The upper half of scikit-image's chelsea: Egyptian cat under 50%, but surely a domestic cat."""
    photo = open_rgb(CHELSEA)
    upper_half = photo.crop((0, 0, photo.width, photo.height // 2))
    scores = keras.ops.convert_to_numpy(efficientnet_lite0(model_batch(upper_half), training=False))[0]
    top = int(np.argmax(scores))

    answer = hedge(scores, threshold=HEDGE_THRESHOLD)

    assert top in synset(DOMESTIC_CAT).leaves
    assert scores[top] < CLASS_THRESHOLD
    assert answer is not None
    assert not answer.is_leaf
    assert answer.class_id in [node.class_id for node in is_a_chain(top)]
    assert answer.score >= HEDGE_THRESHOLD
    assert answer.score > scores[top]


def _hedge_by_definition(scores: np.ndarray, threshold: float) -> tuple[str, float] | None:
    """hedge() written out node by node, as its docstring defines it (the module computes it with arrays)."""
    top = int(np.argmax(scores))
    if scores[top] >= threshold:
        return imagenet_classes()[top].class_id, float(scores[top])
    every_node = hierarchy._hierarchy().synsets.values()
    probability = {node.class_id: float(np.sum(scores[list(node.leaves)], dtype=np.float64)) for node in every_node}
    useful = [node for node in every_node if is_useful(node) and probability[node.class_id] >= threshold]
    on_top_chain = {node.class_id for node in is_a_chain(top)}
    candidates = [node for node in useful if node.class_id in on_top_chain] or useful
    if not candidates:
        return None
    best = min(candidates, key=lambda node: (len(node.leaves), -node.depth))
    return best.class_id, probability[best.class_id]


def test_hedge_gives_what_its_definition_gives_on_random_score_vectors() -> None:
    rng = np.random.default_rng(7)
    hedged_to_an_ancestor = 0
    for index in range(300):
        logits = rng.normal(0, rng.choice([0.3, 1.0, 3.0, 10.0]), NUM_CLASSES)
        if index % 2:  # a few classes well ahead, often siblings: the cases a hedge is for
            logits[rng.integers(NUM_CLASSES, size=rng.integers(1, 8))] += rng.uniform(0, 10)
        scores = np.exp(logits - logits.max())
        scores = (scores / scores.sum()).astype(np.float32)
        for threshold in (HEDGE_THRESHOLD, 0.5, 0.3):
            found = hedge(scores, threshold=threshold)
            expected = _hedge_by_definition(scores, threshold)
            assert (None if found is None else (found.class_id, pytest.approx(found.score))) == expected
            hedged_to_an_ancestor += found is not None and not found.is_leaf
    assert hedged_to_an_ancestor > 20  # the ancestor branch was exercised, not only top-1 answers
