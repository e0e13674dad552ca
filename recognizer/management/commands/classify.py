"""`python manage.py classify PATH [PATH ...] --model resnet50 --top 5 [--json | --csv FILE]`.

Files and folders (walked recursively for images: recognizer/management/collection.py) run through
the model's batching engine at full batch size, decoding ahead of the model
(recognizer/inference/batch.py). Output: a table per image, or one JSON line per image, or a CSV file
with one row per prediction. A progress bar goes to stderr when stderr is a terminal.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
from django.core.management.base import BaseCommand, CommandError, CommandParser

from recognizer import serving
from recognizer.inference.batch import ItemResult, classify_many
from recognizer.inference.errors import RecognizerError
from recognizer.inference.imaging import ACCEPTED_DESCRIPTION
from recognizer.inference.pipeline import DEFAULT_TOP_K, MAX_TOP_K, Classification
from recognizer.management.collection import collect_images
from recognizer.management.progress import ProgressBar

CSV_COLUMNS = ("image", "model", "rank", "label", "class_id", "index", "score", "error")
CSV_ROWS_PER_WRITE = 500  # the CSV is appended in pieces: a run of any size holds few rows in memory


def top_k_argument(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to {MAX_TOP_K}, received {value!r}") from None
    if not 1 <= number <= MAX_TOP_K:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to {MAX_TOP_K}, received {number}")
    return number


class Command(BaseCommand):
    help = (
        "Classify image files, and the images in folders (recursively), with a model: a table per image, "
        "one JSON line per image (--json) or a CSV file (--csv FILE). Exit status 2 if any image failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="image files and folders")
        parser.add_argument(
            "--model",
            default=None,
            help="model name, or any custom model's: the CLI is local and trusted, so a private one too "
            "(default: resnet50 if it can load, else the first that can)",
        )
        parser.add_argument(
            "--top", type=top_k_argument, default=DEFAULT_TOP_K, help=f"how many classes to print (1-{MAX_TOP_K})"
        )
        output = parser.add_mutually_exclusive_group()
        output.add_argument("--json", action="store_true", help="print one JSON object per line per image")
        output.add_argument("--csv", type=Path, metavar="FILE", help="write one row per prediction to FILE")

    def handle(self, *args: Any, **options: Any) -> None:
        collection = collect_images(options["paths"])
        if collection.skipped:
            self.stderr.write(f"skipped {collection.skipped} files in the folders that are not {ACCEPTED_DESCRIPTION}")
        files = collection.files
        if not files:
            raise CommandError(
                f"Expected images ({ACCEPTED_DESCRIPTION}) in the paths given. Received none", returncode=2
            )
        pipeline = serving.get_pipeline()
        registry = pipeline.registry
        model_name = options["model"] or registry.default_model_name() or registry.names[0]
        try:
            registry.get(model_name)  # loaded before the bar starts its clock
        except RecognizerError as error:  # the model itself cannot run: nothing can be classified
            raise CommandError(str(error), returncode=2) from None
        items = ((str(path), path.read_bytes) for path in files)
        results = classify_many(pipeline, items, model_name=model_name, top_k=options["top"])
        bar = ProgressBar(self._write_stderr, len(files)) if self.stderr.isatty() else None
        failures = 0
        try:
            if options["csv"] is not None:
                failures = self._write_csv(options["csv"], self._report(results, bar))
            else:
                for result in self._report(results, bar):
                    failures += result.classification is None
                    self.stdout.write(self._format(result, as_json=options["json"]), ending="")
        except RecognizerError as error:  # the model stopped between its load and its first image
            raise CommandError(str(error), returncode=2) from None
        finally:
            if bar is not None:
                bar.close()
        if failures:
            raise CommandError(f"{failures} of {len(files)} images could not be classified", returncode=2)

    def _report(self, results: Iterator[ItemResult], bar: ProgressBar | None) -> Iterator[ItemResult]:
        """Each result, its error (if any) told on stderr; the bar moves once the caller has written it."""
        # When stdout is the same terminal, the bar is wiped before each output and drawn again after it.
        shares_terminal = bar is not None and self.stdout.isatty()
        for result in results:
            if result.error is not None:
                line = f"{result.name}: {result.error}"
                if bar is None:
                    self.stderr.write(line)
                else:
                    bar.message(line)
            if shares_terminal and bar is not None:
                bar.clear()
            yield result
            if bar is not None:
                bar.advance(redraw=shares_terminal)

    def _write_stderr(self, text: str) -> None:
        self.stderr.write(text, ending="", style_func=str)  # the bar in the terminal's own colour
        self.stderr.flush()

    def _write_csv(self, destination: Path, results: Iterator[ItemResult]) -> int:
        failures = 0
        rows: list[dict[str, object]] = []
        header = True
        with destination.open("w", newline="") as file:
            for result in results:
                if result.classification is None:
                    failures += 1
                    rows.append({"image": result.name, "error": result.error})
                else:
                    rows.extend(_prediction_rows(result.name, result.classification))
                if len(rows) >= CSV_ROWS_PER_WRITE:
                    pd.DataFrame(rows, columns=list(CSV_COLUMNS)).to_csv(file, index=False, header=header)
                    rows, header = [], False
            pd.DataFrame(rows, columns=list(CSV_COLUMNS)).to_csv(file, index=False, header=header)
        return failures

    @staticmethod
    def _format(result: ItemResult, *, as_json: bool) -> str:
        if as_json:
            record = result.as_dict()
            return json.dumps({"image": record.pop("name"), **record}) + "\n"
        if result.classification is None:
            return ""  # already told on stderr
        return _table(result.name, result.classification)


def _prediction_rows(image: str, classification: Classification) -> list[dict[str, object]]:
    return [
        {"image": image, "model": classification.model, "rank": rank, **prediction.as_dict()}
        for rank, prediction in enumerate(classification.predictions, start=1)
    ]


def _table(image: str, result: Classification) -> str:
    lines = [f"{image}  ({result.model}, {result.timings_ms['inference']:.0f} ms inference)"]
    lines.append(f"  {'#':>2}  {'label':<32} {'class id':<10} {'probability':>11}")
    for rank, prediction in enumerate(result.predictions, start=1):
        lines.append(f"  {rank:>2}  {prediction.label[:32]:<32} {prediction.class_id:<10} {prediction.score:>10.2%}")
    return "\n".join(lines) + "\n\n"
