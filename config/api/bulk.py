"""The bulk endpoints' one loop (DESIGN.md "REST API contract": `leads/bulk/`, `events/bulk/`, `touchpoints/bulk/`).

A bulk body is a JSON list of the single endpoint's payloads, or `{"items": [...]}`, up to BULK_LIMIT items. Each
item is checked for shape by the single endpoint's input serializer; the good ones go to the app's bulk service in
one call, which writes each on its own (a refused item is never half-written and never undoes the others). The
answer is 207 with one result per item, in order: `{"index", "status", "id", "customer", "customer_matched",
"errors"}`.
"""

from collections.abc import Callable

from rest_framework import serializers, status
from rest_framework.response import Response

from config.api.problems import flatten_errors
from config.errors import DomainError

BULK_LIMIT = 1000


class BulkItems(serializers.Serializer):
    """A bulk body: up to BULK_LIMIT payloads, each checked on its own afterwards."""

    items = serializers.ListField(child=serializers.JSONField(), min_length=1, max_length=BULK_LIMIT)


def bulk_answer(
    request,
    *,
    item_input: type[serializers.Serializer],
    write: Callable[[list[dict]], list],
    describe: Callable[[object], dict],
    envelope: type[serializers.Serializer] = BulkItems,
) -> Response:
    """The 207 answer to a bulk request.

    `write(items)` gets the validated data of the items that passed `item_input` and returns, per item and in
    order, its outcome or the DomainError that refused it; `describe(outcome)` gives the result fields of a
    written item (`status`, and `id`, `customer`, `customer_matched` as it knows them). A body that is not a
    list of at most BULK_LIMIT items is a 400 naming `items`; PermissionDenied from `write` refuses the whole
    request.
    """
    body = request.data
    checked = envelope(data={"items": body} if isinstance(body, list) else body)
    checked.is_valid(raise_exception=True)
    results, valid = [], []
    for index, item in enumerate(checked.validated_data["items"]):
        data = item_input(data=item)
        refused = not data.is_valid()
        results.append(
            {
                "index": index,
                "status": status.HTTP_400_BAD_REQUEST if refused else status.HTTP_201_CREATED,
                "id": None,
                "customer": None,
                "customer_matched": None,
                "errors": flatten_errors(data.errors) if refused else [],
            }
        )
        if not refused:
            valid.append((index, data.validated_data))
    outcomes = write([item for _index, item in valid])
    for (index, _item), outcome in zip(valid, outcomes, strict=True):
        if isinstance(outcome, DomainError):
            error = {"field": outcome.field, "code": outcome.code, "message": outcome.message}
            results[index].update(status=outcome.status, errors=[error])
        else:
            results[index].update(describe(outcome))
    return Response(results, status=status.HTTP_207_MULTI_STATUS)
