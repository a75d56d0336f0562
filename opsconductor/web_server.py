"""gunicorn's own answers in the API's error shape.

gunicorn refuses some requests before the application sees them (a request line longer than
``--limit-request-line``, headers too large, malformed HTTP) and answers them with an HTML page.
The image's web role runs :class:`ThreadWorker` (``deploy/entrypoint.sh``), gunicorn's threaded
worker whose error answers are ``{"error": {"code", "message", "request_id"}}`` in JSON, with the
``X-Request-ID`` header, like every other error of the API. The message is fixed per status:
nothing of the refused request is echoed.
"""

from __future__ import annotations

import json

from gunicorn import util  # type: ignore[import-untyped]
from gunicorn.workers import gthread  # type: ignore[import-untyped]

from opsconductor.observability.context import new_request_id

MESSAGES = {
    400: "The request is not valid HTTP.",
    403: "The request is forbidden.",
    414: "The request line (method, URL and version) is longer than this server accepts.",
    417: "The expectation given in the Expect header cannot be met.",
    431: "The request headers are larger than this server accepts.",
    500: "Internal server error. Quote the request id when reporting it.",
    501: "The transfer coding is not supported.",
}


def error_response(status: int, reason: str) -> bytes:
    """A complete HTTP/1.1 error response in the API's shape (the connection is closed)."""
    from opsconductor.api.errors import CODES

    request_id = new_request_id()
    body = json.dumps(
        {
            "error": {
                "code": CODES.get(status, "bad_request" if status < 500 else "server_error"),
                "message": MESSAGES.get(status, reason),
                "request_id": request_id,
            }
        }
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"X-Request-ID: {request_id}\r\n"
        "\r\n"
    )
    return head.encode("latin-1") + body


def write_json_error(sock, status_int, reason, mesg):  # gunicorn.util.write_error's signature
    util.write_nonblock(sock, error_response(int(status_int), str(reason)))


class ThreadWorker(gthread.ThreadWorker):
    """gunicorn's ``gthread`` worker answering its own errors in the API's shape."""

    def init_process(self):
        # gunicorn's workers write their error answers with gunicorn.util.write_error: in this
        # worker process, that is ours
        util.write_error = write_json_error
        super().init_process()
