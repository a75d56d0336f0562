"""The legacy backend's URL space (/api/v3/, /api/schedules/).

Routes here forward to the legacy FastAPI backend until each is migrated (the legacy bridge
issue fills this in); until then nothing under these prefixes is served.
"""

urlpatterns: list = []
