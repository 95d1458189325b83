"""The overlap page's heat map: the pairwise matrix of marketing.overlap as inline SVG, drawn on the server (no
JavaScript chart library, no CDN).

Row r, column c: the customers both channels touched, and their share of the row channel's reach. Each cell is
shaded by its share in ten steps (classes `heat-0` … `heat-10`; a row's own cell is `heat-self`), shows its count
and share, and carries a <title> tooltip in words. No style attributes (the Content-Security-Policy refuses them):
static/css/overlap.css colours the classes. The SVG keeps a legible minimum width and scrolls inside its box on a
phone.
"""

from __future__ import annotations

from django.utils.formats import number_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

CELL_W, CELL_H = 64, 40
LABEL_W, HEAD_H = 120, 28
FONT = 12  # px in viewBox units (static/css/overlap.css)
SCALE = 1.25  # the drawn width per viewBox unit: 15 px text, and the minimum the box scrolls at on a phone


def percent(share: float | None, places: int = 1) -> str:
    """A 0–1 share as the active language writes a percentage ("16.7 %"); "—" for none."""
    if share is None:
        return "—"
    shown = round(share * 100, places) + 0.0  # + 0.0: never "-0"
    return _("%(value)s %%") % {"value": number_format(shown, places if shown != int(shown) else 0)}


def count(value: int) -> str:
    return number_format(value, 0, use_l10n=True, force_grouping=True)


def _fit(text: str, room: float) -> str:
    """`text` shortened with an ellipsis to about `room` viewBox units (CJK characters count double)."""
    width = 0.0
    for index, char in enumerate(text):
        width += FONT * (1.0 if ord(char) > 0x2E80 else 0.6)
        if width > room:
            return text[: max(index - 1, 1)] + "…"
    return text


def heat_map(overlap: dict) -> SafeString:
    """The matrix of `overlap` (marketing.overlap.channel_overlap) as a figure with an SVG heat map; "" without
    channels."""
    channels = overlap["channels"]
    if not channels:
        return SafeString("")
    names = {row["code"]: row["name"] for row in channels}
    n = len(channels)
    width, height = LABEL_W + n * CELL_W + 4, HEAD_H + n * CELL_H + 4
    parts = []
    for index, row in enumerate(channels):  # column heads
        x = LABEL_W + index * CELL_W + CELL_W / 2
        parts.append(
            format_html(
                '<text class="head" x="{}" y="{}" text-anchor="middle"><title>{}</title>{}</text>',
                x,
                HEAD_H - 10,
                row["name"],
                _fit(row["name"], CELL_W - 4),
            )
        )
    for r, line in enumerate(overlap["matrix"]):
        y = HEAD_H + r * CELL_H
        row_name = names[line["channel"]]
        parts.append(
            format_html(
                '<text class="head" x="{}" y="{}" text-anchor="end"><title>{}</title>{}</text>',
                LABEL_W - 8,
                y + CELL_H / 2 + FONT / 3,
                row_name,
                _fit(row_name, LABEL_W - 12),
            )
        )
        for c, cell in enumerate(line["cells"]):
            column = (cell["channel"], names[cell["channel"]])
            parts.append(_cell(LABEL_W + c * CELL_W, y, (line["channel"], row_name), column, cell, own=r == c))
    title = _("Customers two channels both reached, as a share of the row channel's reach")
    svg = format_html(
        '<svg class="heatmap" viewBox="0 0 {} {}" width="{}" role="img" aria-label="{}"><title>{}</title>{}</svg>',
        width,
        height,
        round(width * SCALE),
        title,
        title,
        format_html_join("", "{}", ((p,) for p in parts)),
    )
    return format_html(
        '<figure class="heatmap-figure" data-testid="overlap-heatmap"><div class="heatmap-scroll">{}</div>'
        "<figcaption>{}</figcaption></figure>",
        svg,
        title,
    )


def _cell(x: float, y: float, row: tuple[str, str], column: tuple[str, str], cell: dict, *, own: bool) -> SafeString:
    """One cell; `row` and `column` are (code, name)."""
    (row_code, row_name), (column_code, column_name) = row, column
    share = cell["share"]
    if own:
        css = "heat-self"
        tip = _("%(channel)s reached %(count)s customers") % {"channel": row_name, "count": count(cell["both"])}
    else:
        step = 0 if share is None else min(10, max(0, round(share * 10)))
        css = f"heat-{step}" + (" dark" if step >= 6 else "")
        tip = _("%(row)s and %(column)s both reached %(count)s customers: %(share)s of %(row)s's reach") % {
            "row": row_name,
            "column": column_name,
            "count": count(cell["both"]),
            "share": percent(share),
        }
    return format_html(
        '<g class="cell {}" data-row="{}" data-column="{}"><title>{}</title>'
        '<rect x="{}" y="{}" width="{}" height="{}" rx="3"></rect>'
        '<text class="count" x="{}" y="{}" text-anchor="middle">{}</text>'
        '<text class="share" x="{}" y="{}" text-anchor="middle">{}</text></g>',
        css,
        row_code,
        column_code,
        tip,
        x + 1,
        y + 1,
        CELL_W - 2,
        CELL_H - 2,
        x + CELL_W / 2,
        y + CELL_H / 2 - 2,
        count(cell["both"]),
        x + CELL_W / 2,
        y + CELL_H / 2 + FONT - 1,
        percent(share),
    )
