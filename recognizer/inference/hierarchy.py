"""Hedged answers: when no class is likely enough, the most specific WordNet ancestor that is.

After Deng et al., "Hedging your bets: optimizing accuracy-specificity trade-offs in large scale visual
recognition" (CVPR 2012), as in the Caffe web demo's "maximally specific" answer: an ancestor synset's
probability is the sum of its leaf classes' probabilities, so "Egyptian cat 45%" can be answered as
"domestic cat 96%". The is-a tree comes from WordNet 3.0 through `data/imagenet_hierarchy.json`, made by
`scripts/make_imagenet_hierarchy.py` (each synset keeps one parent, so a node's leaves are never counted twice).

Which ancestors may be an answer: WordNet's top levels name categories of the ontology, not of things
one photographs, so a node is useful only when
  - it lies at least `MIN_USEFUL_DEPTH` levels below `entity` (which excludes entity, physical entity,
    abstraction, object, matter, whole, part, relation, substance...), and
  - it covers at most `MAX_USEFUL_LEAVES` classes (which excludes artifact, living thing, organism, animal,
    instrumentality, chordate and vertebrate). A model that knows nothing (uniform scores) gives a node
    of k leaves the probability k/1000; capping k at a quarter of the classes keeps that at most 0.25, far
    below `HEDGE_THRESHOLD`, so no hedge can come from spreading the probability evenly.

Thresholds:
  - `CLASS_THRESHOLD` (0.5): the top-1 class is an answer when the model thinks it more likely right than
    wrong. At or above one half only one class can qualify.
  - `HEDGE_THRESHOLD` (0.7): a hedge gives up specificity, so in exchange it must be clearly surer than a
    coin flip; above one half the qualifying nodes are nested, so the most specific one is unique.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

import numpy as np

from recognizer.inference.labels import NUM_CLASSES, imagenet_classes

CLASS_THRESHOLD = 0.5
HEDGE_THRESHOLD = 0.7
MIN_USEFUL_DEPTH = 4
MAX_USEFUL_LEAVES = NUM_CLASSES // 4

Confidence = Literal["high", "low"]


@dataclass(frozen=True)
class Hedge:
    """The answer to give: a class (is_leaf) or one of its WordNet ancestors, with its probability."""

    label: str
    class_id: str
    score: float
    is_leaf: bool

    def as_dict(self) -> dict[str, str | float]:
        return {"label": self.label, "class_id": self.class_id, "score": self.score}


@dataclass(frozen=True)
class Synset:
    """An ancestor of at least one class; `leaves` are the indices of the classes below it."""

    class_id: str
    label: str
    depth: int
    leaves: tuple[int, ...]


@dataclass(frozen=True)
class _Hierarchy:
    chains: tuple[tuple[str, ...], ...]  # per class index: ancestor wnids, parent first, entity last
    synsets: dict[str, Synset]
    node_order: tuple[str, ...]  # the ancestors in the order of `leaf_offsets` and of the arrays below
    flat_leaves: np.ndarray  # all nodes' leaf indices one after another ...
    leaf_offsets: np.ndarray  # ... each node's starting at its offset, for one np.add.reduceat
    useful: np.ndarray  # per node: is_useful
    specificity_rank: np.ndarray  # per node: its place by (fewest leaves, deepest, node order)
    chain_nodes: tuple[np.ndarray, ...]  # per class index: its ancestors' positions in node_order

    def ancestor_probabilities(self, scores: np.ndarray) -> np.ndarray:
        """Per node (in node_order): the sum of its leaf classes' scores."""
        return np.add.reduceat(scores[self.flat_leaves].astype(np.float64), self.leaf_offsets)


