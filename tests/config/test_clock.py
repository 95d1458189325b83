"""The suite runs under any clock (`RELAY_TEST_NOW`), and so do the processes it starts."""

import re
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests import clock

ROOT = Path(__file__).resolve().parents[2]
PRINT_NOW = "import datetime; print(datetime.datetime.now().astimezone().isoformat())"


def _now_in_subprocess(env: dict[str, str]) -> datetime:
    result = subprocess.run(
        clock.command("-c", PRINT_NOW), cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return datetime.fromisoformat(result.stdout.strip())


def test_a_subprocess_starts_at_the_chosen_instant():
    seen = _now_in_subprocess({**clock.environment(), clock.VARIABLE: "2030-01-01T00:30:00+08:00"})
    assert timedelta(0) <= seen - datetime.fromisoformat("2030-01-01T00:30:00+08:00") < timedelta(seconds=30)


def test_a_subprocess_shares_the_suites_clock():
    before = datetime.now().astimezone()
    seen = _now_in_subprocess(clock.environment())
    assert timedelta(0) <= seen - before < timedelta(seconds=30)


def test_a_clock_without_an_offset_is_refused():
    with pytest.raises(ValueError, match="offset"):
        clock.parse("2026-12-31T23:30:00")


# A UTC date is not a local date: the date() of an aware time is yesterday in Shanghai before 08:00.
UTC_DATE_OF_AWARE_TIME = re.compile(r"(_at|now\(\)|\bat)\.date\(\)")


def test_no_code_takes_the_utc_date_of_an_aware_time():
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted(ROOT.glob("*/**/*.py"))
        if ".venv" not in path.parts and "migrations" not in path.parts
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if UTC_DATE_OF_AWARE_TIME.search(line)
    ]
    assert not offenders, "use timezone.localdate(value) instead of value.date(): " + ", ".join(offenders)
