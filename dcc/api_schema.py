"""drf-spectacular postprocessing: the error answers of every operation
(API.md "Auth": 401 unauthenticated, 403 wrong role, 404 outside the
caller's scope; 400 with a message per field; 429 where requests are
throttled) in the schema, with their
bodies, so that an integrator (and a schema-driven client or fuzzer) knows
every status an operation may answer. An operation's own description of one
of them is kept; only its body is added when it has none.
"""

from rest_framework.settings import api_settings

ERROR_SCHEMA = "Error"
VALIDATION_ERROR_SCHEMA = "ValidationError"

COMPONENTS = {
    ERROR_SCHEMA: {
        "type": "object",
        "description": "What went wrong, in words.",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
    VALIDATION_ERROR_SCHEMA: {
        "type": "object",
        "description": "A list of messages per field (a query parameter, a body field or "
        "`non_field_errors`; a nested field's errors nested alike), or `detail` for a "
        "body that could not be read.",
        "additionalProperties": {},
    },
}

DESCRIPTIONS = {
    "400": "Invalid input: a message per field.",
    "401": "No valid token (or session).",
    "403": "The caller's role may not do this.",
    "404": "No such object in the caller's scope (or no such page).",
    "429": "Too many requests: try again after the seconds in Retry-After.",
}


def _codes(path: str, method: str, operation: dict) -> list[str]:
    """The error statuses ``operation`` may answer: 400 where it reads input
    or writes (a service's rule may refuse it), 401 and 403 where it needs
    a caller, 404 where it names an object (or a page)."""
    parameters = operation.get("parameters", [])
    query = [p for p in parameters if p.get("in") == "query"]
    codes = []
    if "requestBody" in operation or query or method != "get":
        codes.append("400")
    security = operation.get("security")
    if security is None or {} not in security:
        codes += ["401", "403"]
    if "{" in path or any(p.get("name") == "page" for p in query):
        codes.append("404")
    if api_settings.DEFAULT_THROTTLE_CLASSES:
        codes.append("429")
    return codes


def _body(code: str) -> dict:
    name = VALIDATION_ERROR_SCHEMA if code == "400" else ERROR_SCHEMA
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}


def document_errors(result, generator, request, public):
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in COMPONENTS.items():
        schemas.setdefault(name, schema)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for code in _codes(path, method, operation):
                response = responses.setdefault(code, {"description": DESCRIPTIONS[code]})
                response.setdefault("content", _body(code))
    return result
