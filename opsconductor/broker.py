"""The embedded broker of `make run` (no broker server): kombu's filesystem transport, with
each message written whole before it appears in the queue folder.

kombu's own transport creates the message file in the queue folder and then writes it, while a
consumer moves and reads any file it finds there: a message caught between the two reads as
empty, and the worker stops on the JSON error ("Unrecoverable error: JSONDecodeError"), which
ended `make run` within minutes under beat's once-a-second tick. Here a message is written in
``.incoming/`` beside the queue files and renamed into place, which is atomic on one
filesystem: a consumer sees no file or a whole one.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

ALIAS = "ocfilesystem"


class Channel(filesystem.Channel):
    # kombu's filesystem channel's own signature, which its base class's stubs disagree with
    def _put(self, queue: str, payload: dict[str, Any], **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        folder = Path(self.data_folder_out)
        try:
            (folder / ".incoming").mkdir(exist_ok=True)
            partial = folder / ".incoming" / name
            partial.write_bytes(str_to_bytes(dumps(payload)))
            partial.replace(folder / name)
        except OSError as exc:
            raise ChannelError(f"Cannot add the message {name!r} to the queue folder") from exc


class Transport(filesystem.Transport):
    Channel = Channel


def register() -> None:
    """Make ``ocfilesystem://`` name this transport (before any connection is made)."""
    TRANSPORT_ALIASES.setdefault(ALIAS, f"{__name__}:Transport")
