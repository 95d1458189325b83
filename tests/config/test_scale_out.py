"""Scale-out (README "Deploy"): two web instances, two workers and one beat on PostgreSQL and a real broker share
the load; one web instance dies mid-run, the other keeps answering, and no background job runs twice."""

import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from config import tokens
from config.models import JobStatus, OutboxMessage
from leads.models import Lead, LeadStageChange
from tests import worker
from tests.factories import ChannelFactory, make_user

pytestmark = [pytest.mark.postgres, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(tmp_path: Path, **extra) -> dict:
    return {
        **os.environ,
        "DEBUG": "0",
        "RELAY_PLAIN_STATIC": "1",
        "DATABASE_URL": worker.database_url(),
        "CELERY_BROKER_URL": worker.external_broker(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "RELAY_VAR_DIR": str(tmp_path),
        "RELAY_SEGMENTS_DEBOUNCE_SECONDS": "0",
        "RELAY_NOTIFICATION_EMAIL_DELAY_SECONDS": "0",
        **extra,
    }


def _web(tmp_path: Path, port: int) -> subprocess.Popen:
    env = _env(tmp_path, RELAY_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="1", RELAY_WEB_THREADS="4")
    return subprocess.Popen(
        [str(worker.ROOT / ".venv/bin/gunicorn"), "-c", "python:config.gunicorn", "config.wsgi"],
        cwd=worker.ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _beat(tmp_path: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            str(worker.ROOT / ".venv/bin/celery"),
            "-A",
            "config",
            "beat",
            "--loglevel=WARNING",
            "-s",
            str(tmp_path / "beat"),
        ],
        cwd=worker.ROOT,
        env=_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _post(port: int, token: str, n: int) -> int:
    contact = {"name": f"Load {n}", "phone": f"1390000{n:04d}"}
    body = json.dumps({"contact": contact, "source_channel": "web"}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/leads/",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Token {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)  # nosec B310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0  # nothing answered


def _stop(process: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def test_two_webs_two_workers_one_beat_survive_a_dead_web_and_run_each_job_once(tmp_path):
    if not worker.external_broker():
        pytest.skip("needs CELERY_BROKER_URL (Redis or RabbitMQ), as in CI")
    ChannelFactory(code="web")
    _row, token = tokens.issue_token(user=make_user("marketing"))
    ports = [_free_port(), _free_port()]
    webs = [_web(tmp_path, port) for port in ports]
    workers = [worker.start(tmp_path, pool="threads", concurrency=2) for _ in range(2)]
    beat = _beat(tmp_path)
    try:
        for port in ports:
            worker.wait_for(lambda port=port: _post(port, token, 9000 + port % 1000) == 201, timeout=90, what="web")
        results: dict[int, list[int]] = {ports[0]: [], ports[1]: []}

        def load(port: int, start: int) -> None:
            for n in range(start, start + 30):
                results[port].append(_post(port, token, n))
                time.sleep(0.05)

        threads = [threading.Thread(target=load, args=(port, 100 * (i + 1))) for i, port in enumerate(ports)]
        for thread in threads:
            thread.start()
        time.sleep(0.6)
        _stop(webs[0], signal.SIGKILL)  # one web instance dies mid-run
        for thread in threads:
            thread.join()

        assert results[ports[1]] == [201] * 30, results[ports[1]]  # the survivor never failed a request
        assert 0 in results[ports[0]]  # the dead one stopped answering
        unfinished = OutboxMessage.objects.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
        try:
            # What the killed web wrote but never handed to the broker waits for beat's sweep (every 15 s); on a
            # loaded machine draining took up to 70 s, so the wait is generous.
            worker.wait_for(lambda: not unfinished.exists(), timeout=180, what="the queue to drain")
        except AssertionError:
            fields = ("task", "status", "attempts", "run_after", "dispatched_at", "started_by", "error")
            outputs = [worker.stop(running) for running in workers]
            raise AssertionError([list(unfinished.values_list(*fields)), *outputs]) from None
        failed = OutboxMessage.objects.exclude(status=JobStatus.DONE).values_list("task", "status", "error")
        assert not failed, list(failed)
        ran_twice = OutboxMessage.objects.filter(attempts__gt=1).values_list("task", "attempts")
        assert not ran_twice, list(ran_twice)
        leads = Lead.objects.count()
        assert LeadStageChange.objects.filter(from_stage="", to_stage="new").count() == leads
    finally:
        for process in [*webs, beat]:
            _stop(process)
        for running in workers:
            worker.stop(running)
