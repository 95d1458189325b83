"""Run work in threads released together, each on its own database connection (PostgreSQL race tests)."""

import threading
from functools import partial

from django.db import connection


def at_once(*calls) -> list:
    """Each call in its own thread, all released at once by a barrier: what each returned, or the exception it
    raised, in the order of `calls`."""
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            outcomes[index] = call()
        except Exception as error:  # the test asserts on it
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def race(target, n: int = 2) -> tuple[list, list]:
    """`target()` in `n` threads at once: (what they returned, the exceptions they raised)."""
    outcomes = at_once(*[target] * n)
    errors = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    return [outcome for outcome in outcomes if not isinstance(outcome, Exception)], errors


def each_at_once(work, n: int = 2) -> list:
    """work(0), …, work(n - 1) at once (each thread knows its index): their outcomes, as at_once()."""
    return at_once(*(partial(work, index) for index in range(n)))
