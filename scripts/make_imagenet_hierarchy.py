"""Write recognizer/inference/data/imagenet_hierarchy.json: the WordNet is-a tree above the 1000 ImageNet classes.

Run by hand, never at run time, after installing Debian's WordNet 3.0 database:

    apt-get install -y wordnet-base
    .venv/bin/python scripts/make_imagenet_hierarchy.py [--wordnet-dir /usr/share/wordnet]

An ImageNet-1k wnid such as n02123159 is "n" + the 8-digit offset of a noun synset in data.noun. A synset's
parents are its hypernyms (`@`) and, for instances, its instance hypernyms (`@i`). WordNet is a graph, not a
tree (domestic cat is both a cat and a domestic animal), so each synset keeps one parent: the one on its
longest path to the root `entity`, which is the most specific line of descent (cat -> feline -> carnivore
rather than domestic animal -> animal); ties go to the parent WordNet lists first. With one parent per
synset, a node's leaf classes are exactly the classes whose chain passes through it, so summing their
probabilities gives the node's probability without counting any class twice.

Output, one line per entry so that a regeneration diffs readably:
  "classes": for each class index, [wnid, [its ancestors from parent to root]]
  "synsets": for each ancestor, wnid -> [readable name (first lemma, spaces for underscores), [leaf indices]]
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import cache
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

from recognizer.inference.labels import imagenet_classes  # noqa: E402  (the repository is not installed as a package)

DEFAULT_WORDNET_DIR = Path("/usr/share/wordnet")
OUTPUT = REPOSITORY / "recognizer" / "inference" / "data" / "imagenet_hierarchy.json"
ROOT_WNID = "n00001740"  # entity
_PARENT_POINTERS = ("@", "@i")


def parse_noun_synsets(data_noun: Path) -> dict[str, tuple[str, tuple[str, ...]]]:
    """wnid -> (first lemma, parent wnids in WordNet's order), from the data.noun format of wndb(5WN)."""
    synsets: dict[str, tuple[str, tuple[str, ...]]] = {}
    with data_noun.open(encoding="latin-1") as lines:
        for line in lines:
            if line.startswith(" "):  # the licence header
                continue
            fields = line.split(" | ", 1)[0].split()
            offset, word_count = fields[0], int(fields[3], 16)
            first_lemma = fields[4]
            pointers_at = 4 + 2 * word_count
            pointer_count = int(fields[pointers_at])
            parents = []
            for index in range(pointer_count):
                symbol, target, part_of_speech = fields[pointers_at + 1 + 4 * index : pointers_at + 4 + 4 * index]
                if symbol in _PARENT_POINTERS and part_of_speech == "n":
                    parents.append(f"n{target}")
            synsets[f"n{offset}"] = (_readable(first_lemma), tuple(parents))
    return synsets


def _readable(lemma: str) -> str:
    return lemma.replace("_", " ")


def single_parent_tree(synsets: dict[str, tuple[str, tuple[str, ...]]]) -> dict[str, str]:
    """wnid -> the parent on its longest path to the root (first listed on a tie); the root has none."""

    @cache
    def depth(wnid: str) -> int:
        parents = synsets[wnid][1]
        return 0 if not parents else 1 + max(depth(parent) for parent in parents)

    tree: dict[str, str] = {}
    for wnid, (_, parents) in synsets.items():
        if parents:
            deepest = max(depth(parent) for parent in parents)
            tree[wnid] = next(parent for parent in parents if depth(parent) == deepest)
    return tree


def chain_to_root(wnid: str, tree: dict[str, str]) -> list[str]:
    """The ancestors of `wnid`, parent first, ending at the root."""
    chain = []
    while wnid in tree:
        wnid = tree[wnid]
        chain.append(wnid)
    return chain


def build_hierarchy(synsets: dict[str, tuple[str, tuple[str, ...]]]) -> dict[str, object]:
    tree = single_parent_tree(synsets)
    classes = [(c.class_id, chain_to_root(c.class_id, tree)) for c in imagenet_classes()]
    leaves_below: dict[str, list[int]] = {}
    for index, (_, chain) in enumerate(classes):
        for ancestor in chain:
            leaves_below.setdefault(ancestor, []).append(index)
    class_wnids = {wnid for wnid, _ in classes}
    if class_wnids & set(leaves_below):
        raise ValueError(f"some classes are ancestors of others: {sorted(class_wnids & set(leaves_below))}")
    for wnid, chain in classes:
        if not chain or chain[-1] != ROOT_WNID:
            raise ValueError(f"{wnid} does not descend from entity: {chain}")
    return {
        "classes": classes,
        "synsets": {wnid: (synsets[wnid][0], leaves) for wnid, leaves in sorted(leaves_below.items())},
    }


def to_json(hierarchy: dict[str, object]) -> str:
    """Compact JSON with one class or synset a line."""
    classes = ",\n".join("  " + json.dumps(entry, separators=(",", ":")) for entry in hierarchy["classes"])
    synsets = ",\n".join(
        f"  {json.dumps(wnid)}:{json.dumps(entry, separators=(',', ':'))}"
        for wnid, entry in hierarchy["synsets"].items()
    )
    header = json.dumps("WordNet 3.0 (Debian wordnet-base), by scripts/make_imagenet_hierarchy.py")
    return f'{{"source":{header},\n"classes":[\n{classes}\n],\n"synsets":{{\n{synsets}\n}}}}\n'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wordnet-dir", type=Path, default=DEFAULT_WORDNET_DIR)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    arguments = parser.parse_args()
    hierarchy = build_hierarchy(parse_noun_synsets(arguments.wordnet_dir / "data.noun"))
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(to_json(hierarchy), encoding="utf-8")
    print(
        f"wrote {arguments.output} ({arguments.output.stat().st_size:,} bytes, {len(hierarchy['synsets'])} ancestors)"
    )


if __name__ == "__main__":
    main()
