"""A real Celery worker process on the test database, for tests marked `worker`.

On PostgreSQL with `CELERY_BROKER_URL` set it uses that broker (Redis or RabbitMQ, as CI does); otherwise the
embedded filesystem broker in a folder of the test's own. The SQLite test database is a file
(config/settings.py), so the worker shares it.
"""

import os
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

from config.celery import app
from config.management.commands.serve_demo import worker_arguments
from tests import clock

ROOT = Path(__file__).resolve().parents[1]


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def external_broker() -> str:
    broker = os.environ.get("CELERY_BROKER_URL", "")
    return broker if broker.startswith(("redis://", "amqp://")) else ""


def _embedded_broker_options(var_dir: Path) -> dict:
    # The folders config/settings.py derives from RELAY_BROKER_DIR, which the worker is given.
    return {
        "data_folder_in": str(var_dir / "broker"),
        "data_folder_out": str(var_dir / "broker"),
        "processed_folder": str(var_dir / "broker-processed"),
        "control_folder": str(var_dir / "broker-control"),
        "store_processed": False,
    }


def _reset_broker_connections() -> None:
    # kombu keeps its pools per connection (transport options included): forgetting ours picks the right one.
    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def publishing_to(var_dir: Path):
    """This process sends real messages (not eager), to the broker a worker started by `start` consumes."""
    saved = (app.conf.task_always_eager, app.conf.broker_transport_options)
    app.conf.task_always_eager = False
    if not external_broker():
        app.conf.broker_transport_options = _embedded_broker_options(var_dir)
        for folder in app.conf.broker_transport_options.values():
            if isinstance(folder, str):
                Path(folder).mkdir(parents=True, exist_ok=True)
    _reset_broker_connections()
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.broker_transport_options = saved
        _reset_broker_connections()


def start(var_dir: Path, *, pool: str = "solo", concurrency: int = 1) -> subprocess.Popen:
    """Start a worker; it writes to a log file (an unread pipe would fill up and stall it), which stop() returns."""
    env = {**os.environ, "DATABASE_URL": database_url(), "RELAY_BROKER_DIR": str(var_dir)}
    if external_broker():
        env["CELERY_BROKER_URL"] = external_broker()
    else:
        env.pop("CELERY_BROKER_URL", None)
    var_dir.mkdir(parents=True, exist_ok=True)
    log_path = var_dir / f"worker-{time.monotonic_ns()}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            clock.command(
                *worker_arguments(
                    f"--pool={pool}",
                    f"--concurrency={concurrency}",
                    "--loglevel=WARNING",
                    "--without-heartbeat",
                    "--without-gossip",
                    "--without-mingle",
                )
            ),
            cwd=ROOT,
            env=clock.environment(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    process.log_path = log_path
    return process


def stop(worker: subprocess.Popen, *, sig: int = signal.SIGTERM) -> str:
    """Stop the worker (and its pool children); returns what it printed."""
    if worker.poll() is None:
        os.killpg(worker.pid, sig)
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    return worker.log_path.read_bytes().decode(errors="replace")


@contextmanager
def running(var_dir: Path, **kwargs):
    worker = start(var_dir, **kwargs)
    try:
        yield worker
    finally:
        stop(worker)


def wait_for(condition, *, timeout: float = 60, worker: subprocess.Popen | None = None, what="") -> float:
    """Poll `condition()` until true; returns the seconds it took. Fails with the worker's output on timeout."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.1)
    output = stop(worker) if worker is not None else ""
    what = what() if callable(what) else what
    raise AssertionError(f"timed out waiting for {what or condition}: {output[-8000:]}")
