"""`make cluster` for real: deploy/cluster.sh starts the front and two gunicorn app nodes (node1, node2)
on the test database (PostgreSQL) and Redis DB 10, as an operator's machines would share them.

Rows must be committed for the nodes to see them, hence `transactional_db`. Each test talks from its own
loopback source addresses (127.0.x.y): the front passes that address on, and the rate limit counts it.
`make test` provides nginx, PostgreSQL and Redis (front-deps, services): required here, never skipped.
"""

from __future__ import annotations

import http.client
import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
import redis
from django.db import connection

from tests.images import png_bytes
from tests.ops.test_front import nginx_binary

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/10"  # this branch's test Redis DB
RATE_LIMIT = 6
START_WITHIN_S = 300.0  # two nodes load TensorFlow and a model each, on a shared 2-core machine
ANSWER_WITHIN_S = 120.0

_source_addresses = (f"127.0.{a}.{b}" for a, b in itertools.product(range(1, 250), range(2, 250)))


def fresh_source() -> str:
    """A loopback address no request of this run has come from yet: a new client for the rate limit."""
    return next(_source_addresses)


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: Path) -> None:
        super().__init__("127.0.0.1", timeout=ANSWER_WITHIN_S)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(str(self.path))


@dataclass
class Answer:
    status: int
    node: str | None
    headers: http.client.HTTPMessage
    body: bytes


def exchange(
    connection_: http.client.HTTPConnection, method: str, path: str, body: bytes | None, headers: dict[str, str]
) -> Answer:
    try:
        connection_.request(method, path, body=body, headers={"Host": "127.0.0.1", **headers})
        response = connection_.getresponse()
        return Answer(response.status, response.getheader("X-Imgrec-Node"), response.headers, response.read())
    finally:
        connection_.close()


def multipart(fields: dict[str, str], image: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    head = "".join(parts).encode()
    image_part = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="photo.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + image
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return head + image_part, f"multipart/form-data; boundary={boundary}"


@dataclass
class Cluster:
    directory: Path
    port: int
    process: subprocess.Popen[bytes]

    def request(
        self, method: str, path: str, *, body: bytes | None = None, headers: dict[str, str] | None = None,
        source: str | None = None,
    ) -> Answer:  # fmt: skip
        """Through the front, from `source` (a fresh client when not given)."""
        front = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=ANSWER_WITHIN_S, source_address=(source or fresh_source(), 0)
        )
        return exchange(front, method, path, body, headers or {})

    def node_request(self, node: int, method: str, path: str) -> Answer:
        """Straight to one node's socket, past the front."""
        return exchange(UnixHTTPConnection(self.directory / f"node{node}.sock"), method, path, None, {})

    def classify(self, *, source: str | None = None) -> Answer:
        return self.request(
            "POST", "/api/v1/classify", body=png_bytes(64, 48), headers={"Content-Type": "image/png"}, source=source
        )

    def node_pids(self, node: int) -> list[int]:
        """The node's gunicorn master and its worker(s)."""
        master = int((self.directory / f"node{node}.pid").read_text())
        return [master, *children_of(master)]


