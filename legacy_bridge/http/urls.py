from django.urls import path

from legacy_bridge.http.views import (
    AdapterListView,
    ImportRunDetailView,
    ImportRunListView,
    RouteDetailView,
    RouteListView,
)

app_name = "legacy_bridge"

urlpatterns = [
    path("bridge/routes/", RouteListView.as_view(), name="route-list"),
    path("bridge/routes/<uuid:pk>/", RouteDetailView.as_view(), name="route-detail"),
    path("bridge/adapters/", AdapterListView.as_view(), name="adapter-list"),
    path("bridge/import-runs/", ImportRunListView.as_view(), name="import-run-list"),
    path("bridge/import-runs/<uuid:pk>/", ImportRunDetailView.as_view(), name="import-run-detail"),
]
