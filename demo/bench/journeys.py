"""The journey benchmark (`manage.py marketing_bench`): N sign-up events through a one-step journey that sends an
email, from the event to the message, on whatever database and broker the settings name.

Each event goes through marketing.services.record_event, as the API's `events/` does, one transaction each: the
event, its activation window, the `customer.event` announcement, the enrolment and the engine's outbox message all
commit together. Then the engine (marketing.journeys.advance_enrolment) claims the step, sends through
marketing.sending.send_message and queues the email; the email task hands it to the backend (the dummy backend:
the bench measures Relay, not an SMTP server).

Two ways to run the engine:

* `inline`: the tasks run in this process right after each commit (Celery's eager mode), one event after another,
  as a single-process SQLite install without a worker does;
* `worker`: real Celery workers (started here, `--workers` processes of `--concurrency` each) take the tasks from
  the broker (CELERY_BROKER_URL, e.g. Redis) while `--producers` threads record the events.

The figures: events recorded per second, the time from the first event to the last message written and to the
last email handed over (everything drained), and the event-to-message latency (median, p95, max). The run's rows
are deleted afterwards unless `--keep`.
"""

import os
import statistics
import subprocess  # nosec B404 - the bench starts Celery workers as child processes
import sys
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from config.management.commands.serve_demo import worker_arguments
from config.models import JobStatus, OutboxMessage
from customers.models import Customer, CustomerIdentity, IdentityKind
from marketing import journeys, services
from marketing.models import (
    ContentItem,
    ContentStage,
    ContentVariant,
    CustomerEvent,
    Enrolment,
    EnrolmentStatus,
    Journey,
    JourneyStatus,
    Message,
    StepRun,
)

ENGINE_TASKS = ("marketing.tasks.advance_enrolment", "marketing.tasks.deliver_email")
DUMMY_EMAIL = "django.core.mail.backends.dummy.EmailBackend"
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    tag: str
    journey: Journey
    item: ContentItem
    customer_ids: list[int]


def prepare(events: int, *, by) -> Run:
    """A content item with a variant, an active journey (sign-up → send it by email) and `events` customers with
    an email address each (bulk-inserted: the setup is not what is measured)."""
    tag = f"bench-{timezone.now():%Y%m%d%H%M%S}"
    item = ContentItem.objects.create(title=f"{tag} welcome", stage=ContentStage.AWARENESS)
    ContentVariant.objects.create(item=item, key="A", title="Welcome", body="Hello from the journey bench.")
    journey = journeys.create_journey(
        by=by,
        name=tag,
        trigger={"type": "signed_up"},
        steps=[{"kind": "send", "content": item.pk, "channel": "email"}],
    )
    journeys.activate_journey(journey=journey, by=by)
    Customer.objects.bulk_create([Customer(name=f"{tag} {i}") for i in range(events)], batch_size=2000)
    ids = list(Customer.objects.filter(name__startswith=f"{tag} ").order_by("pk").values_list("pk", flat=True))
    CustomerIdentity.objects.bulk_create(
        [CustomerIdentity(customer_id=pk, kind=IdentityKind.EMAIL, value=f"{tag}-{pk}@example.com") for pk in ids],
        batch_size=2000,
    )
    return Run(tag=tag, journey=journey, item=item, customer_ids=ids)


def other_sign_up_journeys(run: Run) -> int:
    """Active journeys besides the bench's that sign-ups start too (they add their own work to the figures)."""
    return (
        Journey.objects.filter(status=JourneyStatus.ACTIVE, trigger__type="signed_up")
        .exclude(pk=run.journey.pk)
        .count()
    )


def record(run: Run, customer_ids: list[int], *, by) -> None:
    for pk in customer_ids:
        services.record_event(
            by=by,
            type="signed_up",
            at=timezone.now(),
            source=run.tag,
            external_id=str(pk),
            customer=Customer(pk=pk),
        )