def children_of(parent: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == parent:
            children.append(int(stat.parent.name))
    return children


def shared_database_url() -> str:
    settings = connection.settings_dict  # pytest-django's test database, already created
    return (
        f"postgres://{settings['USER']}:{settings['PASSWORD']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"
    )


def start_cluster(directory: Path, port: int) -> Cluster:
    env = {
        **os.environ,
        "DATABASE_URL": shared_database_url(),
        "DJANGO_CACHE_URL": REDIS_URL,
        "IMGREC_MODELS": "efficientnet_lite0",
        "IMGREC_WEIGHTS": "random",
        "IMGREC_PRELOAD": "true",
        "IMGREC_RATE_LIMIT": f"{RATE_LIMIT}/minute",
        "IMGREC_CLIENT_IP_HEADER": "HTTP_X_FORWARDED_FOR",
        "LISTEN": f"127.0.0.1:{port}",
        "NODES": "2",
        "NGINX_BIN": nginx_binary(),
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [
        str(ROOT / "deploy" / "cluster.sh"), str(directory), sys.executable,
        str(gunicorn), "imgrec_site.wsgi:application", "--workers", "1", "--worker-class", "gthread",
        "--threads", "8", "--timeout", "120", "--keep-alive", "75",
    ]  # fmt: skip
    log = (directory.parent / f"{directory.name}.log").open("wb")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    cluster = Cluster(directory, port, process)
    deadline = time.monotonic() + START_WITHIN_S
    for node in (1, 2):
        while True:
            try:
                if cluster.node_request(node, "GET", "/readyz").status == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                stop_cluster(cluster)
                raise RuntimeError(f"the cluster did not start; see {log.name}")
            time.sleep(0.5)
    return cluster


def stop_cluster(cluster: Cluster) -> None:
    """SIGTERM, as Ctrl+C: cluster.sh stops the front and every node, which remove their pid files."""
    if cluster.process.poll() is None:
        cluster.process.send_signal(signal.SIGTERM)
        try:
            cluster.process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(cluster.process.pid, signal.SIGKILL)
            cluster.process.wait()
            raise
    left = [path.name for path in cluster.directory.glob("*.pid") if alive(int(path.read_text()))]
    assert not left, f"still running after cluster.sh stopped: {left}"


def alive(pid: int) -> bool:
    """Still holding its sockets. A killed multi-threaded process shows as a zombie as soon as its main
    thread has exited, but its files (the node's sockets) are closed only when its last thread has."""
    try:
        zombie = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
        return not zombie or len(os.listdir(f"/proc/{pid}/task")) > 1
    except OSError:
        return False


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory,
    django_db_setup: None,
    django_db_blocker,  # noqa: ANN001 - pytest-django's
) -> Iterator[Cluster]:
    with django_db_blocker.unblock():
        started = start_cluster(tmp_path_factory.mktemp("cluster"), 18610)
    yield started
    stop_cluster(started)


@pytest.fixture(autouse=True)
def fresh_redis() -> Iterator[None]:
    """Rate-limit counters and cached sessions of one test never reach another."""
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield
    client.flushdb()
    client.close()


def test_every_response_names_its_node_and_the_front_uses_both(cluster: Cluster, transactional_db: None) -> None:
    answers = [cluster.request("GET", path) for path in ("/", "/healthz", "/no-such-page/", "/about/") * 2]
    answers.append(cluster.classify())
    assert [answer.status for answer in answers] == [200, 200, 404, 200] * 2 + [200]
    assert {answer.node for answer in answers} == {"node1", "node2"}


def test_an_entry_made_through_one_node_is_in_the_same_sessions_history_through_the_other(
    cluster: Cluster, transactional_db: None
) -> None:
    source = fresh_source()
    form = cluster.request("GET", "/", source=source)
    cookies = SimpleCookie(form.headers["Set-Cookie"])
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.body.decode())
    assert token is not None
    body, content_type = multipart({"csrfmiddlewaretoken": token[1], "model": "efficientnet_lite0"}, png_bytes())
    cookie_header = "; ".join(f"{name}={morsel.value}" for name, morsel in cookies.items())
    posted = cluster.request(
        "POST", "/", body=body, headers={"Content-Type": content_type, "Cookie": cookie_header}, source=source
    )
    assert posted.status == 303, posted.body[:300]  # POST/redirect/GET to the permalink
    entry_path = posted.headers["Location"]
    cookies.load(posted.headers["Set-Cookie"])  # the session starts with the first stored entry
    assert "sessionid" in cookies
    cookie_header = "; ".join(f"{name}={morsel.value}" for name, morsel in cookies.items())

    # The front takes turns, so within a few requests the other node answers.
    for _ in range(6):
        history = cluster.request("GET", "/history/", headers={"Cookie": cookie_header}, source=source)
        if history.node != posted.node:
            break
    assert history.status == 200 and history.node not in (None, posted.node)
    entry_id = entry_path.strip("/").split("/")[-1]
    assert f'id="entry-{entry_id}"' in history.body.decode()
    for _ in range(6):  # the thumbnail is in the database, so the other node has it too
        thumbnail = cluster.request("GET", f"{entry_path}thumbnail.jpg", source=source)
        if thumbnail.node != posted.node:
            break
    assert thumbnail.status == 200 and thumbnail.node != posted.node
    assert thumbnail.headers["Content-Type"] == "image/jpeg" and thumbnail.body.startswith(b"\xff\xd8")
    # Another session (no cookie) sees none of it, on either node.
    for _ in range(2):
        assert 'id="history-empty"' in cluster.request("GET", "/history/", source=source).body.decode()


