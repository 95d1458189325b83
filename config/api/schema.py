"""The OpenAPI schema says what the API really answers: every operation documents its problem responses
(RFC 9457, `application/problem+json`), and reads of one object their 304."""

PROBLEM = {
    "type": "object",
    "description": "RFC 9457 problem details; bad input names each field in `errors`.",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "code", "message"],
                "properties": {
                    "field": {"type": "string", "nullable": True},
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
    },
}
_WHY = {
    "400": "Bad input: each field named in `errors`.",
    "401": "No credentials, or bad ones (see `WWW-Authenticate`).",
    "403": "Signed in, but the role may not do this.",
    "404": "No such object.",
    "409": "A conflict with the current state (an invalid transition, a key in progress, a duplicate).",
    "412": "If-Match names an older version.",
    "413": "The request body is over the limit.",
    "422": "An Idempotency-Key reused with another request.",
    "429": "Too many requests; see `Retry-After`.",
}
_READ = ("400", "401", "403", "429")
_WRITE = ("400", "401", "403", "409", "412", "413", "422", "429")


def require_whole_object_on_put(result, **_context):
    """drf-spectacular hook: a PUT body is the whole object, so every writable property is required (a copy of the
    request schema, `<name>Whole`, since POST shares the original). The API enforces it
    (config.api.fields.require_whole_object)."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for item in result.get("paths", {}).values():
        body = item.get("put", {}).get("requestBody", {})
        for media in body.get("content", {}).values():
            ref = media.get("schema", {}).get("$ref", "")
            name = ref.rsplit("/", 1)[-1]
            if name not in schemas:
                continue
            whole = f"{name}Whole"
            if whole not in schemas:
                schema = dict(schemas[name])
                properties = schema.get("properties", {})
                schema["required"] = [key for key, prop in properties.items() if not prop.get("readOnly")]
                schemas[whole] = schema
            media["schema"] = {"$ref": f"#/components/schemas/{whole}"}
        if body:
            body["required"] = True
    return result


def add_problem_responses(result, **_context):
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM
    ref = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            codes = [*(_READ if method == "get" else _WRITE), *(("404",) if "{" in path else ())]
            for code in codes:
                responses.setdefault(code, {"description": _WHY[code], "content": ref})
            if method == "get" and "{" in path and "200" in responses:
                responses.setdefault("304", {"description": "Not modified: If-None-Match names this version."})
    return result
