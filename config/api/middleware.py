from django.utils.translation import gettext as _

from config.api.problems import problem_json, problem_json_response, request_limit_problem


class ApiProblemMiddleware:
    """Django-level 404/500 under /api/ answer problem details too, not an HTML page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            request.path.startswith("/api/")
            and response.status_code >= 400
            and not response.get("Content-Type", "").startswith(("application/problem+json", "application/json"))
        ):
            code = {
                404: "not_found",
                405: "method_not_allowed",
                413: "too_large",
                400: "bad_request",
                403: "forbidden",
            }.get(response.status_code, "server_error" if response.status_code >= 500 else "error")
            return problem_json_response(response.status_code, detail=_("The request failed."), code=code)
        return response

    def process_exception(self, request, exception):
        if request.path.startswith("/api/"):
            limit = request_limit_problem(exception)
            if limit is not None:
                return problem_json(limit)
            return problem_json_response(500, detail=_("Something went wrong on our side."), code="server_error")
        return None
