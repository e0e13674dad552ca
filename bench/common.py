"""What every benchmark shares: a gunicorn server started like `make run`, an HTTP client, figures."""

from __future__ import annotations

import functools
import http.client
import io
import itertools
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
THREADS = 160  # as `make run`
BOUNDARY = "imgrec-bench-" + uuid.uuid4().hex


@dataclass
class Row:
    metric: str
    value: str
    baseline: str = ""
    ratio: str = ""
    target: str = ""
    met: str = ""


@dataclass
class Section:
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def print(self) -> None:
        print(f"\n== {self.title}", flush=True)
        for row in self.rows:
            extra = f"  baseline {row.baseline}  ratio {row.ratio}" if row.baseline else ""
            target = f"  target {row.target} -> {row.met}" if row.target else ""
            print(f"  {row.metric}: {row.value}{extra}{target}", flush=True)
        for note in self.notes:
            print(f"  note: {note}", flush=True)


def verdict(ok: bool) -> str:
    return "met" if ok else "missed"


def photo_jpeg(width: int = 1024, height: int = 768, seed: int = 0) -> bytes:
    """A photo-like 1024x768 JPEG: smooth gradients, shapes and noise, quality 90."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (width + height) + 64], axis=-1)
    base[(x - width / 2) ** 2 + (y - height / 2) ** 2 < (height / 4) ** 2] = (200, 60, 40)
    pixels = np.clip(base + rng.normal(0, 12, size=base.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


CAMERA_ROLL_SIZE = (500, 375)


@functools.cache
def _source_photos() -> tuple[Image.Image, ...]:
    import matplotlib
    import skimage

    skimage_data = Path(skimage.__file__).parent / "data"
    paths = [skimage_data / name for name in ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg")]
    paths += [skimage_data / "motorcycle_left.png", skimage_data / "hubble_deep_field.jpg"]
    paths.append(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg")
    return tuple(Image.open(path).convert("RGB") for path in paths)


def camera_roll_jpeg(index: int) -> bytes:
    """A distinct JPEG of about 500x375, as from a camera roll: a random 4:3 crop of one of the photos that ship
    in scikit-image and matplotlib, maybe mirrored, with sensor-like noise, quality 88. Same index, same bytes."""
    sources = _source_photos()
    rng = np.random.default_rng(index)
    photo = sources[index % len(sources)]
    scale = rng.uniform(0.55, 1.0)
    width = min(photo.width, photo.height * 4 / 3) * scale  # unrounded: the 4:3 crop never outgrows the photo
    height = width * 3 / 4
    left = rng.uniform(0, photo.width - width)
    top = rng.uniform(0, photo.height - height)
    crop = photo.crop((round(left), round(top), round(left + width), round(top + height))).resize(CAMERA_ROLL_SIZE)
    if rng.random() < 0.5:
        crop = ImageOps.mirror(crop)
    noise = rng.normal(0, rng.uniform(2, 8), size=(CAMERA_ROLL_SIZE[1], CAMERA_ROLL_SIZE[0], 3))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(np.asarray(crop, dtype=np.float32) + noise, 0, 255).astype(np.uint8)).save(
        buffer, format="JPEG", quality=88
    )
    return buffer.getvalue()


_UPLOAD_NUMBERS = itertools.count()


def unique_upload(jpeg: bytes) -> bytes:
    """The same picture with a numbered JPEG comment after SOI: other bytes, so another SHA-256.

    The server answers a repeated upload from its history without inference ("cached"); every
    benchmark request must make the model work.
    """
    comment = f"imgrec bench upload {next(_UPLOAD_NUMBERS)}".encode()
    return jpeg[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + jpeg[2:]


def multipart(image: bytes, fields: dict[str, str]) -> bytes:
    parts = []
    for name, value in fields.items():
        parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="photo.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n".encode()
        + image
        + b"\r\n"
    )
    parts.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(parts)


@dataclass(frozen=True)
class Endpoint:
    """One way to ask for a classification: the HTML page or the JSON API."""

    name: str
    path: str
    image: bytes
    fields: dict[str, str]
    cookie: str = ""

    def body(self) -> bytes:
        """A multipart body whose image no earlier request sent (see unique_upload)."""
        return multipart(unique_upload(self.image), self.fields)

    @classmethod
    def page(cls, image: bytes, model: str, *, csrf: tuple[str, str]) -> Endpoint:
        cookie, token = csrf
        return cls(f"POST / ({model})", "/", image, {"model": model, "csrfmiddlewaretoken": token}, cookie=cookie)

    @classmethod
    def api(cls, image: bytes, model: str) -> Endpoint:
        return cls(f"POST /api/v1/classify ({model})", "/api/v1/classify", image, {"model": model})


class Client:
    """One keep-alive HTTP connection to the server (a new one after any error)."""

    def __init__(self, port: int, *, timeout_s: float = 60.0) -> None:
        self.port = port
        self.timeout_s = timeout_s
        self._connection: http.client.HTTPConnection | None = None
        self.location = ""

    def request(self, method: str, path: str, body: bytes | None = None, cookie: str = "") -> tuple[int, bytes]:
        if self._connection is None:
            self._connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout_s)
        headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"} if body is not None else {}
        if cookie:
            headers["Cookie"] = cookie
        try:
            self._connection.request(method, path, body=body, headers=headers)
            response = self._connection.getresponse()
            self.location = response.getheader("Location", "")
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise

    def post(self, endpoint: Endpoint) -> tuple[int, bytes]:
        """The answer a browser ends on: the page's 303 is followed to the result's permalink."""
        status, body = self.request("POST", endpoint.path, endpoint.body(), endpoint.cookie)
        if status == 303 and self.location:
            return self.request("GET", self.location, cookie=endpoint.cookie)
        return status, body

    def csrf(self) -> tuple[str, str]:
        """The CSRF cookie and form token a browser gets with the upload page."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout_s)
        connection.request("GET", "/")
        response = connection.getresponse()
        html = response.read().decode()
        cookie = next(
            value.split(";")[0]
            for name, value in response.getheaders()
            if name.lower() == "set-cookie" and "csrftoken" in value
        )
        connection.close()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        if token is None:
            raise RuntimeError("no CSRF token in the upload page")
        return cookie, token.group(1)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no VmRSS for pid {pid}")


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def server_env(**overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(32),
            "IMGREC_WEIGHTS": "random",
            "IMGREC_MODELS": "resnet50,vgg19,efficientnet_lite0",
            "IMGREC_PRELOAD": "true",
            # One loopback client stands for many users here: the per-client rate limit is off.
            "IMGREC_RATE_LIMIT": "",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONPATH": str(ROOT),
        }
    )
    env.update(overrides)
    return env


