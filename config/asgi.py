"""The ASGI application: the ``streams`` process (``deploy/entrypoint.sh streams``), which the
gateway sends the live stream routes to (opsconductor/asgi.py)."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from opsconductor.asgi import get_streams_application

application = get_streams_application()
