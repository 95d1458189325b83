"""The embedded broker keeps send order across any uptime and serves urgent work first."""

from datetime import UTC, datetime

import pytest
import time_machine
from kombu import Connection, Consumer, Exchange, Queue

from config import broker


@pytest.fixture
def connection(tmp_path):
    folder = tmp_path / "broker"
    folder.mkdir()
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder), "control_folder": str(tmp_path)}
    with Connection("filesystem://", transport="config.broker:Transport", transport_options=options) as conn:
        conn.exchange = Exchange(f"relay-test-{tmp_path.name}", type="direct")  # kombu keeps bindings per process
        yield conn


def _publish(conn, queue: str, body: str) -> None:
    exchange = conn.exchange
    producer = conn.Producer()
    producer.publish(body, exchange=exchange, routing_key=queue, declare=[Queue(queue, exchange, routing_key=queue)])


def _consume_all(conn, queues: list[str], count: int) -> list[str]:
    exchange = conn.exchange
    received = []

    def collect(body, message):
        received.append(body)
        message.ack()

    with Consumer(conn, [Queue(q, exchange, routing_key=q) for q in queues], callbacks=[collect], prefetch_count=1):
        while len(received) < count:
            try:
                conn.drain_events(timeout=2)
            except TimeoutError:
                break
    return received


def test_names_keep_send_order_past_a_million_milliseconds():
    # kombu names by milliseconds since boot: '999999_…' sorts after '1000000_…'. Ours are padded wall-clock ns.
    names = []
    for moment in ("1970-01-01T00:16:39.999+00:00", "1970-01-01T00:16:40.000+00:00", "2027-01-01T00:00:00+00:00"):
        with time_machine.travel(datetime.fromisoformat(moment), tick=False):
            names.append(broker.message_filename("interactive"))
    assert sorted(names) == names


def test_names_keep_send_order_when_the_clock_steps_back():
    with time_machine.travel(datetime(2027, 1, 1, tzinfo=UTC), tick=False):
        first = broker.message_filename("maintenance")
    with time_machine.travel(datetime(2026, 12, 31, tzinfo=UTC), tick=False):
        second = broker.message_filename("maintenance")
    assert first < second


def test_messages_come_out_in_the_order_they_went_in(connection):
    for i in range(25):
        _publish(connection, "maintenance", f"m{i}")
    assert _consume_all(connection, ["maintenance"], 25) == [f"m{i}" for i in range(25)]


def test_interactive_work_is_served_before_a_maintenance_backlog(connection):
    for i in range(50):
        _publish(connection, "maintenance", f"m{i}")
    _publish(connection, "interactive", "import")
    # The worker lists maintenance first here on purpose: the channel still takes interactive first.
    received = _consume_all(connection, ["maintenance", "interactive"], 3)
    assert received == ["import", "m0", "m1"]
