"""CI smoke test in a venv with the runtime dependencies only (no dev extras).

For each broker URL — Redis, RabbitMQ, and an address where nothing listens — a lead created through the
API answers 201 promptly, and its queued work runs once a worker reaches a working broker.

    python .ci/smoke_brokers.py            (run by .ci/run; prints 'N passed, N failed')
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKING_BROKER = "redis://127.0.0.1:6379/13"
BROKERS = {
    "redis": WORKING_BROKER,
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//",
    "nothing listens": "redis://127.0.0.1:1/0",
}

CREATE_LEAD = """
import json, time
import django
django.setup()
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient
from customers.models import Channel
user = User.objects.create_user(f"smoke-{time.time_ns()}", is_staff=True)
user.groups.add(Group.objects.get(name="marketing"))
Channel.objects.get_or_create(code="web", defaults={"name": "Web"})
api = APIClient()
api.force_authenticate(user)
started = time.monotonic()
response = api.post(
    "/api/v1/leads/",
    {"contact": {"name": "Smoke", "phone": f"+86138{time.time_ns() % 10**8:08d}"}, "source_channel": "web"},
    format="json",
)
print(json.dumps({"status": response.status_code, "seconds": time.monotonic() - started}))
"""

OUTBOX_DONE = """
import django
django.setup()
from config.models import OutboxMessage
print(OutboxMessage.objects.exclude(status="done").count())
"""


def _env(db: Path, broker: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"sqlite:///{db}",
        "CELERY_BROKER_URL": broker,
        "SECRET_KEY": "relay-smoke-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "0",
        "RELAY_VAR_DIR": str(db.parent),
        "RELAY_SEGMENTS_DEBOUNCE_SECONDS": "0",
    }


def _python(code: str, env: dict, timeout: float = 60) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return result.stdout.strip().splitlines()[-1]


def _run_worker_until_done(env: dict, timeout: float = 60) -> int:
    """Start a worker, wait until no background message is left undone; returns how many are left."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "interactive,maintenance", "--pool=solo"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline, left = time.monotonic() + timeout, -1
        while time.monotonic() < deadline:
            left = int(_python(OUTBOX_DONE, env))
            if left == 0:
                break
            time.sleep(0.5)
        return left
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def main() -> int:
    passed = failed = 0
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "smoke.sqlite3"
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
            cwd=ROOT,
            env=_env(db, WORKING_BROKER),
            check=True,
        )
        for name, url in BROKERS.items():
            env = _env(db, url)
            try:
                answer = json.loads(_python(CREATE_LEAD, env))
                ok = answer["status"] == 201 and answer["seconds"] < 5
            except Exception as exc:  # noqa: BLE001 — report and go on
                answer, ok = {"error": str(exc)}, False
            print(f"{'PASS' if ok else 'FAIL'} lead created with the broker at {name}: {answer}")
            passed, failed = passed + ok, failed + (not ok)

            # A worker that reaches a broker (this one, or Redis when nothing listens) catches up as it starts.
            reachable = url if name != "nothing listens" else WORKING_BROKER
            left = _run_worker_until_done(_env(db, reachable))
            ok = left == 0
            print(f"{'PASS' if ok else 'FAIL'} its queued work ran once a worker reached a broker ({left} left)")
            passed, failed = passed + ok, failed + (not ok)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
