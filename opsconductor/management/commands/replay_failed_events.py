"""Send events that a subscriber kept failing on to it again (after fixing the cause)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from opsconductor.events.models import FailedDelivery
from opsconductor.events.outbox import distinct_database_aliases
from opsconductor.events.registry import get_subscriber
from opsconductor.tasks_routing import queue_for


class Command(BaseCommand):
    help = "Replay failed event deliveries (all, or one subscriber's, or one event's)."

    def add_arguments(self, parser):
        parser.add_argument("--subscriber", help="only this subscriber (dotted name)")
        parser.add_argument("--event", help="only this event id")
        parser.add_argument(
            "--list", action="store_true", dest="list_only", help="show them, replay nothing"
        )

    def handle(self, *args, subscriber=None, event=None, list_only=False, **options):
        from opsconductor.events.tasks import deliver_event

        replayed = 0
        for alias in distinct_database_aliases():
            letters = FailedDelivery.objects.using(alias).order_by("failed_at")
            if subscriber:
                letters = letters.filter(subscriber=subscriber)
            if event:
                letters = letters.filter(event_id=event)
            for letter in letters:
                self.stdout.write(
                    f"{letter.failed_at:%Y-%m-%d %H:%M:%S} {letter.subscriber} "
                    f"{letter.event_type} {letter.event_id}: {letter.error}"
                )
                if list_only:
                    continue
                sub = get_subscriber(letter.subscriber)
                if sub is None:
                    self.stderr.write(f"  no subscriber {letter.subscriber} any more; kept")
                    continue
                deliver_event.apply_async(
                    args=(letter.subscriber, letter.message), queue=queue_for(sub.app)
                )
                letter.delete()
                replayed += 1
        self.stdout.write(f"replayed {replayed} failed delivery(ies)")
