"""CSV that is safe to open in a spreadsheet: every CSV Relay writes goes through `writer()`.

Excel, LibreOffice and Google Sheets run a cell starting with = + - or @ as a formula (some skip a leading tab or
carriage return first), so a customer named `=HYPERLINK(...)` would become a live link in a colleague's export
("CSV injection", OWASP). Such a cell is written with a leading ', which spreadsheets show as text and hide;
imports take the ' off again (`unescape_cell`), so an exported file imports back unchanged.
"""

import csv

from django.http import StreamingHttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """The value as a spreadsheet should see it: text that would start a formula gets a leading '."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def unescape_cell(text: str) -> str:
    """A cell as `safe_cell` wrote it, back to the original text."""
    if text.startswith("'") and text[1:].startswith(FORMULA_STARTS):
        return text[1:]
    return text


class _SafeWriter:
    def __init__(self, out, **kwargs):
        self._writer = csv.writer(out, **kwargs)

    def writerow(self, row):
        return self._writer.writerow([safe_cell(value) for value in row])

    def writerows(self, rows):
        for row in rows:
            self.writerow(row)


def writer(out, **kwargs) -> _SafeWriter:
    """`csv.writer(out, **kwargs)` whose rows pass through `safe_cell`."""
    return _SafeWriter(out, **kwargs)


class _Echo:
    """A file whose write() hands the line back: the csv writer then makes lines for a streamed answer."""

    def write(self, value):
        return value


def streaming_response(*, header: list[str], rows, filename: str) -> StreamingHttpResponse:
    """A CSV download written while it is read (any length, constant memory): a UTF-8 byte order mark (so
    spreadsheet apps read Chinese right), `header`, then each of `rows` through `safe_cell`. `rows` is an
    iterable the response consumes lazily: give it a queryset's `.iterator()`, never a list."""
    out = writer(_Echo())

    def lines():
        yield "\ufeff"
        yield out.writerow(header)
        for row in rows:
            yield out.writerow(["" if value is None else value for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
