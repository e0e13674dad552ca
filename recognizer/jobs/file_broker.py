"""kombu's filesystem transport (the embedded broker of `make run`), with messages that appear whole.

kombu writes a message straight into the queue folder under its final name, and a consumer takes any
file with that name, unlocked: one that polls while a message is being written reads it empty or cut
short, fails to parse it (`JSONDecodeError`), and the message is gone, having been moved out of the
folder first (celery/kombu#1551, open). A chunk of a job was lost so: a task retried by one worker
thread, published while the consumer thread polled (tests/jobs/test_embedded_broker.py, 4 of 6 images
done, then nothing). Here a message is written under a name no consumer takes, then renamed to its
final name, which on one filesystem is atomic: a consumer sees the whole message or none of it.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

PARTIAL_SUFFIX = ".partial"  # `Channel._get` takes only "<name>.<queue>.msg"


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        """Put `payload` onto `queue`: written aside, then renamed into the queue."""
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + PARTIAL_SUFFIX
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as error:
            with contextlib.suppress(OSError):
                os.remove(partial)
            raise ChannelError(f"Cannot add file {final!r} to directory") from error


class Transport(filesystem.Transport):
    Channel = Channel
