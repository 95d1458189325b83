"""English: one date format and one date-time format on every page and email, 24-hour, in the local time zone.

Forms keep reading ISO first (`<input type="date">` sends and shows 2026-12-02); the displayed form is read too.
"""

DATE_FORMAT = "j M Y"  # 2 Dec 2026
DATETIME_FORMAT = "j M Y, H:i"  # 2 Dec 2026, 16:08
TIME_FORMAT = "H:i"  # 16:08
SHORT_DATE_FORMAT = DATE_FORMAT
SHORT_DATETIME_FORMAT = DATETIME_FORMAT

DATE_INPUT_FORMATS = ["%Y-%m-%d", "%d %b %Y"]
DATETIME_INPUT_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M", "%d %b %Y, %H:%M"]

DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3  # 1,234,567.50
