"""What every operation of the OpenAPI schema can answer besides its success: the error shape.

The views declare their successes (and a few errors of their own); the errors every operation
shares come from the kernel (``opsconductor.api.errors``) and are added here, by the
postprocessing hook ``declare_errors`` that ``SPECTACULAR_SETTINGS`` names, to every schema
generated (``/api/schema/`` and ``manage.py spectacular`` alike):

- 400 when the operation takes a body or query/header parameters (the fields named in
  ``error.fields``), 415 when it takes a body (an unsupported ``Content-Type``);
- 401 and 403 when it needs a signed-in user;
- 404 when its path names an object, or it is a list with pages (``?page=`` past the end);
- 503 (with ``Retry-After``) on every operation, while the database is unavailable.

Each of them, and each error a view declared without a body, is described by ``Error``.
"""

from __future__ import annotations

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every 4xx/5xx answer of the API has this shape.",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "e.g. `validation_error`"},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "description": "for validation errors: each field (dotted when nested) "
                    "and its reasons",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
                "positions": {
                    "type": "object",
                    "description": "with `fields`, when a field's text is wrong at a known place "
                    "(a selector): the field and the 0-based character offset",
                    "additionalProperties": {"type": "integer"},
                },
                "request_id": {"type": "string"},
                "rows": {
                    "type": "array",
                    "description": "for a refused import: each invalid row's `row` number and "
                    "`errors`",
                    "items": {"type": "object"},
                },
            },
            "required": ["code", "message", "request_id"],
        }
    },
    "required": ["error"],
}

ERRORS = {
    "400": "Invalid input: `error.fields` names each field and its reasons.",
    "401": "Not signed in (no, an expired or a revoked credential).",
    "403": "Signed in, but the role does not allow this.",
    "404": "No such object (or not visible to this user), or no such page of a list.",
    "415": "The body's Content-Type is not one this operation reads.",
    "503": "The database is unavailable for a moment (a restart, an outage): try again after "
    "`Retry-After` seconds. Nothing was changed.",
}
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _errors_of(operation: dict) -> list[str]:
    parameters = operation.get("parameters", [])
    codes = []
    if "requestBody" in operation or any(p.get("in") in ("query", "header") for p in parameters):
        codes.append("400")
    security = operation.get("security") or [{}]
    if {} not in security:  # no anonymous alternative
        codes += ["401", "403"]
    if any(p.get("in") == "path" for p in parameters) or any(
        p.get("in") == "query" and p.get("name") == "page" for p in parameters
    ):
        codes.append("404")
    if "requestBody" in operation:
        codes.append("415")
    codes.append("503")  # every operation reads the database (opsconductor/db/reconnect.py)
    return codes


def declare_errors(result, generator, request, public):
    """drf-spectacular postprocessing hook: the shared errors, with the ``Error`` body."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path in result.get("paths", {}).values():
        for method, operation in path.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for code in _errors_of(operation):
                responses.setdefault(code, {"description": ERRORS[code]})
            for code, response in responses.items():
                if code[0] in "45" and "content" not in response:
                    response["content"] = error
    return result
