"""The only module of the scheduling app other apps may import.

The scheduling context owns schedules (cron, interval, once) and their firing history; drives
django-celery-beat.

Functions here take and return ids and frozen dataclasses, never model instances
(docs/architecture.md).
"""
