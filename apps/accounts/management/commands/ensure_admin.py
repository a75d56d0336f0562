"""``manage.py ensure_admin``: make sure someone can sign in and manage OpsConductor.

If no active admin exists, creates one with a generated password and prints the username and
password once. If an active admin exists, says so and changes nothing. Safe to run on every start.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.accounts import services


class Command(BaseCommand):
    help = (
        "Create an admin user with a generated password if no active admin exists "
        "(prints the password once); otherwise do nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--username", default="admin", help="Username of the admin to create (default: admin)."
        )
        parser.add_argument("--email", default="", help="Email address of the admin to create.")

    def handle(self, *args, username: str, email: str, **options):
        try:
            created = services.admin_ensure(username=username, email=email)
        except ValidationError as exc:
            reasons = "; ".join(
                f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items()
            )
            raise CommandError(
                f"No active admin exists and user {username!r} cannot be created ({reasons}). "
                "Pass --username to choose another name."
            ) from exc
        if created is None:
            self.stdout.write("An active admin user already exists; nothing to do.")
            return
        user, password = created
        self.stdout.write(self.style.SUCCESS("Created an admin user. Sign in with:"))
        self.stdout.write(f"username: {user.username}")
        self.stdout.write(f"password: {password}")
        self.stdout.write(
            self.style.WARNING(
                "Store this password now: it is not shown again. "
                "Change it at /api/v1/me/password/ or in the admin site."
            )
        )
