from decimal import Decimal

import pytest

from okr.selectors import progress, quarter_bounds, quarter_of, shift_quarter


@pytest.mark.parametrize(
    ("baseline", "target", "current", "direction", "expected"),
    [
        (0, 100, 50, "up", 50.0),
        (0.2, 0.4, 0.3, "up", 50.0),
        (0, 100, 150, "up", 100.0),  # clamped
        (50, 100, 20, "up", 0.0),  # below baseline
        (45, 28, 40, "down", 29.4),  # cycle time: (45 − 40) ÷ (45 − 28)
        (45, 28, 28, "down", 100.0),
        (45, 28, 20, "down", 100.0),  # clamped
        (45, 28, 50, "down", 0.0),  # worse than baseline
        (10, 10, 10, "up", 100.0),  # target equals baseline and is met
        (10, 10, 11, "down", 0.0),
        (0, 100, None, "up", None),  # no data
    ],
)
def test_progress(baseline, target, current, direction, expected):
    assert progress(baseline=Decimal(str(baseline)), target=target, current=current, direction=direction) == expected


def test_quarters():
    assert quarter_bounds("2026Q4") == (quarter_bounds("2026Q4")[0], quarter_bounds("2027Q1")[0])
    assert str(quarter_bounds("2026Q1")[0]) == "2026-01-01" and str(quarter_bounds("2026Q1")[1]) == "2026-04-01"
    assert shift_quarter("2026Q1", -1) == "2025Q4" and shift_quarter("2026Q4", 1) == "2027Q1"
    assert quarter_of(quarter_bounds("2026Q3")[0]) == "2026Q3"
    with pytest.raises(ValueError):
        quarter_bounds("2026Q5")
