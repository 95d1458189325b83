from rest_framework.pagination import CursorPagination


class StablePagination(CursorPagination):
    """Cursor pages: the last page costs what the first does, and no COUNT(*) runs."""

    ordering = "-pk"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
