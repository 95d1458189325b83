"""RFC 9457 problem details for every API error (DESIGN.md "Errors")."""

import logging
import math

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from config.errors import DomainError

logger = logging.getLogger("relay.api")
PROBLEM_CONTENT_TYPE = "application/problem+json"

_TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    412: "Precondition failed",
    413: "Request entity too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    428: "Precondition required",
    429: "Too many requests",
    500: "Internal server error",
}


def problem(status_code: int, *, detail: str, code: str, errors: list[dict] | None = None, **extra) -> dict:
    body = {
        "type": f"https://relay.example/problems/{code.replace('_', '-')}",
        "title": _TITLES.get(status_code, "Error"),
        "status": status_code,
        "detail": str(detail),
        "code": code,
    }
    if errors is not None:
        body["errors"] = errors
    body.update(extra)
    return body


def flatten_errors(detail, prefix: str | None = None) -> list[dict]:
    """Turn DRF's nested error detail into [{"field", "code", "message"}] with dotted field paths."""
    out: list[dict] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = None if key in ("non_field_errors", "__all__") else str(key)
            path = ".".join(p for p in (prefix, name) if p) or None
            out += flatten_errors(value, path)
    elif isinstance(detail, list):
        for index, item in enumerate(detail):
            if isinstance(item, dict | list):
                out += flatten_errors(item, f"{prefix}[{index}]" if prefix else f"[{index}]")
            else:
                out += flatten_errors(item, prefix)
    else:
        out.append({"field": prefix, "code": getattr(detail, "code", "invalid"), "message": str(detail)})
    return out


def request_limit_problem(exc) -> dict | None:
    """Problem details for a request over Django's limits (raised while reading it, in a view or a middleware):
    a body over DATA_UPLOAD_MAX_MEMORY_SIZE is 413, too many fields, query parameters or files 400. Else None."""
    if isinstance(exc, RequestDataTooBig):
        status_code, code = 413, "too_large"
        message = _("The request body is larger than %(limit)s MB.") % {
            "limit": settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 2**20
        }
    elif isinstance(exc, TooManyFieldsSent):
        status_code, code = 400, "too_many_fields"
        message = _("The request has more than %(limit)s fields or query parameters.") % {
            "limit": settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        }
    elif isinstance(exc, TooManyFilesSent):
        status_code, code = 400, "too_many_files"
        message = _("The request has more than %(limit)s files.") % {"limit": settings.DATA_UPLOAD_MAX_NUMBER_FILES}
    else:
        return None
    return problem(status_code, detail=message, code=code, errors=[{"field": None, "code": code, "message": message}])


def problem_response(body: dict, headers: dict | None = None) -> Response:
    response = Response(body, status=body["status"], headers=headers)
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def problem_exception_handler(exc, context):
    limit = request_limit_problem(exc)
    if limit is not None:
        set_rollback()
        return problem_response(limit)
    if isinstance(exc, DomainError):
        errors = [{"field": exc.field, "code": exc.code, "message": exc.message}]
        set_rollback()
        return problem_response(problem(exc.status, detail=exc.message, code=exc.code, errors=errors))
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)

    if isinstance(exc, exceptions.APIException):
        set_rollback()
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(math.ceil(exc.wait))  # whole seconds, never 0 while refused
        if isinstance(exc, exceptions.ValidationError):
            errors = flatten_errors(exc.detail)
            detail = _("The request has invalid fields: %(fields)s.") % {
                "fields": ", ".join(sorted({e["field"] or "-" for e in errors}))
            }
            return problem_response(problem(400, detail=detail, code="invalid", errors=errors), headers)
        detail = exc.detail if not isinstance(exc.detail, dict | list) else _("The request failed.")
        code = getattr(exc.detail, "code", None) or exc.default_code
        errors = None
        if isinstance(exc, exceptions.ParseError):
            errors = [{"field": None, "code": code, "message": str(detail)}]  # parse_error, too_deep
        return problem_response(problem(exc.status_code, detail=detail, code=code, errors=errors), headers)

    logger.exception("Unhandled API error", exc_info=exc)
    set_rollback()
    return problem_response(
        problem(
            status.HTTP_500_INTERNAL_SERVER_ERROR, detail=_("Something went wrong on our side."), code="server_error"
        )
    )


def problem_json_response(status_code: int, *, detail: str, code: str, **extra) -> JsonResponse:
    """For middleware and Django views outside DRF (404s, 500s, idempotency refusals)."""
    return problem_json(problem(status_code, detail=detail, code=code, **extra))


def problem_json(body: dict) -> JsonResponse:
    """A problem body made by `problem()`, outside DRF."""
    return JsonResponse(
        body, status=body["status"], content_type=PROBLEM_CONTENT_TYPE, json_dumps_params={"ensure_ascii": False}
    )
