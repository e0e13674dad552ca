"""The state one benchmark run shares: the server, bare models in this process, the test image."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.common import Client, Endpoint, Options, Server, bare_models, photo_jpeg


@dataclass
class Bench:
    server: Server
    options: Options
    image: bytes = field(default_factory=photo_jpeg)
    api_available: bool = False
    measured: dict[str, float] = field(default_factory=dict)
    _bare: dict[str, object] = field(default_factory=dict)
    _csrf: tuple[str, str] | None = None

    def bare(self, model: str) -> object:
        if model not in self._bare:
            self._bare.update(bare_models([model]))
        return self._bare[model]

    def page(self, model: str) -> Endpoint:
        if self._csrf is None:
            self._csrf = Client(self.server.port).csrf()
        return Endpoint.page(self.image, model, csrf=self._csrf)

    def endpoint(self, model: str) -> Endpoint:
        """The JSON API when it exists (no chart, no page), else the HTML page."""
        return Endpoint.api(self.image, model) if self.api_available else self.page(model)
