"""The legacy backend's URL space (/api/v3/, /api/schedules/; config/urls.py includes this
module under both). Every path goes to the bridge, which looks it up in the route table
(docs/legacy-bridge.md)."""

from django.urls import re_path

from legacy_bridge.views import bridge

urlpatterns = [re_path(r"^(?P<rest>.*)$", bridge)]
