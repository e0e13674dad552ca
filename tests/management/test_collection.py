from __future__ import annotations

from pathlib import Path

from recognizer.management.collection import collect_images
from tests.images import encode, png_bytes, scene_rgb


def make_tree(root: Path) -> None:
    (root / "b" / "deeper").mkdir(parents=True)
    (root / ".cache").mkdir()
    (root / "z.png").write_bytes(png_bytes())
    (root / "a.jpg").write_bytes(encode(scene_rgb(), "JPEG"))
    (root / "b" / "deeper" / "photo.bmp").write_bytes(encode(scene_rgb(), "BMP"))
    (root / "b" / "named-like-text.txt").write_bytes(png_bytes())  # an image by content, whatever its name
    (root / "b" / "notes.jpg").write_text("a text file named like a photo")
    (root / ".hidden.png").write_bytes(png_bytes())
    (root / ".cache" / "thumb.png").write_bytes(png_bytes())


def test_a_folder_gives_its_images_by_content_in_sorted_order(tmp_path: Path) -> None:
    make_tree(tmp_path)
    collection = collect_images([tmp_path])
    names = [path.relative_to(tmp_path).as_posix() for path in collection.files]
    assert names == ["a.jpg", "b/deeper/photo.bmp", "b/named-like-text.txt", "z.png"]
    assert collection.skipped == 1  # notes.jpg; hidden files are not even looked at


def test_files_named_by_hand_are_kept_as_given_in_order(tmp_path: Path) -> None:
    make_tree(tmp_path)
    named = [tmp_path / "z.png", tmp_path / "b" / "notes.jpg", tmp_path / "missing.png"]
    assert collect_images(named).files == named


def test_a_symlink_loop_is_followed_once(tmp_path: Path) -> None:
    make_tree(tmp_path)
    (tmp_path / "b" / "back-to-top").symlink_to(tmp_path)
    (tmp_path / "b" / "deeper" / "also-b").symlink_to(tmp_path / "b")
    names = [path.relative_to(tmp_path).as_posix() for path in collect_images([tmp_path]).files]
    assert names == ["a.jpg", "b/deeper/photo.bmp", "b/named-like-text.txt", "z.png"]


def test_a_symlinked_folder_outside_the_walk_is_followed(tmp_path: Path) -> None:
    outside, walked = tmp_path / "outside", tmp_path / "walked"
    outside.mkdir()
    walked.mkdir()
    (outside / "p.png").write_bytes(png_bytes())
    (walked / "link").symlink_to(outside)
    assert collect_images([walked]).files == [walked / "link" / "p.png"]
