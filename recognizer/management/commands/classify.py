"""`python manage.py classify IMG [IMG ...] --model resnet50 --top 5 [--json]`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recognizer import serving
from recognizer.inference.errors import RecognizerError
from recognizer.inference.pipeline import DEFAULT_TOP_K, MAX_TOP_K, Classification


def top_k_argument(value: str) -> int:
    import argparse

    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to {MAX_TOP_K}, received {value!r}") from None
    if not 1 <= number <= MAX_TOP_K:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to {MAX_TOP_K}, received {number}")
    return number


class Command(BaseCommand):
    help = "Classify image files with a model and print the top predictions (a table, or --json)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("images", nargs="+", type=Path, metavar="IMG")
        parser.add_argument(
            "--model", default=None, help="model name (default: resnet50 if it can load, else the first that can)"
        )
        parser.add_argument(
            "--top", type=top_k_argument, default=DEFAULT_TOP_K, help=f"how many classes to print (1-{MAX_TOP_K})"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object per image, as the API returns")

    def handle(self, *args: Any, **options: Any) -> None:
        pipeline = serving.get_pipeline()
        registry = pipeline.registry
        model_name = options["model"] or registry.default_model_name() or registry.names[0]
        failures = 0
        for path in options["images"]:
            try:
                image_bytes = path.read_bytes()
            except (OSError, ValueError) as error:  # ValueError: a NUL byte in the path
                failures += 1
                self.stderr.write(f"{path}: cannot read: {getattr(error, 'strerror', None) or error}")
                continue
            try:
                result = pipeline.classify(image_bytes=image_bytes, model_name=model_name, top_k=options["top"])
            except RecognizerError as error:
                failures += 1
                self.stderr.write(f"{path}: {error}")
                continue
            self.stdout.write(self._format_json(path, result) if options["json"] else self._format_table(path, result))
        if failures:
            raise CommandError(f"{failures} of {len(options['images'])} images could not be classified", returncode=2)

    @staticmethod
    def _format_json(path: Path, result: Classification) -> str:
        return json.dumps({"image": str(path), **result.as_dict()})

    @staticmethod
    def _format_table(path: Path, result: Classification) -> str:
        lines = [f"{path}  ({result.model}, {result.timings_ms['inference']:.0f} ms inference)"]
        lines.append(f"  {'#':>2}  {'label':<32} {'class id':<10} {'probability':>11}")
        for rank, prediction in enumerate(result.predictions, start=1):
            lines.append(
                f"  {rank:>2}  {prediction.label[:32]:<32} {prediction.class_id:<10} {prediction.score:>10.2%}"
            )
        return "\n".join(lines) + "\n\n"
