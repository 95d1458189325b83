from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination


class StablePagination(CursorPagination):
    """Cursor pages: the last page costs what the first does, and no COUNT(*) runs."""

    ordering = "-pk"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model  # decode_cursor checks a cursor's position against the ordering field
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        """A cursor Relay did not hand out is a 400 naming `cursor` (DRF answers 404, or fails on a position that
        is not a value of the ordering field)."""
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise self._bad_cursor() from None
        if cursor is not None and cursor.position is not None:
            name = self.ordering[0].lstrip("-")
            try:
                field = self._model._meta.pk if name == "pk" else self._model._meta.get_field(name)
                field.to_python(cursor.position)
            except FieldDoesNotExist:
                pass
            except DjangoValidationError:
                raise self._bad_cursor() from None
        return cursor

    def _bad_cursor(self) -> ValidationError:
        return ValidationError({self.cursor_query_param: [self.invalid_cursor_message]}, code="invalid")
