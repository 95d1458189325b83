"""`make run`'s server: Ctrl-C stops web, worker and beat within 10 seconds and leaves nothing behind."""

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from config.celery import app
from config.models import Heartbeat
from tests import clock, worker

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _processes_marked(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1)  # noqa: S310 (loopback)
    except urllib.error.HTTPError:
        return True  # 503 until the first heartbeat: the server is up
    except OSError:
        return False
    return True


def test_ctrl_c_stops_web_worker_and_beat_within_10_seconds(tmp_path):
    app.loader.import_default_modules()
    port = _free_port()
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": worker.database_url(),
        "RELAY_VAR_DIR": str(tmp_path),  # also marks every process it starts
    }
    server = subprocess.Popen(
        clock.command("manage.py", "serve_demo", f"127.0.0.1:{port}", "--concurrency=1"),
        cwd=worker.ROOT,
        env=clock.environment(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        worker.wait_for(lambda: _answers(f"http://127.0.0.1:{port}/healthz"), timeout=60, what="the web server")
        with worker.publishing_to(tmp_path):
            app.tasks["config.tasks.heartbeat"].apply_async(("serve-demo",))
        worker.wait_for(lambda: Heartbeat.objects.filter(name="serve-demo").exists(), timeout=60, what="the worker")
        assert len(_processes_marked(str(tmp_path))) >= 4  # command, web (+ reloader), worker (+ pool), beat

        started = time.monotonic()
        server.send_signal(signal.SIGINT)
        server.wait(timeout=15)
        took = time.monotonic() - started
    finally:
        for pid in _processes_marked(str(tmp_path)):  # whatever a failed run left behind
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert took < 10, f"stopping took {took:.1f} s"
    time.sleep(0.5)
    assert _processes_marked(str(tmp_path)) == []