def test_the_rate_limit_is_one_budget_across_both_nodes(cluster: Cluster, transactional_db: None) -> None:
    seconds_into_minute = time.time() % 60
    if seconds_into_minute > 45:  # fixed one-minute windows: keep every request in the same one
        time.sleep(61 - seconds_into_minute)
    source = fresh_source()
    answers = [cluster.classify(source=source) for _ in range(RATE_LIMIT + 3)]
    statuses = [answer.status for answer in answers]
    assert statuses == [200] * RATE_LIMIT + [429] * 3  # two nodes with a budget each would allow all
    assert {answer.node for answer in answers[:RATE_LIMIT]} == {"node1", "node2"}
    assert {answer.node for answer in answers[RATE_LIMIT:]} == {"node1", "node2"}


@pytest.fixture
def doomed_cluster(
    tmp_path: Path,
    django_db_setup: None,
    django_db_blocker,  # noqa: ANN001 - pytest-django's
) -> Iterator[Cluster]:
    """A cluster of its own, for a test that kills one of its nodes."""
    with django_db_blocker.unblock():
        started = start_cluster(tmp_path / "doomed", 18611)
    yield started
    stop_cluster(started)


def test_with_one_node_killed_the_front_sends_everything_to_the_other(
    doomed_cluster: Cluster, transactional_db: None
) -> None:
    cluster = doomed_cluster
    assert {cluster.request("GET", "/healthz").node for _ in range(4)} == {"node1", "node2"}
    killed = threading.Event()
    after_kill: list[Answer] = []
    during: list[Answer] = []
    lock = threading.Lock()
    clients = 4

    def client() -> None:
        done_after_kill = 0
        while done_after_kill < 5:
            started_after_kill = killed.is_set()
            answer = cluster.classify()
            with lock:
                (after_kill if started_after_kill else during).append(answer)
            done_after_kill += started_after_kill

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    while True:  # until node2 has answered some uploads: it is busy when it dies
        with lock:
            if sum(answer.node == "node2" for answer in during) >= 3:
                break
        time.sleep(0.01)
    doomed = cluster.node_pids(2)
    for pid in doomed:
        os.kill(pid, signal.SIGKILL)
    while any(alive(pid) for pid in doomed):  # SIGKILL is delivered asynchronously
        time.sleep(0.01)
    killed.set()
    for thread in threads:
        thread.join(timeout=ANSWER_WITHIN_S * 10)

    failed = [answer for answer in during if answer.status != 200]
    assert all(answer.status == 502 and answer.node is None for answer in failed)  # the front's, not a node's
    assert len(failed) <= clients  # at most the uploads in flight when node2 died
    assert len(after_kill) == clients * 5
    assert all(answer.status == 200 and answer.node == "node1" for answer in after_kill)
    pages = [cluster.request("GET", path) for path in ("/", "/healthz", "/about/") * 3]
    assert all(answer.status == 200 and answer.node == "node1" for answer in pages)
