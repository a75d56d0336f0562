from rest_framework.routers import SimpleRouter

from apps.scheduling.http.views import (
    AlertRuleViewSet,
    ChannelViewSet,
    DeliveryViewSet,
    ScheduleViewSet,
)

app_name = "scheduling"

router = SimpleRouter()
router.register("schedules", ScheduleViewSet, basename="schedule")
router.register("notification-channels", ChannelViewSet, basename="notification-channel")
router.register("alert-rules", AlertRuleViewSet, basename="alert-rule")
router.register("notification-deliveries", DeliveryViewSet, basename="notification-delivery")

urlpatterns = router.urls
