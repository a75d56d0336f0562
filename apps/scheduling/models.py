"""Models of the scheduling context: schedules (cron, interval, once) and their firing history; drives django-celery-beat."""