class Server:
    """gunicorn as `make run` starts it (1 process, gthread, 160 threads), on a free loopback port."""

    def __init__(self, *, settings_module: str = "imgrec_site.settings", threads: int = THREADS, **env: str) -> None:
        self.port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="imgrec-bench-"))
        self.env = server_env(
            DJANGO_SETTINGS_MODULE=settings_module, DATABASE_URL=f"sqlite:///{self.workdir / 'db.sqlite3'}", **env
        )
        self.threads = threads
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def migrate(self) -> None:
        subprocess.run(
            [PYTHON, "manage.py", "migrate", "--no-input", "--verbosity", "0"], cwd=ROOT, env=self.env, check=True
        )

    def start(self) -> Server:
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(
            [
                GUNICORN,
                "imgrec_site.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "1",
                "--worker-class",
                "gthread",
                "--threads",
                str(self.threads),
                "--timeout",
                "120",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=open(self.workdir / "server.log", "wb"),  # noqa: SIM115 - closed with the process
        )
        return self

    @property
    def worker_pid(self) -> int:
        assert self.process is not None
        workers = children(self.process.pid)
        if not workers:
            raise RuntimeError(f"gunicorn has no worker yet; see {self.workdir / 'server.log'}")
        return workers[0]

    def wait_for_http(self, *, limit_s: float = 120.0) -> None:
        """Until GET / answers (gunicorn listening and Django imported)."""
        deadline = time.perf_counter() + limit_s
        while time.perf_counter() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"server exited; see {self.workdir / 'server.log'}")
            try:
                if self.path_exists("/"):
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server not answering after {limit_s:.0f} s; see {self.workdir / 'server.log'}")

    def wait_until_serving(self, endpoints: Sequence[Endpoint], *, limit_s: float = 300.0) -> float:
        """Seconds from start until every endpoint answers 200 (models loaded and warm)."""
        client = Client(self.port, timeout_s=limit_s)
        deadline = time.perf_counter() + limit_s
        pending = list(endpoints)
        while pending:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"server not ready after {limit_s:.0f} s; see {self.workdir / 'server.log'}")
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"server exited; see {self.workdir / 'server.log'}")
            try:
                status, _ = client.post(pending[0])
            except OSError:
                status = 0
            if status == 200:
                pending.pop(0)
            else:
                time.sleep(0.05)
        client.close()
        return time.perf_counter() - self.started_at

    def path_exists(self, path: str) -> bool:
        client = Client(self.port)
        status, _ = client.request("GET", path)
        client.close()
        return status != 404

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class Options:
    quick: bool = False

    def pick(self, full: int | float, quick: int | float) -> int | float:
        return quick if self.quick else full


def bare_models(names: Sequence[str]) -> dict[str, object]:
    """The same compiled forward the server runs, built in this process (random weights), without Django."""
    from recognizer.inference.catalog import SPECS_BY_NAME
    from recognizer.inference.compiled import CompiledModel

    models = {}
    for name in names:
        spec = SPECS_BY_NAME[name]
        compiled = CompiledModel(spec.build(None, cache_dir=ROOT / "var" / "cache"), input_size=spec.input_size)
        compiled.warm_up((1, 16))
        models[name] = compiled
    return models


def time_forward(compiled: object, batch_size: int, repeats: int) -> list[float]:
    """Milliseconds per call of the bare compiled forward on a preprocessed batch."""
    size = compiled.input_size  # type: ignore[attr-defined]
    batch = np.random.default_rng(1).uniform(-120, 150, size=(batch_size, size, size, 3)).astype(np.float32)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        compiled.forward(batch)  # type: ignore[attr-defined]
        times.append((time.perf_counter() - start) * 1000.0)
    return times
