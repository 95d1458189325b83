from rest_framework.routers import SimpleRouter


class Router(SimpleRouter):
    """Ids in API URLs are integers (DESIGN.md "Payloads"): `/imports/abc/errors.csv/` is the resolver's 404, never a
    lookup of "abc". A viewset keyed otherwise sets `lookup_value_regex` (metrics by name)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._default_value_pattern = "[0-9]+"
