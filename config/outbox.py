"""The transactional outbox: the one way a write asks for background work.

`enqueue()` stores the work in the writer's transaction; after commit it is handed to the broker.
Nothing a request does waits on, or fails because of, the broker: a message the broker refuses
stays pending and `sweep()` (beat, and every worker as it starts) hands it over later. A worker
runs a message through `run()`, which claims it under a row lock, so a message delivered twice
runs once, and a message whose worker died is run again.
"""

import logging
import os
import socket
import threading
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import partial

from celery import current_app
from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Count, Min
from django.utils import timezone

from config.models import Heartbeat, JobStatus, OutboxMessage
from config.queues import INTERACTIVE, QUEUES

log = logging.getLogger(__name__)

#: Options of a task that may run twice harmlessly and retries on a database hiccup.
RETRYING = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
}
MAX_ATTEMPTS = 8
DISPATCH_BATCH = 500
KEEP_DONE = timedelta(days=7)
BROKER_RETRY_SECONDS = 10.0

_broker_refused_until = 0.0  # time.monotonic() before which requests leave dispatching to the sweep


def _task_name(task) -> str:
    return task if isinstance(task, str) else task.name


_registry = None
_registry_lock = threading.Lock()


def _tasks():
    """The task registry with every app's tasks module imported (a web process imports them lazily).

    Under a lock: Celery's autodiscovery returns at once to a second thread while the first is still importing
    (its `_RACE_PROTECTION`), so the first concurrent writes of a fresh web worker saw tasks missing."""
    global _registry
    if _registry is None:
        with _registry_lock:
            if _registry is None:
                current_app.loader.import_default_modules()
                _registry = current_app.tasks
    return _registry


def queue_of(task_name: str) -> str:
    return getattr(_tasks()[task_name], "queue", None) or settings.CELERY_TASK_DEFAULT_QUEUE


def enqueue(task, *args, delay: timedelta | None = None, coalesce_key: str = "", now: datetime | None = None) -> None:
    """Run `task(*args)` in the background once the current transaction commits.

    With a `coalesce_key`, a message already pending under that key absorbs this one (it has not
    started yet, so it will see what this write changed).
    """
    now = now or timezone.now()
    name = _task_name(task)
    message = OutboxMessage(
        task=name,
        args=list(args),
        queue=queue_of(name),
        coalesce_key=coalesce_key,
        created_at=now,
        run_after=now + (delay or timedelta(0)),
    )
    if coalesce_key:
        # ignore_conflicts: the partial unique index keeps one pending message per key.
        OutboxMessage.objects.bulk_create([message], ignore_conflicts=True)
    else:
        message.save()
    transaction.on_commit(partial(dispatch_quietly, coalesce_key=coalesce_key, message_id=message.pk))


def enqueue_many(task, arg_lists: Iterable[Iterable], now: datetime | None = None) -> None:
    """One message per argument list (one webhook delivery each, say), in one INSERT."""
    now = now or timezone.now()
    name = _task_name(task)
    queue = queue_of(name)
    rows = [OutboxMessage(task=name, args=list(args), queue=queue, created_at=now, run_after=now) for args in arg_lists]
    if rows:
        OutboxMessage.objects.bulk_create(rows)
        transaction.on_commit(partial(dispatch_quietly))


def dispatch_quietly(*, coalesce_key: str = "", message_id: int | None = None) -> None:
    """After commit: hand what is pending to the broker; a broker failure is logged, never raised.

    After a refusal, requests stop trying for BROKER_RETRY_SECONDS (the sweep hands the messages over), so a
    broker that hangs costs one request its connect timeout, not every request.
    """
    if time.monotonic() < _broker_refused_until:
        return
    pending = OutboxMessage.objects.filter(status=JobStatus.QUEUED, dispatched_at__isnull=True)
    if message_id is not None:
        pending = pending.filter(pk=message_id)
    elif coalesce_key:
        pending = pending.filter(coalesce_key=coalesce_key)
    dispatch(pending)


def dispatch(pending=None, *, now: datetime | None = None) -> int:
    """Publish pending messages not yet handed over; returns how many the broker took."""
    now = now or timezone.now()
    if pending is None:
        pending = OutboxMessage.objects.filter(status=JobStatus.QUEUED, dispatched_at__isnull=True)
    rows = list(pending.order_by("pk").values_list("pk", "queue", "run_after")[:DISPATCH_BATCH])
    sent = []
    runner = _tasks()["config.tasks.run_outbox_message"]
    for pk, queue, run_after in rows:
        try:
            # apply_async, not send_task: it honours task_always_eager (tests, CELERY_TASK_ALWAYS_EAGER).
            runner.apply_async(
                args=(pk,),
                queue=queue,
                eta=run_after if run_after > now else None,
                retry=False,
            )
        except Exception:  # noqa: BLE001 — a missing, down or misconfigured broker must not fail the write
            log.warning("broker refused outbox message %s; the sweep will hand it over later", pk, exc_info=True)
            global _broker_refused_until
            _broker_refused_until = time.monotonic() + BROKER_RETRY_SECONDS
            break
        sent.append(pk)
    if sent:
        OutboxMessage.objects.filter(pk__in=sent, dispatched_at__isnull=True).update(dispatched_at=now)
    return len(sent)


