"""Simplified Chinese: one date format and one date-time format on every page and email, in the local time zone.

Numbers are grouped in thousands as in English (1,234,567.50), not Django's ungrouped default, so amounts read
the same in both languages. Forms keep reading ISO first (`<input type="date">` needs it, where Django's default
would show 2026/12/02); the displayed form is read too.
"""

DATE_FORMAT = "Y年n月j日"  # 2026年12月2日
DATETIME_FORMAT = "Y年n月j日 H:i"  # 2026年12月2日 16:08
TIME_FORMAT = "H:i"  # 16:08
SHORT_DATE_FORMAT = DATE_FORMAT
SHORT_DATETIME_FORMAT = DATETIME_FORMAT

DATE_INPUT_FORMATS = ["%Y-%m-%d", "%Y年%m月%d日"]
DATETIME_INPUT_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M", "%Y年%m月%d日 %H:%M"]

DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
