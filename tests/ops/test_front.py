"""The front (deploy/nginx.conf.template) as `make run` renders it, in front of a trivial upstream.

The upstream echoes what reached it, so these check what nginx does, not the app: it answers while
idle connections are open, closes them after the header/body timeout (2 s here instead of 10 s),
passes the client address where the app looks for it, and hands the app only whole bodies.
`make test` installs nginx (the front-deps target), so it is required here, never skipped.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from django.test import RequestFactory

from recognizer.ops.ratelimit import client_ip

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 2
MAX_UPLOAD_MB = 1
# Generous bounds for a shared, noisy machine: "answered at all" and "closed eventually".
ANSWER_WITHIN_S = 15.0
CLOSED_WITHIN_S = 30.0


def nginx_binary() -> str:
    # Debian installs it in /usr/sbin, which is not on every user's PATH.
    found = shutil.which("nginx", path=os.environ.get("PATH", "") + os.pathsep + "/usr/sbin")
    assert found, "nginx is missing: `make test` installs it (front-deps), or apt-get install nginx"
    return found


def render(front_dir: Path, listen: str, upstreams: list[str]) -> Path:
    """The config as `make run` writes it, with short client timeouts and a small upload cap."""
    front_dir.mkdir(exist_ok=True)
    upstream_args = [arg for address in upstreams for arg in ("--upstream", address)]
    rendered = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "render_nginx.py"), "--dir", str(front_dir), "--listen", listen,
         *upstream_args, "--client-timeout", str(TIMEOUT_S), "--keepalive-timeout", str(TIMEOUT_S),
         "--max-upload-mb", str(MAX_UPLOAD_MB)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    config = front_dir / "nginx.conf"
    config.write_text(rendered.stdout)
    return config


def nginx_args(config: Path) -> list[str]:
    front_dir = config.parent
    return [nginx_binary(), "-p", f"{front_dir}/", "-e", str(front_dir / "error.log"), "-c", str(config)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Echo(BaseHTTPRequestHandler):
    """Answers every request with JSON: the path, the headers and the body length it received."""

    protocol_version = "HTTP/1.1"  # the front keeps upstream connections alive

    def answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        payload = json.dumps({"path": self.path, "headers": dict(self.headers), "body_length": len(body)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = answer

    def log_message(self, format: str, *args: object) -> None:
        """Quiet (and a unix socket has no client address to log)."""


def read_until_closed(sock: socket.socket) -> bytes:
    """What the front sent before closing (with a FIN, or a RST when it did not read all we sent)."""
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(chunks)


@dataclass
class Front:
    port: int
    error_log: Path

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, object]]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=ANSWER_WITHIN_S)
        try:
            connection.request("GET", path, headers=headers or {})
            response = connection.getresponse()
            body = response.read()
            return response.status, json.loads(body) if response.status == 200 else {}
        finally:
            connection.close()

    def raw(self, data: bytes) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=CLOSED_WITHIN_S)
        sock.sendall(data)
        return sock


@pytest.fixture
def front(tmp_path: Path) -> Iterator[Front]:
    """nginx from the rendered template on a free port, balancing to the echo server on a unix socket."""
    app_socket = tmp_path / "app.sock"
    upstream = socketserver.ThreadingUnixStreamServer(str(app_socket), Echo)
    upstream.daemon_threads = True
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    port = free_port()
    config = render(tmp_path / "front", f"127.0.0.1:{port}", [f"unix:{app_socket}"])
    nginx = subprocess.Popen(nginx_args(config), stderr=subprocess.PIPE)
    front = Front(port, config.parent / "error.log")
    deadline = time.monotonic() + ANSWER_WITHIN_S
    while True:
        try:
            front.get("/healthz")
            break
        except OSError:
            if nginx.poll() is not None or time.monotonic() > deadline:
                stderr = nginx.stderr.read().decode() if nginx.stderr else ""
                raise RuntimeError(f"nginx did not start: {stderr}") from None
            time.sleep(0.05)
    yield front
    nginx.terminate()
    nginx.wait(timeout=30)
    upstream.shutdown()
    upstream.server_close()


def test_the_rendered_config_passes_nginx_t_with_several_app_nodes(tmp_path: Path) -> None:
    config = render(tmp_path, "127.0.0.1:8000", [f"unix:{tmp_path / 'app.sock'}", "127.0.0.1:8002", "127.0.0.1:8003"])
    text = config.read_text()
    assert re.search(r"@[A-Z_]+@", text) is None  # every placeholder filled in
    assert text.count("        server ") == 3
    assert text.count(" max_fails=1 fail_timeout=5s;") == 3  # passive health: a dead node is skipped
    assert "proxy_next_upstream error timeout;" in text  # and its share goes to the others
    checked = subprocess.run([*nginx_args(config), "-t"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_healthz_answers_while_200_idle_connections_are_open(front: Front) -> None:
    idle = [
        front.raw(opening)
        for _ in range(67)
        for opening in (
            b"",
            b"GET / HTTP/1.1\r\nHost: x\r\n",
            b"POST /api/v1/classify HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 1000,
        )
    ]
    try:
        status, echoed = front.get("/healthz")
        assert status == 200 and echoed["path"] == "/healthz"
    finally:
        for sock in idle:
            sock.close()


@pytest.mark.parametrize(
    "opening",
    [
        b"",
        b"GET / HTTP/1.1\r\nHost: x\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\npartial",
    ],
    ids=["nothing", "unfinished headers", "unfinished body"],
)
def test_a_stalled_connection_is_closed_after_the_timeout(front: Front, opening: bytes) -> None:
    with front.raw(opening) as sock:
        try:
            leftover = sock.recv(65536)
            while leftover:  # nginx may say 408 before closing
                leftover = sock.recv(65536)
        except ConnectionResetError:
            pass  # reset_timedout_connection: closed with a RST
        except TimeoutError:
            pytest.fail(f"still open after {CLOSED_WITHIN_S:.0f} s with a {TIMEOUT_S} s timeout")


def test_the_app_reads_the_client_address_the_front_appended(
    front: Front,
    settings,  # noqa: ANN001 - pytest-django's settings fixture
    rf: RequestFactory,
) -> None:
    status, echoed = front.get("/", headers={"X-Forwarded-For": "6.6.6.6"})
    headers = echoed["headers"]
    assert status == 200
    assert headers["X-Forwarded-For"] == "6.6.6.6, 127.0.0.1"  # what the client claimed comes first
    assert headers["X-Forwarded-Proto"] == "http"
    assert headers["Host"] == f"127.0.0.1:{front.port}"  # with the port, as Django's CSRF Origin check needs
    settings.IMGREC_CLIENT_IP_HEADER = "HTTP_X_FORWARDED_FOR"  # as `make run` sets it
    assert client_ip(rf.get("/", HTTP_X_FORWARDED_FOR=headers["X-Forwarded-For"])) == "127.0.0.1"


def test_the_app_gets_whole_bodies(front: Front) -> None:
    # Chunked from the client, buffered by the front: the app sees one body with its length.
    chunked = b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    with front.raw(chunked + b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n") as sock:
        answer = read_until_closed(sock)
    echoed = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert echoed["body_length"] == 11 and echoed["headers"]["Content-Length"] == "11"


@pytest.mark.parametrize("path", ["/", "/api/v1/classify"])
def test_a_body_over_the_cap_is_refused_before_it_is_sent(front: Front, path: str) -> None:
    over = (MAX_UPLOAD_MB + 2) * 1024 * 1024
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {over}\r\nConnection: close\r\n\r\n".encode()
    with front.raw(head) as sock:  # refused from the announced length alone
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 413")
    if path.startswith("/api/"):  # the API's own error format
        body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
        assert body == {"error": f"Expected an upload of at most {MAX_UPLOAD_MB} MB. Received more"}
