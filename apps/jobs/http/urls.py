from rest_framework.routers import SimpleRouter

from apps.jobs.http.views import JobViewSet

app_name = "jobs"

router = SimpleRouter()
router.register("jobs", JobViewSet, basename="job")

urlpatterns = router.urls
