"""Run the same work in threads that start together, each on its own database connection (PostgreSQL race tests)."""

import threading

from django.db import connection


def race(target, n: int = 2) -> tuple[list, list]:
    """`target()` in `n` threads released at once by a barrier: (their results, the exceptions they raised)."""
    barrier = threading.Barrier(n)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append(target())
        except Exception as error:  # collected for the test to assert on
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors
