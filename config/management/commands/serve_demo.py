"""`manage.py serve_demo`: the web server, a Celery worker and beat together (what `make run` runs).

Ctrl-C (or SIGTERM) stops all three within seconds and leaves no process behind: each runs in its own
process group, the worker gets a warm shutdown, then a cold one (its unacknowledged messages go back
to the queue, and the outbox reruns what a stopped worker held), then SIGKILL.
"""

import contextlib
import os
import signal
import subprocess  # nosec B404
import sys
import time

from django.core.management.base import BaseCommand

from config.queues import QUEUES

GRACE_SECONDS = 4.0
COLD_SECONDS = 3.0


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def _wait(processes: list[subprocess.Popen], seconds: float) -> list[subprocess.Popen]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if all(p.poll() is not None for p in processes):
            return []
        time.sleep(0.1)
    return [p for p in processes if p.poll() is None]


def _group_is_gone(process: subprocess.Popen) -> bool:
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return True
    return False


def worker_arguments(*options: str) -> list[str]:
    """`-m celery … worker` taking the queues most urgent first (config/queues.py), plus `options`."""
    return ["-m", "celery", "-A", "config", "worker", "-Q", ",".join(QUEUES), *options]


class Command(BaseCommand):
    help = "Serve the site with a Celery worker and beat; Ctrl-C stops all three within seconds."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--concurrency", type=int, default=2)

    def handle(self, *args, addrport, concurrency, **options):
        python = sys.executable
        commands = {
            "worker": [python, *worker_arguments(f"--concurrency={concurrency}", "--loglevel=INFO")],
            "beat": [python, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO"],
            "web": [python, "manage.py", "runserver", addrport],
        }
        stop = {"requested": False}

        def request_stop(signum, frame):
            stop["requested"] = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        processes = {name: subprocess.Popen(command, start_new_session=True) for name, command in commands.items()}  # nosec B603
        try:
            while not stop["requested"] and all(p.poll() is None for p in processes.values()):
                time.sleep(0.2)
        finally:
            self._stop(processes)

    def _stop(self, processes: dict[str, subprocess.Popen]) -> None:
        self.stderr.write("Stopping web, worker and beat…")
        worker = processes["worker"]
        # The worker's main process only: it stops its pool itself (warm shutdown: running tasks finish).
        worker.send_signal(signal.SIGTERM)
        for name, process in processes.items():
            if name != "worker":
                _signal_group(process, signal.SIGTERM)
        left = _wait(list(processes.values()), GRACE_SECONDS)
        if worker in left:
            worker.send_signal(signal.SIGQUIT)  # cold: unacked messages go back to the queue
            left = _wait(left, COLD_SECONDS)
        for process in processes.values():
            if not _group_is_gone(process):
                _signal_group(process, signal.SIGKILL)
        _wait(list(processes.values()), 2)
        self.stderr.write("Stopped.")