@cache
def _hierarchy() -> _Hierarchy:
    text = resources.files(__package__).joinpath("data", "imagenet_hierarchy.json").read_text(encoding="utf-8")
    table = json.loads(text)
    chains = tuple(tuple(chain) for _, chain in table["classes"])
    depths = {wnid: len(chain) - 1 - position for chain in chains for position, wnid in enumerate(chain)}
    synsets = {
        wnid: Synset(class_id=wnid, label=label, depth=depths[wnid], leaves=tuple(leaves))
        for wnid, (label, leaves) in table["synsets"].items()
    }
    node_order = tuple(synsets)
    position = {wnid: index for index, wnid in enumerate(node_order)}
    nodes = [synsets[wnid] for wnid in node_order]
    by_specificity = sorted(range(len(nodes)), key=lambda index: (len(nodes[index].leaves), -nodes[index].depth, index))
    rank = np.empty(len(nodes), dtype=np.intp)
    rank[by_specificity] = np.arange(len(nodes))
    return _Hierarchy(
        chains=chains,
        synsets=synsets,
        node_order=node_order,
        flat_leaves=np.concatenate([node.leaves for node in nodes]).astype(np.intp),
        leaf_offsets=np.concatenate([[0], np.cumsum([len(node.leaves) for node in nodes])[:-1]]).astype(np.intp),
        useful=np.array([is_useful(node) for node in nodes], dtype=bool),
        specificity_rank=rank,
        chain_nodes=tuple(np.array([position[wnid] for wnid in chain], dtype=np.intp) for chain in chains),
    )


def is_a_chain(index: int) -> tuple[Synset, ...]:
    """The ancestors of class `index`, its parent first and entity last."""
    hierarchy = _hierarchy()
    return tuple(hierarchy.synsets[wnid] for wnid in hierarchy.chains[index])


def synset(class_id: str) -> Synset:
    """An ancestor synset by wnid (KeyError for a class or a synset above no class)."""
    return _hierarchy().synsets[class_id]


def is_useful(node: Synset) -> bool:
    """Whether a node is specific enough to be an answer (see the module docstring)."""
    return node.depth >= MIN_USEFUL_DEPTH and len(node.leaves) <= MAX_USEFUL_LEAVES


def hedge(scores: np.ndarray, *, threshold: float = HEDGE_THRESHOLD) -> Hedge | None:
    """The most specific answer whose probability reaches `threshold`, or None.

    First along the top-1 class's chain (itself, then its ancestors), so a hedge never contradicts the
    top-1 label shown beside it; only when no useful node on that chain qualifies, the useful node with
    the fewest leaves (then the deepest) anywhere in the tree.
    """
    if scores.shape != (NUM_CLASSES,):
        raise ValueError(f"Expected {NUM_CLASSES} class scores. Received shape {scores.shape}")
    top = int(np.argmax(scores))
    if scores[top] >= threshold:
        leaf = imagenet_classes()[top]
        return Hedge(label=leaf.label, class_id=leaf.class_id, score=float(scores[top]), is_leaf=True)
    hierarchy = _hierarchy()
    probabilities = hierarchy.ancestor_probabilities(scores)
    qualifying = hierarchy.useful & (probabilities >= threshold)
    on_top_chain = hierarchy.chain_nodes[top][qualifying[hierarchy.chain_nodes[top]]]
    candidates = on_top_chain if on_top_chain.size else np.flatnonzero(qualifying)
    if not candidates.size:
        return None
    best_position = int(candidates[np.argmin(hierarchy.specificity_rank[candidates])])
    best = hierarchy.synsets[hierarchy.node_order[best_position]]
    return Hedge(label=best.label, class_id=best.class_id, score=float(probabilities[best_position]), is_leaf=False)


def confidence(scores: np.ndarray) -> Confidence:
    """Whether the photo looks like one of the 1000 ImageNet classes, or one of their useful ancestors.

    "low" when neither the top-1 class reaches `CLASS_THRESHOLD` nor a useful ancestor `HEDGE_THRESHOLD`:
    the photo looks like none of the classes (or like several unrelated ones).
    """
    if float(np.max(scores)) >= CLASS_THRESHOLD or hedge(scores, threshold=HEDGE_THRESHOLD) is not None:
        return "high"
    return "low"
