"""The API's JSON parser: bodies nest at most MAX_DEPTH levels, so 5,000 brackets are a 400, not a RecursionError.

The body's size is bounded before parsing by DATA_UPLOAD_MAX_MEMORY_SIZE (413, see config.api.problems).
"""

from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_DEPTH = 64


def _too_deep() -> ParseError:
    return ParseError(_("The JSON body nests deeper than %(limit)s levels.") % {"limit": MAX_DEPTH}, code="too_deep")


def depth_exceeds(data, limit: int) -> bool:
    """Whether lists and objects in `data` nest deeper than `limit`; walks with a stack, never recursion."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = value.values()
        elif not isinstance(value, list):
            continue
        if depth > limit:
            return True
        stack.extend((item, depth + 1) for item in value if isinstance(item, dict | list))
    return False


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:  # the decoder itself gave up, far beyond MAX_DEPTH
            raise _too_deep() from None
        if depth_exceeds(data, MAX_DEPTH):
            raise _too_deep()
        return data
