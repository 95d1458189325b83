"""Server-side inline SVG charts: no JavaScript chart library, no CDN."""

from __future__ import annotations

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString


def _n(value: float) -> str:
    return f"{value:.1f}"


def _y(value: float, low: float, high: float, size: float, pad: float) -> float:
    span = (high - low) or 1.0
    return pad + (size - 2 * pad) * (1 - (value - low) / span)


def _svg(css: str, width: int, height: int, label: str, parts: list) -> SafeString:
    body = format_html_join("", "{}", ((p,) for p in parts))
    return format_html(
        '<svg class="chart {}" viewBox="0 0 {} {}" role="img" aria-label="{}"><title>{}</title>{}</svg>',
        css,
        width,
        height,
        label,
        label,
        body,
    )


def trend_line(points: list[tuple], *, target: float | None = None, width: int = 200, height: int = 48) -> SafeString:
    """A sparkline of (date, value) points (None values are gaps), with the target as a dashed line."""
    values = [v for _d, v in points if v is not None]
    if not values:
        return SafeString("")
    scale = values + ([float(target)] if target is not None else [])
    low, high = min(scale), max(scale)
    step = (width - 4) / max(len(points) - 1, 1)
    segments, current = [], []
    for index, (_day, value) in enumerate(points):
        if value is None:
            segments, current = segments + ([current] if current else []), []
            continue
        current.append((2 + index * step, _y(value, low, high, height, 4)))
    if current:
        segments.append(current)
    parts = []
    for segment in segments:
        if len(segment) == 1:
            parts.append(format_html('<circle cx="{}" cy="{}" r="2"/>', _n(segment[0][0]), _n(segment[0][1])))
        else:
            coords = " ".join(f"{_n(x)},{_n(y)}" for x, y in segment)
            parts.append(format_html('<polyline points="{}"/>', coords))
    if target is not None:
        y = _n(_y(float(target), low, high, height, 4))
        parts.append(format_html('<line class="target" x1="0" x2="{}" y1="{}" y2="{}"/>', width, y, y))
    last_day, last_value = next((d, v) for d, v in reversed(points) if v is not None)
    return _svg("trend", width, height, f"{last_day}: {last_value:g}", parts)


def bars(
    items: list[tuple[str, float]],
    *,
    marker: float | None = None,
    marker_label: str = "",
    width: int = 560,
    height: int = 180,
) -> SafeString:
    """Vertical bars of (label, value); `marker` draws a dashed line at that position counted in bars."""
    if not items:
        return SafeString("")
    top = max(v for _l, v in items) or 1
    slot = width / len(items)
    chart_height = height - 20
    parts = []
    for index, (label, value) in enumerate(items):
        bar_height = chart_height * value / top
        x = index * slot + 2
        parts.append(
            format_html(
                '<rect x="{}" y="{}" width="{}" height="{}"><title>{}: {}</title></rect>'
                '<text x="{}" y="{}" text-anchor="middle">{}</text>',
                _n(x),
                _n(chart_height - bar_height),
                _n(slot - 4),
                _n(bar_height),
                label,
                value,
                _n(x + (slot - 4) / 2),
                height - 4,
                label,
            )
        )
    if marker is not None:
        x = _n(marker * slot)
        parts.append(
            format_html(
                '<line class="target" x1="{}" x2="{}" y1="0" y2="{}"/><text class="target" x="{}" y="12">{}</text>',
                x,
                x,
                chart_height,
                _n(marker * slot + 3),
                marker_label,
            )
        )
    return _svg("bars", width, height, marker_label, parts)


def line(
    items: list[tuple[str, float | None]],
    *,
    low: float,
    high: float,
    label: str = "",
    width: int = 560,
    height: int = 180,
) -> SafeString:
    """A line chart of (label, value) on a fixed scale [low, high], each point labelled with its value."""
    if not any(v is not None for _l, v in items):
        return SafeString("")
    chart_height = height - 20
    step = (width - 40) / max(len(items) - 1, 1)
    parts, coords = [], []
    if low < 0 < high:
        zero = _n(_y(0, low, high, chart_height, 14))
        parts.append(format_html('<line class="axis" x1="0" x2="{}" y1="{}" y2="{}"/>', width, zero, zero))
    for index, (name, value) in enumerate(items):
        x = 20 + index * step
        parts.append(format_html('<text x="{}" y="{}" text-anchor="middle">{}</text>', _n(x), height - 4, name))
        if value is None:
            continue
        y = _y(value, low, high, chart_height, 14)
        coords.append(f"{_n(x)},{_n(y)}")
        parts.append(
            format_html(
                '<circle cx="{}" cy="{}" r="3"><title>{}: {}</title></circle>'
                '<text x="{}" y="{}" text-anchor="middle">{}</text>',
                _n(x),
                _n(y),
                name,
                value,
                _n(x),
                _n(y - 6),
                value,
            )
        )
    if len(coords) > 1:
        parts.insert(0, format_html('<polyline points="{}"/>', " ".join(coords)))
    return _svg("line", width, height, label, parts)
