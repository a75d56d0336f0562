"""The ASGI application of the ``streams`` process: where live streams cost no thread.

The web tier (gunicorn, gthread) gives each request a thread for as long as it is answered, so
an open live stream (Server-Sent Events, open for a run's whole life) would hold one of a handful
of threads. The gateway sends the stream routes to this process instead (docs/deploy.md,
docs/adr/0019-live-streams.md). It is Django's ASGI handler, with one difference: every
synchronous part of every request (middleware, authentication, the view up to the start of its
answer) runs in one thread of the process, one request after the other, instead of a thread per
request. A stream's answer is then a coroutine of the event loop, fed by the process's stream
hub (``apps.execution.streaming``). So neither the process's threads nor its database
connections (the request thread's, and the hub's) grow with the number of open streams.

It answers only the URLs of ``STREAMS_URLCONF`` (config/urls_streams.py: the streams, health,
readiness, metrics; a 404 for anything else), so a route sent here by mistake is not served
with a synchronous streaming answer collected whole. Only HTTP is served (uvicorn runs it with
``--lifespan off``).
"""

from __future__ import annotations

from django.conf import settings
from django.core.handlers.asgi import ASGIHandler


class StreamsASGIHandler(ASGIHandler):
    """Django's ASGI handler without a thread per request (see the module's docstring)."""

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"The streams process serves HTTP only, not {scope['type']}.")
        # Django wraps each request in asgiref's ThreadSensitiveContext, which gives the
        # request a thread of its own for as long as its answer lasts (a stream: hours).
        # Without it, synchronous code runs in asgiref's one shared thread.
        await self.handle(scope, receive, send)

    def create_request(self, scope, body_file):
        request, error_response = super().create_request(scope, body_file)
        if request is not None:
            request.urlconf = settings.STREAMS_URLCONF  # the resolver honours it, 404s included
        return request, error_response


def get_streams_application() -> StreamsASGIHandler:
    import django

    django.setup(set_prefix=False)
    return StreamsASGIHandler()
