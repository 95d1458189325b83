"""Global search (the top bar): customers, leads and complaints by what a person remembers of them.

Each app registers its kinds of record once (`register` in the app's `subscriptions` module; config knows no
app) with a function that answers the best matches of the typed text in one query. `search()` asks every kind:
a fixed number of queries whatever the tables hold.

Text columns match through `text_match()`, in the form each database can answer from an index: on PostgreSQL a
case-insensitive substring (`icontains`, answered by a pg_trgm GIN index on the column), on SQLite a
case-insensitive prefix (`istartswith`, answered by a NOCASE index). `SearchIndex` is the migration operation
that makes those indexes. Identities are matched exactly on their normalized value (customers.identity), so a
phone number matches however it is typed.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection
from django.db.migrations.operations.base import Operation
from django.db.models import Q

MIN_CHARS = 2
MAX_CHARS = 100
LIMIT = 10  # hits per kind on the results page
MENU_LIMIT = 5  # hits per kind in the top bar's dropdown


@dataclass(frozen=True)
class Hit:
    title: str
    detail: str
    url: str


@dataclass(frozen=True)
class Kind:
    key: str
    label: str
    find: Callable[[str, int], list[Hit]]  # (typed text, limit) -> hits, best first, in one query


@dataclass(frozen=True)
class Group:
    key: str
    label: str
    hits: list[Hit]


_kinds: dict[str, Kind] = {}


def register(key: str, *, label, find: Callable[[str, int], list[Hit]]) -> None:
    """Add a kind of record to the search; the order of registration is the order of the results."""
    _kinds[key] = Kind(key=key, label=label, find=find)


def clean(typed: str) -> str:
    """The typed text as searched: spaces collapsed, at most MAX_CHARS; "" when too short to search (a record
    number, "7" or "#7", is never too short)."""
    text = " ".join((typed or "").split())[:MAX_CHARS]
    return text if len(text) >= MIN_CHARS or text.removeprefix("#").isdigit() else ""


def search(typed: str, *, limit: int = LIMIT) -> list[Group]:
    """Every kind's best `limit` matches of `typed` (one query per kind), kinds without a match left out."""
    text = clean(typed)
    if not text:
        return []
    groups = [Group(key=kind.key, label=kind.label, hits=kind.find(text, limit)) for kind in _kinds.values()]
    return [group for group in groups if group.hits]


def any_of(*id_querysets):
    """The ids any of `id_querysets` finds (each a `.values()` of one id column, answered from its own index), as
    one subquery for `pk__in`: a UNION, which the database answers index by index, where an OR of the same
    conditions over a subquery or a join would scan the whole table."""
    first, *others = [queryset.order_by() for queryset in id_querysets]
    return first.union(*others) if others else first


def text_match(field: str, text: str, *, prefix: bool = False) -> Q:
    """`field` holds `text`, case-insensitively: anywhere in it on PostgreSQL (unless `prefix`), at its start
    elsewhere. The form matches the index SearchIndex makes on that database."""
    lookup = "icontains" if connection.vendor == "postgresql" and not prefix else "istartswith"
    return Q(**{f"{field}__{lookup}": text})


class SearchIndex(Operation):
    """A migration operation: the index `text_match()` on `table.column` uses. PostgreSQL: a pg_trgm GIN index on
    UPPER(column::text), the expression Django's icontains/istartswith compare (the extension is created when
    missing); SQLite: an index with NOCASE collation, which SQLite's LIKE 'prefix%' uses. Other databases, and
    the model state: nothing."""

    reversible = True
    reduces_to_sql = False

    def __init__(self, *, table: str, column: str, name: str):
        self.table, self.column, self.name = table, column, name

    def deconstruct(self):
        return self.__class__.__qualname__, [], {"table": self.table, "column": self.column, "name": self.name}

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, *_states):
        quote = schema_editor.quote_name
        table, column, name = quote(self.table), quote(self.column), quote(self.name)
        vendor = schema_editor.connection.vendor
        if vendor == "postgresql":
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            schema_editor.execute(
                f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ((UPPER({column}::text)) gin_trgm_ops)"
            )
        elif vendor == "sqlite":
            schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({column} COLLATE NOCASE)")

    def database_backwards(self, app_label, schema_editor, *_states):
        if schema_editor.connection.vendor in ("postgresql", "sqlite"):
            schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(self.name)}")

    def describe(self):
        return f"Search index {self.name} on {self.table}.{self.column}"
