"""How the simulated Semaphore answers and reads requests, shared by its endpoint mixins
(docs/providers/semaphore.md, "Auth and errors": plain text from the authorization layer,
JSON strings from the handlers)."""

from __future__ import annotations

import json

from werkzeug.wrappers import Request, Response


def text(body: str, status: int) -> Response:
    """The authorization layer's answers (``Not Found``, ``Permission denied``): raw text."""
    return Response(body, status=status, mimetype="text/plain")


def json_string(message: str, status: int = 400) -> Response:
    """Plumber's handler errors: a JSON-encoded string."""
    return Response(json.dumps(message), status=status, mimetype="application/json")


def request_body(request: Request) -> dict:
    """Semaphore takes a JSON object body, or form and query fields, alike."""
    if request.is_json:
        data = request.get_json(silent=True)
        return data if isinstance(data, dict) else {}
    return {**request.args.to_dict(), **request.form.to_dict()}
