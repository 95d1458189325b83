"""The panels of each person's home page.

config imports no app, so each app registers its own panels from its `ready()` (its subscriptions):

    home.register("queue", order=20, template="leads/_home_queue.html", context=selectors.home_queue)

`context(request)` returns the panel's template context, or None to hide the panel for this user.
The home view renders the visible panels by `order`, then `key`.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from django.utils import timezone

PanelContext = Callable[[Any], dict | None]


@dataclass(frozen=True)
class Panel:
    key: str
    order: int
    template: str
    context: PanelContext


_PANELS: dict[str, Panel] = {}


def register(key: str, *, order: int, template: str, context: PanelContext) -> None:
    """Add (or, registered again under the same key, replace) a home panel."""
    _PANELS[key] = Panel(key=key, order=order, template=template, context=context)


def panels() -> list[Panel]:
    return sorted(_PANELS.values(), key=lambda panel: (panel.order, panel.key))


def panels_for(request) -> list[dict]:
    """The panels this request's user sees, in order: each {key, template, context}."""
    shown = []
    for panel in panels():
        context = panel.context(request)
        if context is not None:
            shown.append({"key": panel.key, "template": panel.template, "context": context})
    return shown


def week_start(now: datetime | None = None) -> datetime:
    """Monday 00:00, local time, of `now`'s week: where every panel's "this week" starts."""
    today = timezone.localdate(now or timezone.now())
    return timezone.make_aware(datetime.combine(today - timedelta(days=today.weekday()), time.min))
