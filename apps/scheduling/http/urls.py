from rest_framework.routers import SimpleRouter

from apps.scheduling.http.views import (
    ChannelViewSet,
    DeliveryViewSet,
    JobAlertRuleViewSet,
    ScheduleViewSet,
)

app_name = "scheduling"

router = SimpleRouter()
router.register("schedules", ScheduleViewSet, basename="schedule")
router.register("notification-channels", ChannelViewSet, basename="notification-channel")
router.register("alert-rules", JobAlertRuleViewSet, basename="alert-rule")
router.register("notification-deliveries", DeliveryViewSet, basename="notification-delivery")

urlpatterns = router.urls
