"""The embedded broker never hands a worker half a message."""

import os

from kombu import Connection
from kombu.transport import resolve_transport

from dcc import broker_filesystem


def _connection(folder):
    return Connection(
        "filesystem://",
        transport_options={
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "control_folder": str(folder / "control"),
            "store_processed": False,
        },
    )


def test_filesystem_urls_use_the_whole_message_transport():
    assert resolve_transport("filesystem") is broker_filesystem.Transport


def test_a_message_is_renamed_into_place_whole(tmp_path):
    with _connection(tmp_path) as connection:
        queue = connection.SimpleQueue("q")
        queue.put({"n": 1})
        assert [name for name in os.listdir(tmp_path) if name.endswith(".part")] == []
        assert queue.get(timeout=1).payload == {"n": 1}
        queue.close()


def test_a_message_still_being_written_is_not_taken(tmp_path):
    # A queue name of its own: kombu keeps declared queues per process.
    with _connection(tmp_path) as connection:
        queue = connection.SimpleQueue("q2")
        # What a reader finds while a writer is mid-file: an empty part file.
        (tmp_path / f"1_x.q2.msg{broker_filesystem.PARTIAL}").write_bytes(b"")
        assert queue.qsize() == 0
        queue.put({"n": 2})
        assert queue.get(timeout=1).payload == {"n": 2}
        queue.close()
