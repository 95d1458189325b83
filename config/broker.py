"""The embedded broker of `make run`: kombu's filesystem transport, ordered and prioritised.

kombu names a message file by milliseconds since boot and reads a folder in name order, so once
uptime passes 1,000,000 ms (seven digits) older six-digit names sort after newer ones, and a
restart starts the count again. Here a name starts with the wall-clock time in nanoseconds,
zero-padded and never smaller than the last one this process wrote, so name order is send order
across uptime and restarts.

Its consumer also takes queues in the order the worker lists them (`-Q interactive,maintenance`)
on every fetch instead of kombu's round robin, so urgent work never waits behind a backlog.
"""

import contextlib
import os
import threading
import time
import uuid
from queue import Empty
from time import monotonic, sleep

from celery.worker import state as worker_state
from kombu.transport import filesystem
from kombu.transport.virtual.base import FairCycle
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

from config.queues import QUEUES

_last_stamp = 0
_stamp_lock = threading.Lock()


def message_stamp() -> int:
    """Nanoseconds since the epoch, strictly increasing within this process."""
    global _last_stamp
    with _stamp_lock:
        _last_stamp = max(time.time_ns(), _last_stamp + 1)
        return _last_stamp


def message_filename(queue: str) -> str:
    return f"{message_stamp():020d}_{uuid.uuid4()}.{queue}.msg"


class PriorityCycle(FairCycle):
    """Try the resources in their given order on every get (kombu's FairCycle rotates)."""

    def get(self, callback, **kwargs):
        self.pos = 0
        return super().get(callback, **kwargs)


class Channel(filesystem.Channel):
    def _reset_cycle(self):
        ordered = sorted(self._active_queues, key=lambda q: QUEUES.index(q) if q in QUEUES else len(QUEUES))
        self._active_queues[:] = ordered
        self._cycle = PriorityCycle(self._get_and_deliver, self._active_queues, Empty)

    def _put(self, queue, payload, **kwargs):
        path = os.path.join(self.data_folder_out, message_filename(queue))
        # Written under another name and renamed, so a reader never sees half a message.
        partial_path = path + ".part"
        with open(partial_path, "wb") as f:
            f.write(str_to_bytes(dumps(payload)))
        os.replace(partial_path, path)

    def _get(self, queue):
        suffix = f".{queue}.msg"
        names = sorted(n for n in os.listdir(self.data_folder_in) if n.endswith(suffix))
        for name in names:
            claimed = os.path.join(self.data_folder_in, name + ".taken")
            try:
                # rename is atomic: of two consumers, one gets the file.
                os.rename(os.path.join(self.data_folder_in, name), claimed)
            except FileNotFoundError:
                continue
            with open(claimed, "rb") as f:
                payload = f.read()
            os.remove(claimed)
            return loads(bytes_to_str(payload))
        raise Empty()

    def _size(self, queue):
        suffix = f".{queue}.msg"
        return sum(1 for n in os.listdir(self.data_folder_in) if n.endswith(suffix))

    def _purge(self, queue):
        suffix = f".{queue}.msg"
        count = 0
        for name in os.listdir(self.data_folder_in):
            if name.endswith(suffix):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(os.path.join(self.data_folder_in, name))
                    count += 1
        return count


class Transport(filesystem.Transport):
    Channel = Channel
    polling_interval = 0.2

    def drain_events(self, connection, timeout=None):
        """As kombu's, but a worker asked to stop is answered within a poll, not after Celery's 2 s wait (twice)."""
        time_start = monotonic()
        get = self.cycle.get
        while True:
            try:
                get(self._deliver, timeout=timeout)
            except Empty:
                if worker_state.should_stop is not None or worker_state.should_terminate is not None:
                    raise TimeoutError() from None
                if timeout is not None and monotonic() - time_start >= timeout:
                    raise TimeoutError() from None
                sleep(self.polling_interval)
            else:
                return
