from rest_framework.routers import SimpleRouter

from apps.audit.http.views import AuditRecordViewSet

app_name = "audit"

router = SimpleRouter()
router.register("audit/events", AuditRecordViewSet, basename="audit-event")

urlpatterns = router.urls
