"""The embedded broker's transport: a consumer polling the queue folder never takes a message half-written.

The publisher is another process, as `make run`'s web server is for its worker, so nothing but the file
system stands between its writes and the consumer's reads. kombu's own filesystem transport lost 491 of
500 messages of 20 kB so (each read empty or cut short, `JSONDecodeError`, and removed), and failed this
test in 5 runs of 5."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path
from queue import Empty

import pytest
from kombu import Connection
from kombu.exceptions import ChannelError

TRANSPORT = "recognizer.jobs.file_broker:Transport"
MESSAGES = 300
BODY = "x" * 200_000  # long enough that writing one takes a while: a wide window for a half-written read


def _options(folder: Path) -> dict[str, str]:
    return {"data_folder_in": str(folder), "data_folder_out": str(folder)}


def _publish(folder: Path, count: int) -> None:
    with Connection("filesystem://", transport=TRANSPORT, transport_options=_options(folder)) as connection:
        for index in range(count):
            connection.default_channel._put("jobs", {"index": index, "body": BODY})


def test_a_consumer_polling_while_another_process_publishes_gets_every_message_whole(tmp_path: Path) -> None:
    publisher = multiprocessing.get_context("spawn").Process(target=_publish, args=(tmp_path, MESSAGES))
    received: list[int] = []
    with Connection("filesystem://", transport=TRANSPORT, transport_options=_options(tmp_path)) as connection:
        channel = connection.default_channel
        publisher.start()
        deadline = time.monotonic() + 60
        while len(received) < MESSAGES and time.monotonic() < deadline:
            try:
                message = channel._get("jobs")
            except Empty:
                continue
            assert message["body"] == BODY
            received.append(message["index"])
    publisher.join(timeout=30)

    assert publisher.exitcode == 0
    assert sorted(received) == list(range(MESSAGES))
    assert os.listdir(tmp_path) == []  # nothing left half-written beside the queue


def test_a_message_that_cannot_be_written_is_refused_with_its_reason_and_leaves_nothing(tmp_path: Path) -> None:
    queue = tmp_path / "queue"
    queue.mkdir()
    with Connection("filesystem://", transport=TRANSPORT, transport_options=_options(queue)) as connection:
        channel = connection.default_channel
        queue.rmdir()  # the folder is gone (a volume unmounted, a path mistyped): the write fails

        with pytest.raises(ChannelError, match="Cannot add file"):
            channel._put("jobs", {"index": 0})

    assert list(tmp_path.iterdir()) == []
