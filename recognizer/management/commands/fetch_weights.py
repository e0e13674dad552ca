"""`python manage.py fetch_weights [NAME ...]`: download Keras' ImageNet weights into its cache."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recognizer import serving
from recognizer.inference.catalog import SPECS_BY_NAME
from recognizer.inference.weights import WeightsUnavailable, download_weights, find_weights, keras_cache_dir


class Command(BaseCommand):
    help = "Download the ImageNet weights of the named models (default: every enabled model) into the Keras cache."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("names", nargs="*", metavar="NAME", help=f"one of {', '.join(SPECS_BY_NAME)}")

    def handle(self, *args: Any, **options: Any) -> None:
        registry = serving.get_registry()
        names = options["names"] or registry.names
        unknown = [name for name in names if name not in SPECS_BY_NAME]
        if unknown:
            raise CommandError(
                f"Unknown model. Expected one of {', '.join(SPECS_BY_NAME)}. Received: {', '.join(unknown)}",
                returncode=2,
            )
        for name in names:
            spec = SPECS_BY_NAME[name]
            if spec.bundled_weights is not None:
                self.stdout.write(f"{name}: weights ship with its Python package; nothing to download")
                continue
            existing = find_weights(spec, weights_dir=registry.weights_dir)
            if existing is not None:
                self.stdout.write(f"{name}: already present at {existing}")
                continue
            self.stdout.write(f"{name}: downloading {spec.weights_file} into {keras_cache_dir()}")
            try:
                path = download_weights(spec)
            except WeightsUnavailable as error:
                raise CommandError(f"{name}: {error}", returncode=2) from None
            self.stdout.write(self.style.SUCCESS(f"{name}: saved {path}"))
