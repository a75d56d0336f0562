from rest_framework.routers import SimpleRouter

from apps.targets.http import views

app_name = "targets"

router = SimpleRouter()
router.register("targets", views.TargetViewSet, basename="target")
router.register(
    r"targets/(?P<target_pk>[0-9a-fA-F-]{36})/methods", views.ConnectionMethodViewSet,
    basename="target-method",
)  # fmt: skip
router.register(
    r"targets/(?P<target_pk>[0-9a-fA-F-]{36})/host-keys", views.HostKeyViewSet,
    basename="target-host-key",
)  # fmt: skip
router.register("groups", views.GroupViewSet, basename="group")
router.register("credentials", views.CredentialViewSet, basename="credential")

urlpatterns = router.urls
