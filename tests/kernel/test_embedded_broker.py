"""The embedded broker (`make run`): messages sent while a consumer reads are received whole.

kombu's own filesystem transport let a consumer pick up a message file before its writer had
written it; the worker then died on an empty message. The first test would fail with it
(``TRANSPORT = "filesystem"``): it sends while another connection drains.
"""

from __future__ import annotations

import threading

import pytest
from kombu import Connection, Exchange, Queue

from opsconductor import broker

MESSAGES = 3000


def _connection(folder) -> Connection:
    broker.register()
    return Connection(
        f"{broker.ALIAS}://localhost/",
        transport_options={
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
        },
    )


@pytest.fixture
def folder(tmp_path):
    for sub in ("queue", "control"):
        (tmp_path / sub).mkdir()
    return tmp_path


def test_messages_sent_while_a_consumer_reads_arrive_whole_and_once(folder):
    exchange = Exchange("work", type="direct")
    queue = Queue("work", exchange, routing_key="work")
    received: list[dict] = []
    errors: list[BaseException] = []
    sent = threading.Event()

    def consume():
        try:
            with _connection(folder) as conn:
                channel = conn.channel()
                bound = queue(channel)
                bound.declare()
                while len(received) < MESSAGES:
                    message = bound.get(no_ack=True)
                    if message is None:
                        if sent.is_set() and not any((folder / "queue").glob("*.msg")):
                            break
                        continue
                    received.append(message.decode())
        except BaseException as exc:
            errors.append(exc)

    with _connection(folder) as conn:
        queue(conn.channel()).declare()
        reader = threading.Thread(target=consume)
        reader.start()
        producer = conn.Producer(serializer="json")
        for number in range(MESSAGES):
            producer.publish(
                {"n": number, "pad": "x" * 2000}, exchange=exchange, routing_key="work"
            )
        sent.set()
        reader.join(60)
    assert not errors, errors
    assert sorted(item["n"] for item in received) == list(range(MESSAGES))
    assert not list((folder / "queue" / ".incoming").iterdir())  # nothing left half-written
