"""Run the suite, and the processes it starts, under a chosen clock.

`RELAY_TEST_NOW=2026-12-31T23:30:00+08:00 make test` (or `pytest --now=…`) moves the test
process to that instant; the clock keeps ticking from there. Subprocesses the tests start get
the same instant through `command()` and `environment()`, so a worker or a server sees the time
the test sees.

Run as a module, this file starts a Python program under that clock:
`python -m tests.clock -m celery -A config worker` or `python -m tests.clock manage.py check`.
"""

import os
import runpy
import sys
from datetime import datetime

import time_machine

VARIABLE = "RELAY_TEST_NOW"

_traveller: time_machine.travel | None = None


def parse(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"{VARIABLE} needs an offset, e.g. 2026-12-31T23:30:00+08:00 (got {value!r})")
    return moment


def start(value: str | None) -> None:
    """Move this process to `value` (ISO 8601 with offset) and let the clock tick on from there."""
    global _traveller
    if not value:
        return
    _traveller = time_machine.travel(parse(value), tick=True)
    _traveller.start()


def is_travelling() -> bool:
    return _traveller is not None


def environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """`base` (default: os.environ) plus, under a chosen clock, this process's current time."""
    env = dict(os.environ if base is None else base)
    if is_travelling():
        env[VARIABLE] = datetime.now().astimezone().isoformat()
    else:
        env.pop(VARIABLE, None)
    return env


def command(*args: str) -> list[str]:
    """A Python command line that runs under this process's clock: `command("-m", "celery", …)`."""
    return [sys.executable, "-m", "tests.clock", *args]


def _main(argv: list[str]) -> None:
    start(os.environ.get(VARIABLE))
    if argv[:1] == ["-m"]:
        module, rest = argv[1], argv[2:]
        sys.argv = [module, *rest]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    elif argv[:1] == ["-c"]:
        sys.argv = ["-c", *argv[2:]]
        exec(compile(argv[1], "<string>", "exec"), {"__name__": "__main__"})
    else:
        sys.argv = argv
        runpy.run_path(argv[0], run_name="__main__")


if __name__ == "__main__":
    _main(sys.argv[1:])
