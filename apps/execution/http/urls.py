from rest_framework.routers import SimpleRouter

from apps.execution.http.views import RunViewSet

app_name = "execution"

router = SimpleRouter()
router.register("runs", RunViewSet, basename="run")

urlpatterns = router.urls
