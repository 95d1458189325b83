"""The kinds of record a task can be about (a lead, a customer, a complaint, an NPS answer).

config imports no app, so each app registers its own kinds once, from its `subscriptions` module:

    about.register("lead", model=Lead, labels=selectors.lead_labels, url=lambda pk: reverse("leads:lead-detail", ...))

`labels(ids)` answers {id: label} for many records in one query, so a list of tasks names each task's record with
one query per kind of record on the page; `url(id)` builds the record's link without a query.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext as _


@dataclass(frozen=True)
class Kind:
    name: str
    model: type[models.Model]
    labels: Callable[[list[int]], dict[int, str]]
    url: Callable[[int], str]


@dataclass(frozen=True)
class About:
    """What a list shows of a task's record: its kind, id, label and link."""

    type: str
    id: int
    label: str
    url: str

    def as_dict(self) -> dict:
        return {"type": self.type, "id": self.id, "label": self.label}


_kinds: dict[str, Kind] = {}


def register(name: str, *, model, labels, url) -> None:
    _kinds[name] = Kind(name=name, model=model, labels=labels, url=url)


def kinds() -> list[str]:
    return sorted(_kinds)


def get(name: str) -> Kind | None:
    return _kinds.get(name)


def content_type_of(name: str) -> ContentType | None:
    """The content type of a registered kind (cached by Django after the first look-up), None when unknown."""
    kind = _kinds.get(name)
    return ContentType.objects.get_for_model(kind.model, for_concrete_model=False) if kind else None


def _by_content_type() -> dict[int, Kind]:
    models_ = {kind.model: kind for kind in _kinds.values()}
    types = ContentType.objects.get_for_models(*models_, for_concrete_models=False)
    return {types[model].pk: kind for model, kind in models_.items()}


def kind_of(instance) -> str | None:
    """The registered kind name of a model instance, None when its model is not registered."""
    return next((kind.name for kind in _kinds.values() if isinstance(instance, kind.model)), None)


def find(name: str, pk) -> models.Model | None:
    """The record of a registered kind by id, None when the kind or the record is unknown (one query)."""
    kind = _kinds.get(name)
    if kind is None or isinstance(pk, bool) or not isinstance(pk, int) or not 1 <= pk <= 2**63 - 1:
        return None
    return kind.model._default_manager.filter(pk=pk).first()


def describe(refs: Iterable[tuple[int | None, int | None]]) -> dict[tuple[int, int], About]:
    """{(content_type_id, object_id): About} for the records of many tasks: one query per kind of record.

    A record that no longer exists is labelled as such and links nowhere; a kind no app registered is left out.
    """
    wanted: dict[int, set[int]] = {}
    for content_type_id, object_id in refs:
        if content_type_id is not None and object_id is not None:
            wanted.setdefault(content_type_id, set()).add(object_id)
    if not wanted:
        return {}
    registered = _by_content_type()
    out: dict[tuple[int, int], About] = {}
    for content_type_id, ids in wanted.items():
        kind = registered.get(content_type_id)
        if kind is None:
            continue
        labels = kind.labels(sorted(ids))
        for pk in ids:
            if pk in labels:
                out[content_type_id, pk] = About(kind.name, pk, labels[pk], kind.url(pk))
            else:
                gone = _("#%(id)s (deleted)") % {"id": pk}
                out[content_type_id, pk] = About(kind.name, pk, gone, "")
    return out


def attach(tasks) -> list:
    """Set `about_info` (an About or None) on each task of a page; one query per kind of record on it."""
    tasks = list(tasks)
    found = describe((task.content_type_id, task.object_id) for task in tasks)
    for task in tasks:
        task.about_info = found.get((task.content_type_id, task.object_id))
    return tasks