def record_in_threads(run: Run, producers: int, *, by) -> None:
    slices = [run.customer_ids[i::producers] for i in range(producers)]

    def produce(ids):
        try:
            record(run, ids, by=by)
        finally:
            connection.close()

    threads = [threading.Thread(target=produce, args=(ids,)) for ids in slices]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def start_workers(count: int, concurrency: int) -> list[subprocess.Popen]:
    env = {
        **os.environ,
        "RELAY_QUIET_HOURS": "",
        "EMAIL_BACKEND": DUMMY_EMAIL,
        "LOG_LEVEL": "WARNING",
    }
    arguments = worker_arguments(
        f"--concurrency={concurrency}", "--loglevel=WARNING", "--without-gossip", "--without-mingle"
    )
    return [
        subprocess.Popen(  # nosec B603 - this interpreter running Celery with fixed arguments
            [sys.executable, *arguments, "-n", f"bench{index}@%h"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for index in range(count)
    ]


def wait_for_workers(count: int, timeout: float = 60) -> None:
    """Until `count` workers answer a ping through the broker (they are connected and consuming)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(current_app.control.ping(timeout=1.0) or []) >= count:
            return
    raise TimeoutError("the Celery workers did not come up: is the broker reachable?")


def stop_workers(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()


def _progress(run: Run, since) -> tuple[int, int]:
    messages = Message.objects.filter(journey=run.journey).count()
    pending = (
        OutboxMessage.objects.filter(task__in=ENGINE_TASKS, created_at__gte=since)
        .exclude(status__in=[JobStatus.DONE, JobStatus.FAILED])
        .count()
    )
    return messages, pending


def wait_until_done(run: Run, since, *, timeout: float, started: float) -> tuple[float, float]:
    """Poll until every enrolment has its message and no engine task is left; (seconds to the last message,
    seconds to drained), from `started`."""
    last_message = None
    while time.perf_counter() - started < timeout:
        messages, pending = _progress(run, since)
        if last_message is None and messages >= len(run.customer_ids):
            last_message = time.perf_counter() - started
        if last_message is not None and pending == 0:
            return last_message, time.perf_counter() - started
        time.sleep(0.2)
    raise TimeoutError(f"not done after {timeout:.0f} s: {_progress(run, since)} (messages, pending tasks)")


def latencies_ms(run: Run) -> dict:
    """From each sign-up's recording to its message's creation: median, p95 and max in ms."""
    created = dict(CustomerEvent.objects.filter(source=run.tag).values_list("customer_id", "created_at"))
    gaps = sorted(
        (message_at - created[customer]).total_seconds() * 1000
        for customer, message_at in Message.objects.filter(journey=run.journey).values_list("customer_id", "created_at")
        if customer in created
    )
    if not gaps:
        return {}
    return {
        "median_ms": round(statistics.median(gaps), 1),
        "p95_ms": round(gaps[min(len(gaps) - 1, int(len(gaps) * 0.95))], 1),
        "max_ms": round(gaps[-1], 1),
    }


def outcome(run: Run) -> dict:
    return {
        "enrolled": Enrolment.objects.filter(journey=run.journey).count(),
        "completed": Enrolment.objects.filter(journey=run.journey, status=EnrolmentStatus.COMPLETED).count(),
        "messages": Message.objects.filter(journey=run.journey).count(),
        "sent": Message.objects.filter(journey=run.journey, status="sent").count(),
        "steps_run": StepRun.objects.filter(enrolment__journey=run.journey).count(),
    }


@transaction.atomic
def clean_up(run: Run) -> None:
    Message.objects.filter(journey=run.journey).delete()
    run.journey.delete()  # its steps, enrolments and runs
    Customer.objects.filter(pk__in=run.customer_ids).delete()  # their events, windows and identities
    run.item.delete()


def measure(*, events: int, mode: str, workers: int, concurrency: int, producers: int, timeout: float, by, keep: bool):
    """Run the benchmark; returns the figures as a dict."""
    settings.RELAY_QUIET_HOURS = None  # the bench sends at any hour (messages would wait for the morning)
    settings.EMAIL_BACKEND = DUMMY_EMAIL
    run = prepare(events, by=by)
    figures = {
        "events": events,
        "mode": mode,
        "database": connection.vendor,
        "broker": "eager (in process)" if mode == "inline" else settings.CELERY_BROKER_URL.split("@")[-1],
        "other_sign_up_journeys": other_sign_up_journeys(run),
    }
    eager = current_app.conf.task_always_eager
    started_workers: list[subprocess.Popen] = []
    try:
        since = timezone.now() - timedelta(seconds=1)
        if mode == "inline":
            current_app.conf.task_always_eager = True
        else:
            started_workers = start_workers(workers, concurrency)
            figures.update(workers=workers, concurrency=concurrency, producers=producers)
            wait_for_workers(workers)
        started = time.perf_counter()
        if producers > 1:
            record_in_threads(run, producers, by=by)
        else:
            record(run, run.customer_ids, by=by)
        recorded = time.perf_counter() - started
        last_message, drained = wait_until_done(run, since, timeout=timeout, started=started)
        figures.update(
            record_seconds=round(recorded, 2),
            events_recorded_per_second=round(events / recorded, 1),
            seconds_to_last_message=round(last_message, 2),
            seconds_to_drained=round(drained, 2),
            events_processed_per_second=round(events / drained, 1),
            event_to_message=latencies_ms(run),
            **outcome(run),
        )
    finally:
        current_app.conf.task_always_eager = eager
        stop_workers(started_workers)
        if not keep:
            clean_up(run)
    return figures
