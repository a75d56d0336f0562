"""Only the accounts endpoints, at their real place: the schema test's URLconf."""

from django.urls import include, path

urlpatterns = [path("api/v1/", include("apps.accounts.http.urls"))]