# --- the worker side --------------------------------------------------------------------------------


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def holder_is_alive(holder: str, last_sign_of_life: datetime | None, now: datetime) -> bool:
    """Is the process `holder` ("host:pid", from worker_id()) still at work?

    On this host the OS knows, so a worker killed mid-task is noticed at once; for another host, a sign of
    life within RELAY_JOB_STALL_MINUTES counts.
    """
    host, _, pid = holder.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
    lease = timedelta(minutes=settings.RELAY_JOB_STALL_MINUTES)
    return last_sign_of_life is not None and last_sign_of_life > now - lease


def _claim(message_id: int, now: datetime) -> OutboxMessage | None:
    with transaction.atomic():
        message = OutboxMessage.objects.select_for_update().filter(pk=message_id).first()
        if message is None or message.status in (JobStatus.DONE, JobStatus.FAILED):
            return None
        if message.status == JobStatus.RUNNING and holder_is_alive(message.started_by, message.started_at, now):
            return None
        message.status = JobStatus.RUNNING
        message.started_at = now
        message.started_by = worker_id()
        message.attempts += 1
        message.save(update_fields=["status", "started_at", "started_by", "attempts"])
    return message


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** (attempts - 1), 6 * 3600))


def run(message_id: int) -> bool:
    """Run one message unless it is done or running elsewhere; True when it ran to completion."""
    message = _claim(message_id, timezone.now())
    if message is None:
        return False
    try:
        _tasks()[message.task](*message.args)
    except Exception as exc:  # noqa: BLE001 — recorded on the row and retried with backoff
        log.exception("outbox message %s (%s) failed", message.pk, message.task)
        _failed(message, exc)
        return False
    OutboxMessage.objects.filter(pk=message.pk).update(status=JobStatus.DONE, finished_at=timezone.now(), error="")
    return True


def _failed(message: OutboxMessage, exc: Exception) -> None:
    now = timezone.now()
    error = f"{type(exc).__name__}: {exc}"[:2000]
    if message.attempts >= MAX_ATTEMPTS:
        OutboxMessage.objects.filter(pk=message.pk).update(status=JobStatus.FAILED, finished_at=now, error=error)
        return
    retry = {"status": JobStatus.QUEUED, "dispatched_at": None, "run_after": now + backoff(message.attempts)}
    try:
        with transaction.atomic():
            OutboxMessage.objects.filter(pk=message.pk).update(error=error, **retry)
    except IntegrityError:
        # A newer message with the same coalesce key is pending and will do this work.
        OutboxMessage.objects.filter(pk=message.pk).update(status=JobStatus.FAILED, finished_at=now, error=error)


def sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Hand over what the broker missed, run again what a dead worker held, forget old finished rows."""
    now = now or timezone.now()
    revived = 0
    for message in OutboxMessage.objects.filter(status=JobStatus.RUNNING).only("pk", "started_at", "started_by"):
        if not holder_is_alive(message.started_by, message.started_at, now):
            revived += OutboxMessage.objects.filter(pk=message.pk, status=JobStatus.RUNNING).update(
                status=JobStatus.QUEUED, dispatched_at=None
            )
    # A message handed over long ago and never started was lost by the broker (or sits behind a very long queue:
    # the claim makes a second copy harmless).
    lost = now - timedelta(minutes=settings.RELAY_JOB_STALL_MINUTES)
    OutboxMessage.objects.filter(status=JobStatus.QUEUED, dispatched_at__lt=lost).update(dispatched_at=None)
    dispatched = dispatch(now=now)
    pruned, _ = OutboxMessage.objects.filter(
        status__in=[JobStatus.DONE, JobStatus.FAILED], finished_at__lt=now - KEEP_DONE
    ).delete()
    return {"dispatched": dispatched, "revived": revived, "pruned": pruned}


# --- health -----------------------------------------------------------------------------------------


def queue_stats(*, now: datetime | None = None) -> dict[str, dict]:
    """Per queue: messages due and not started, and how long the oldest of them has waited (seconds)."""
    now = now or timezone.now()
    rows = (
        OutboxMessage.objects.filter(status=JobStatus.QUEUED, run_after__lte=now)
        .values("queue")
        .annotate(depth=Count("pk"), oldest=Min("run_after"))
    )
    stats = {queue: {"depth": 0, "oldest_wait_seconds": None} for queue in QUEUES}
    for row in rows:
        stats[row["queue"]] = {
            "depth": row["depth"],
            "oldest_wait_seconds": round((now - row["oldest"]).total_seconds(), 1),
        }
    return stats


def health(*, now: datetime | None = None) -> dict:
    """What /healthz and the status page show; `ok` is False when background work is not keeping up."""
    now = now or timezone.now()
    beat = Heartbeat.objects.filter(name="worker").values_list("last_beat_at", flat=True).first()
    queues = queue_stats(now=now)
    problems = []
    if beat is None or beat < now - timedelta(seconds=2 * settings.RELAY_HEARTBEAT_SECONDS):
        problems.append("heartbeat")
    if (queues[INTERACTIVE]["oldest_wait_seconds"] or 0) > settings.RELAY_HEALTH_MAX_INTERACTIVE_WAIT_SECONDS:
        problems.append("interactive_queue")
    return {
        "ok": not problems,
        "problems": problems,
        "last_beat_at": beat.isoformat() if beat else None,
        "heartbeat_age_seconds": round((now - beat).total_seconds(), 1) if beat else None,
        "queues": queues,
        "failed_last_day": OutboxMessage.objects.filter(
            status=JobStatus.FAILED, finished_at__gte=now - timedelta(days=1)
        ).count(),
    }
