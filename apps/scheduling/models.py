"""Models of the scheduling context.

Schedules (cron, interval, once) and their firing history; drives django-celery-beat.
"""
