from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.audit.http.views import AuditRecordViewSet, VerificationView

app_name = "audit"

router = SimpleRouter()
router.register("audit/events", AuditRecordViewSet, basename="audit-event")

urlpatterns = [
    path("audit/verification/", VerificationView.as_view(), name="audit-verification"),
    *router.urls,
]
