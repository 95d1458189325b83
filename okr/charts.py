"""Server-side inline SVG charts: no JavaScript chart library, no CDN. Every chart of the boards and reports is
drawn here, so they all read the same way:

* a y axis with "nice" ticks, grid lines and tick labels in the values' unit (`Unit`), and the axis title;
* an x axis with its labels (months, dates, stages, buckets), thinned when there are too many to fit;
* the chart's title as the SVG's <title> (screen readers) and as the figure's caption, with an optional note;
* a tooltip on every point, bar and marker (a <title> child) giving its exact value.

Every label is placed inside the viewBox (the plot keeps room above its highest point for the value label). No
style attributes (the Content-Security-Policy refuses them): static/css/okr.css colours the classes used here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.formats import date_format, number_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

FONT = 12  # px in viewBox units (static/css/okr.css); margins and label widths are reckoned from it


# --- units -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """How a value reads on an axis and in a tooltip: `scale` to display (shares × 100), a translatable template
    around the number, and the decimals of exact values."""

    template: str = "%(value)s"
    scale: float = 1.0
    places: int = 2

    def text(self, value: float, places: int | None = None) -> str:
        shown = value * self.scale
        places = self.places if places is None else places
        rounded = round(shown, places) + 0.0  # + 0.0: never "-0"
        if rounded == int(rounded):
            places = 0
        return str(self.template) % {"value": number_format(rounded, places)}

    def tick_places(self, step: float) -> int:
        """The decimals a tick step needs once scaled (0.25 → 2; 5 → 0)."""
        shown = abs(step * self.scale)
        for places in range(5):
            if abs(round(shown, places) - shown) < 1e-9:
                return places
        return 4


COUNT = Unit(places=0)
NUMBER = Unit(places=2)
PERCENT = Unit(template="%(value)s %%", scale=100, places=1)
DAYS = Unit(template=_("%(value)s d"), places=1)
HOURS = Unit(template=_("%(value)s h"), places=1)
NPS = Unit(places=0)

# The metric registry's units (okr.metrics.UNIT_LABELS) as they read on a chart.
METRIC_UNITS = {"ratio": PERCENT, "days": DAYS, "hours": HOURS, "nps": NPS, "score": NUMBER, "money": NUMBER}


def unit_for(metric_unit: str | None) -> Unit:
    return METRIC_UNITS.get(metric_unit or "", NUMBER)


def nice_ticks(low: float, high: float, *, count: int = 5, integer: bool = False) -> list[float]:
    """Round tick values covering [low, high]: steps of 1, 2, 2.5 or 5 × 10^k, about `count` of them; whole
    numbers only when `integer` (counts)."""
    low, high = min(low, high), max(low, high)
    if high == low:
        pad = abs(low) * 0.1 or 1.0
        low, high = (0.0, pad) if low == 0 else (low - pad, high + pad)
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = 10 * magnitude
    for multiple in (1, 2, 2.5, 5, 10):
        if integer and multiple == 2.5:
            continue
        if multiple * magnitude >= raw - 1e-12:
            step = multiple * magnitude
            break
    if integer:
        step = max(1.0, float(math.ceil(step)))
    first = math.floor(low / step + 1e-9) * step
    last = math.ceil(high / step - 1e-9) * step
    return [round(first + i * step, 10) for i in range(round((last - first) / step) + 1)]


# --- the frame every chart shares -------------------------------------------------------------------------------


def _n(value: float) -> str:
    return f"{value:.1f}"


@dataclass(frozen=True)
class _Frame:
    """The plot area [left, right] × [top, bottom] inside a width × height viewBox, for y values in [low, high]."""

    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    low: float
    high: float

    def y(self, value: float) -> float:
        span = (self.high - self.low) or 1.0
        return self.bottom - (self.bottom - self.top) * (value - self.low) / span

    def x(self, value: float) -> float:  # horizontal charts: values along x
        span = (self.high - self.low) or 1.0
        return self.left + (self.right - self.left) * (value - self.low) / span


def _y_axis(frame: _Frame, ticks: list[float], unit: Unit, title: str) -> list:
    places = unit.tick_places(ticks[1] - ticks[0]) if len(ticks) > 1 else 0
    parts = []
    for tick in ticks:
        y = _n(frame.y(tick))
        parts.append(
            format_html(
                '<line class="grid{}" x1="{}" x2="{}" y1="{}" y2="{}"/>'
                '<text class="tick" x="{}" y="{}" text-anchor="end">{}</text>',
                " zero" if tick == 0 and frame.low < 0 else "",
                _n(frame.left),
                _n(frame.right),
                y,
                y,
                _n(frame.left - 5),
                _n(frame.y(tick) + 4),
                unit.text(tick, places),
            )
        )
    parts.append(
        format_html(
            '<line class="axis" x1="{}" x2="{}" y1="{}" y2="{}"/>',
            _n(frame.left),
            _n(frame.left),
            _n(frame.top),
            _n(frame.bottom),
        )
    )
    if title:
        middle = (frame.top + frame.bottom) / 2
        parts.append(
            format_html(
                '<text class="axis-title" x="{}" y="{}" text-anchor="middle" transform="rotate(-90 {} {})">{}</text>',
                _n(FONT + 1),
                _n(middle),
                _n(FONT + 1),
                _n(middle),
                title,
            )
        )
    return parts


def _plot_frame(
    width: int, height: int, ticks: list[float], unit: Unit, *, y_title: str, x_title: str, top: float
) -> _Frame:
    """The plot area of a vertical chart: left of it room for the widest y tick label (and the axis title),
    below it for the x labels (and their title)."""
    places = unit.tick_places(ticks[1] - ticks[0]) if len(ticks) > 1 else 0
    widest = max(text_width(unit.text(tick, places)) for tick in ticks)
    return _Frame(
        width=width,
        height=height,
        left=widest + 9 + (FONT + 4 if y_title else 0),
        right=width - 12,
        top=top,
        bottom=height - FONT - 10 - (FONT + 4 if x_title else 0),
        low=ticks[0],
        high=ticks[-1],
    )


def text_width(text: str) -> float:
    """About how wide `text` is drawn at FONT px: CJK characters are square, Latin ones about 0.6 as wide."""
    return sum(FONT if ord(char) >= 0x2E80 else FONT * 0.6 for char in str(text))


def _x_axis(frame: _Frame, labels: list[tuple[float, str]], title: str) -> list:
    parts = [
        format_html(
            '<line class="axis" x1="{}" x2="{}" y1="{}" y2="{}"/>',
            _n(frame.left),
            _n(frame.right),
            _n(frame.bottom),
            _n(frame.bottom),
        )
    ]
    for x, label in labels:
        half, anchor = text_width(label) / 2, "middle"
        if x + half > frame.width - 2:  # keep the label inside the viewBox: flush with the edge instead
            x, anchor = frame.width - 2, "end"
        elif x - half < 2:
            x, anchor = 2, "start"
        parts.append(
            format_html(
                '<text class="tick" x="{}" y="{}" text-anchor="{}">{}</text>',
                _n(x),
                _n(frame.bottom + FONT + 3),
                anchor,
                label,
            )
        )
    if title:
        parts.append(
            format_html(
                '<text class="axis-title" x="{}" y="{}" text-anchor="middle">{}</text>',
                _n((frame.left + frame.right) / 2),
                frame.height - 3,
                title,
            )
        )
    return parts


def _shorten(text: str, room: float) -> str:
    """`text`, cut with an ellipsis to about `room` wide."""
    text = str(text)
    if text_width(text) <= room:
        return text
    while text and text_width(text + "…") > room:
        text = text[:-1]
    return text + "…"


def _thin(labels: Sequence[str], span: float, most: int | None = None) -> list[int]:
    """Indexes of the x labels to draw: every k-th so that they fit side by side in `span` (and at most `most`
    show), always the first and the last."""
    count = len(labels)
    fit = max(2, int(span / (max(text_width(label) for label in labels) + 8))) if labels else 0
    most = min(most, fit) if most else fit
    if count <= most:
        return list(range(count))
    every = math.ceil((count - 1) / max(most - 1, 1))
    shown = list(range(0, count, every))
    if shown[-1] != count - 1:
        if count - 1 - shown[-1] < every:  # too close to the last one: it would overlap
            shown.pop()
        shown.append(count - 1)
    return shown


def _figure(css: str, frame: _Frame, title: str, parts: list, *, note: str = "", legend=None) -> SafeString:
    body = format_html_join("", "{}", ((p,) for p in parts))
    svg = format_html(
        '<svg class="chart {}" viewBox="0 0 {} {}" role="img" aria-label="{}"><title>{}</title>{}</svg>',
        css,
        frame.width,
        frame.height,
        title,
        title,
        body,
    )
    caption = format_html("<strong>{}</strong>{}", title, format_html(" · {}", note) if note else "")
    return format_html(
        '<figure class="chart-figure"><div class="chart-scroll">{}</div><figcaption>{}</figcaption>{}</figure>',
        svg,
        caption,
        legend or "",
    )


# --- line charts -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    label: str  # the x label (a month, a day)
    value: float | None  # None: a gap in the line
    detail: str = ""  # more for the tooltip ("12 answers")
    faint: bool = False  # drawn hollow: based on too few observations


def line_chart(
    points: Sequence[Point],
    *,
    title: str,
    unit: Unit,
    y_title: str = "",
    x_title: str = "",
    low: float | None = None,
    high: float | None = None,
    target: float | None = None,
    target_label: str = "",
    show_values: bool = True,
    most_labels: int = 12,
    note: str = "",
    css: str = "line",
    width: int = 560,
    height: int = 230,
) -> SafeString:
    """A line through (label, value) points on a y axis from `low` to `high` (the data's range, widened to round
    ticks, when not given); each point carries a tooltip and, with `show_values`, its value above it. `target`
    draws a dashed line. Empty when no point has a value."""
    values = [p.value for p in points if p.value is not None]
    if not values:
        return SafeString("")
    scale = values + ([float(target)] if target is not None else [])
    ticks = nice_ticks(min(scale) if low is None else low, max(scale) if high is None else high, count=5)
    # Room above the top tick for the value label of a point there.
    frame = _plot_frame(width, height, ticks, unit, y_title=y_title, x_title=x_title, top=FONT + 12)
    parts = _y_axis(frame, ticks, unit, y_title)
    inset = 14
    step = (frame.right - frame.left - 2 * inset) / max(len(points) - 1, 1)

    def x_of(index: int) -> float:
        if len(points) == 1:
            return (frame.left + frame.right) / 2
        return frame.left + inset + index * step

    labels = [p.label for p in points]
    span = frame.right - frame.left
    parts += _x_axis(frame, [(x_of(i), labels[i]) for i in _thin(labels, span, most_labels)], x_title)
    if target is not None:
        y = _n(frame.y(float(target)))
        parts.append(
            format_html(
                '<line class="target" x1="{}" x2="{}" y1="{}" y2="{}"><title>{}</title></line>',
                _n(frame.left),
                _n(frame.right),
                y,
                y,
                format_html("{}: {}", target_label, unit.text(float(target))) if target_label else unit.text(target),
            )
        )
    segments, current = [], []
    for index, point in enumerate(points):
        if point.value is None:
            if current:
                segments.append(current)
            current = []
            continue
        current.append((x_of(index), frame.y(point.value)))
    if current:
        segments.append(current)
    for segment in segments:
        if len(segment) > 1:
            parts.append(format_html('<polyline points="{}"/>', " ".join(f"{_n(x)},{_n(y)}" for x, y in segment)))
    for index, point in enumerate(points):
        if point.value is None:
            continue
        x, y = x_of(index), frame.y(point.value)
        exact = unit.text(point.value)
        tooltip = f"{point.label}: {exact}" + (f" · {point.detail}" if point.detail else "")
        parts.append(
            format_html(
                '<circle class="point{}" cx="{}" cy="{}" r="3.5"><title>{}</title></circle>',
                " faint" if point.faint else "",
                _n(x),
                _n(y),
                tooltip,
            )
        )
        if show_values:
            parts.append(
                format_html('<text class="value" x="{}" y="{}" text-anchor="middle">{}</text>', _n(x), _n(y - 7), exact)
            )
    return _figure(css, frame, title, parts, note=note)


def trend_line(
    points: list[tuple], *, unit: Unit, title: str, target: float | None = None, target_label: str = ""
) -> SafeString:
    """A key result's daily values of the quarter ((date, value) pairs; None is a gap) against its target: a
    small line chart with its y axis, the first and last days on the x axis and a tooltip on every day."""
    return line_chart(
        [Point(date_format(day), value) for day, value in points],
        title=title,
        unit=unit,
        target=target,
        target_label=target_label,
        show_values=False,
        most_labels=3,
        css="trend",
        width=320,
        height=140,
    )


# --- bar charts --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    detail: str = ""  # more for the tooltip
    marker: float | None = None  # a second figure drawn as a tick across the bar (e.g. the p90)
    marker_label: str = ""
    faint: bool = False  # based on too few observations


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    unit: Unit,
    y_title: str = "",
    x_title: str = "",
    line_at: float | None = None,
    line_label: str = "",
    note: str = "",
    integer: bool = False,
    css: str = "bars",
    width: int = 560,
    height: int = 240,
) -> SafeString:
    """Vertical bars from zero, each with its value above it and a tooltip; a bar's `marker` is drawn as a tick
    across it. `line_at` draws a dashed vertical line at that position counted in bars (e.g. a benchmark
    between two buckets). Empty without bars."""
    if not bars:
        return SafeString("")
    top_value = max([b.value for b in bars] + [b.marker for b in bars if b.marker is not None])
    ticks = nice_ticks(0, top_value or (1 if integer else 0), count=5, integer=integer)
    frame = _plot_frame(width, height, ticks, unit, y_title=y_title, x_title=x_title, top=FONT + 12)
    slot = (frame.right - frame.left) / len(bars)
    labels = [b.label for b in bars]
    parts = _y_axis(frame, ticks, unit, y_title)
    parts += _x_axis(
        frame, [(frame.left + (i + 0.5) * slot, labels[i]) for i in _thin(labels, frame.right - frame.left)], x_title
    )
    for index, bar in enumerate(bars):
        x = frame.left + index * slot + slot * 0.15
        y = frame.y(bar.value)
        exact = unit.text(bar.value)
        tooltip = f"{bar.label}: {exact}" + (f" · {bar.detail}" if bar.detail else "")
        parts.append(
            format_html(
                '<rect class="bar{}" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>'
                '<text class="value" x="{}" y="{}" text-anchor="middle">{}</text>',
                " faint" if bar.faint else "",
                _n(x),
                _n(y),
                _n(slot * 0.7),
                _n(frame.bottom - y),
                tooltip,
                _n(x + slot * 0.35),
                _n(min(y, frame.y(bar.marker) if bar.marker is not None else y) - 4),
                exact,
            )
        )
        if bar.marker is not None:
            marker_y = _n(frame.y(bar.marker))
            parts.append(
                format_html(
                    '<line class="marker" x1="{}" x2="{}" y1="{}" y2="{}"><title>{}</title></line>',
                    _n(x - 3),
                    _n(x + slot * 0.7 + 3),
                    marker_y,
                    marker_y,
                    f"{bar.label}: {bar.marker_label} {unit.text(bar.marker)}",
                )
            )
    if line_at is not None:
        x = frame.left + line_at * slot
        # The label to the right of the line, or to its left when it would leave the viewBox.
        fits = x + 3 + text_width(line_label) <= frame.width - 2
        parts.append(
            format_html(
                '<line class="target" x1="{}" x2="{}" y1="{}" y2="{}"><title>{}</title></line>'
                '<text class="target-label" x="{}" y="{}" text-anchor="{}">{}</text>',
                _n(x),
                _n(x),
                _n(frame.top),
                _n(frame.bottom),
                line_label,
                _n(x + 3 if fits else x - 3),
                _n(frame.top - 7),
                "start" if fits else "end",
                line_label,
            )
        )
    return _figure(css, frame, title, parts, note=note)


def hbar_chart(
    bars: Sequence[Bar], *, title: str, unit: Unit, x_title: str = "", note: str = "", width: int = 560
) -> SafeString:
    """Horizontal bars for named categories (long labels stay readable): label on the left, value after the bar,
    a tooltip on each, and the value axis along the bottom. Empty without bars."""
    if not bars:
        return SafeString("")
    row = 26
    ticks = nice_ticks(0, max(b.value for b in bars) or 1, count=5, integer=unit.places == 0)
    shown = [f"{unit.text(b.value)} · {b.detail}" if b.detail else unit.text(b.value) for b in bars]
    # The category labels get up to a third of the width (longer ones are shortened, the tooltip has them whole);
    # the values after the bars get what the longest needs.
    left = min(max(text_width(b.label) for b in bars), width / 3) + 10
    names = [_shorten(b.label, left - 10) for b in bars]
    height = 8 + row * len(bars) + FONT + 10 + (FONT + 4 if x_title else 0)
    frame = _Frame(
        width=width,
        height=height,
        left=left,
        right=width - max(text_width(text) for text in shown) - 10,
        top=8,
        bottom=8 + row * len(bars),
        low=0,
        high=ticks[-1],
    )
    places = unit.tick_places(ticks[1] - ticks[0]) if len(ticks) > 1 else 0
    parts = []
    for tick in ticks:
        x = _n(frame.x(tick))
        parts.append(
            format_html(
                '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/>'
                '<text class="tick" x="{}" y="{}" text-anchor="middle">{}</text>',
                x,
                x,
                _n(frame.top),
                _n(frame.bottom),
                x,
                _n(frame.bottom + FONT + 3),
                unit.text(tick, places),
            )
        )
    parts.append(
        format_html(
            '<line class="axis" x1="{}" x2="{}" y1="{}" y2="{}"/><line class="axis" x1="{}" x2="{}" y1="{}" y2="{}"/>',
            _n(frame.left),
            _n(frame.left),
            _n(frame.top),
            _n(frame.bottom),
            _n(frame.left),
            _n(frame.right),
            _n(frame.bottom),
            _n(frame.bottom),
        )
    )
    if x_title:
        parts.append(
            format_html(
                '<text class="axis-title" x="{}" y="{}" text-anchor="middle">{}</text>',
                _n((frame.left + frame.right) / 2),
                height - 3,
                x_title,
            )
        )
    for index, bar in enumerate(bars):
        y = frame.top + index * row
        end = frame.x(bar.value)
        parts.append(
            format_html(
                '<text class="label" x="{}" y="{}" text-anchor="end">{}</text>'
                '<rect class="bar" x="{}" y="{}" width="{}" height="{}"><title>{}: {}</title></rect>'
                '<text class="value" x="{}" y="{}">{}</text>',
                _n(frame.left - 6),
                _n(y + row / 2 + 4),
                names[index],
                _n(frame.left),
                _n(y + 4),
                _n(end - frame.left),
                _n(row - 8),
                bar.label,
                shown[index],
                _n(end + 4),
                _n(y + row / 2 + 4),
                shown[index],
            )
        )
    return _figure("hbars", frame, title, parts, note=note)


def stacked_bar_chart(
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    title: str,
    unit: Unit,
    y_title: str = "",
    note: str = "",
    width: int = 560,
    height: int = 240,
) -> SafeString:
    """One bar per category (e.g. a month) stacked from the series (e.g. reasons), each segment with a tooltip,
    the total above the bar, and a legend naming the series' colours. Empty without a non-zero value."""
    totals = [sum(values[i] for _name, values in series) for i in range(len(categories))]
    if not categories or not any(totals):
        return SafeString("")
    ticks = nice_ticks(0, max(totals), count=5, integer=unit.places == 0)
    frame = _plot_frame(width, height, ticks, unit, y_title=y_title, x_title="", top=FONT + 12)
    slot = (frame.right - frame.left) / len(categories)
    parts = _y_axis(frame, ticks, unit, y_title)
    shown = _thin(list(categories), frame.right - frame.left)
    parts += _x_axis(frame, [(frame.left + (i + 0.5) * slot, categories[i]) for i in shown], "")
    for index, category in enumerate(categories):
        x = frame.left + index * slot + slot * 0.15
        base = 0.0
        for number, (name, values) in enumerate(series):
            value = values[index]
            if not value:
                continue
            y_top, y_base = frame.y(base + value), frame.y(base)
            parts.append(
                format_html(
                    '<rect class="bar s{}" x="{}" y="{}" width="{}" height="{}"><title>{} · {}: {}</title></rect>',
                    number % 8,
                    _n(x),
                    _n(y_top),
                    _n(slot * 0.7),
                    _n(y_base - y_top),
                    category,
                    name,
                    unit.text(value),
                )
            )
            base += value
        if totals[index]:
            parts.append(
                format_html(
                    '<text class="value" x="{}" y="{}" text-anchor="middle">{}</text>',
                    _n(x + slot * 0.35),
                    _n(frame.y(totals[index]) - 4),
                    unit.text(totals[index]),
                )
            )
    legend = format_html(
        '<ul class="chart-legend">{}</ul>',
        format_html_join(
            "", '<li><span class="swatch s{}"></span>{}</li>', ((n % 8, name) for n, (name, _v) in enumerate(series))
        ),
    )
    return _figure("stacked", frame, title, parts, note=note, legend=legend)
