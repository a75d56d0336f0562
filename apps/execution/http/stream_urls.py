"""The live stream's route alone: what the streams process serves (config/urls_streams.py)."""

from django.urls import re_path

from apps.execution.http.views import RunViewSet

app_name = "execution"

urlpatterns = [
    # the same pattern as the API's router gives it (apps/execution/http/urls.py)
    re_path(
        r"^runs/(?P<pk>[^/.]+)/stream/$", RunViewSet.as_view({"get": "stream"}), name="run-stream"
    ),
]
