from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination

from config.pagination import KeysetOrder


class StablePagination(CursorPagination):
    """Cursor pages: the last page costs what the first does, and no COUNT(*) runs.

    Ordered by pk, the cursor holds a pk (DRF's own cursor). Ordered by anything else (`?ordering=-updated`, a
    FilterSet's config.filters.SortFilter), the cursor holds the row's value and its pk ("<value>,<pk>",
    config.pagination.KeysetOrder): DRF's position plus offset would repeat or skip rows once more than
    `offset_cutoff` rows share a value (a stage, a status), a position that includes the pk never ties."""

    ordering = "-pk"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model  # decode_cursor checks a cursor's position against the ordering field
        self._key = None
        ordering = self.get_ordering(request, queryset, view)
        key = KeysetOrder(queryset, ordering[0])
        if key.field is None:
            return super().paginate_queryset(queryset, request, view)
        self._key = key
        return self._paginate_by_key(queryset, request, key)

    def _paginate_by_key(self, queryset, request, key: KeysetOrder):
        """DRF's paginate_queryset with the position filter a keyset seek on (value, pk); every position is
        unique, so the links it makes carry no offset."""
        self.request = request
        self.page_size = self.get_page_size(request)
        self.base_url = request.build_absolute_uri()
        self.ordering = (f"{'-' if key.descending else ''}{key.name}", "-pk" if key.descending else "pk")
        self.cursor = self.decode_cursor(request)
        offset, reverse, position = self.cursor if self.cursor is not None else (0, False, None)
        queryset = queryset.order_by(*key.order_by(backwards=reverse))
        if position is not None:
            queryset = queryset.filter(key.seek(position, backwards=reverse))
        results = list(queryset[offset : offset + self.page_size + 1])
        self.page = results[: self.page_size]
        following = key.cursor(results[-1]) if len(results) > len(self.page) else None
        if reverse:
            self.page.reverse()
            self.has_next, self.has_previous = position is not None or offset > 0, following is not None
            self.next_position, self.previous_position = position, following
        else:
            self.has_next, self.has_previous = following is not None, position is not None or offset > 0
            self.next_position, self.previous_position = following, position
        return self.page

    def _get_position_from_instance(self, instance, ordering):
        if self._key is None:
            return super()._get_position_from_instance(instance, ordering)
        return str(self._key.cursor(instance))

    def decode_cursor(self, request):
        """A cursor Relay did not hand out is a 400 naming `cursor` (DRF answers 404, or fails on a position that
        is not a value of the ordering field)."""
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise self._bad_cursor() from None
        if cursor is not None and cursor.position is not None:
            try:
                if self._key is not None:
                    self._key.seek(cursor.position)
                    return cursor
                name = self.ordering[0].lstrip("-")
                field = self._model._meta.pk if name == "pk" else self._model._meta.get_field(name)
                field.to_python(cursor.position)
            except FieldDoesNotExist:
                pass
            except (DjangoValidationError, ValueError):
                raise self._bad_cursor() from None
        return cursor

    def _bad_cursor(self) -> ValidationError:
        return ValidationError({self.cursor_query_param: [self.invalid_cursor_message]}, code="invalid")
