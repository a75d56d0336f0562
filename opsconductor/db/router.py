"""Sends each app's models to that app's database alias (docs/architecture.md, "Databases")."""

from __future__ import annotations

from django.conf import settings

# Kernel tables (the event outbox and the consumed-event ledger) live on every alias, so an
# event is always written in the same database and transaction as the change it describes.
KERNEL_APP_LABEL = "opsconductor"


def alias_for_app(app_label: str) -> str:
    """The database alias an app label's models are read from and written to."""
    return settings.DATABASE_APP_ALIASES.get(app_label, "default")


def same_database(alias_a: str, alias_b: str) -> bool:
    """Whether two aliases point at one physical database."""
    stores = settings.DATABASE_STORES
    return stores.get(alias_a, alias_a) == stores.get(alias_b, alias_b)


class AppDatabaseRouter:
    def db_for_read(self, model, **hints):
        if model._meta.app_label == KERNEL_APP_LABEL:
            instance = hints.get("instance")
            return instance._state.db if instance is not None else None
        return alias_for_app(model._meta.app_label)

    db_for_write = db_for_read

    def allow_relation(self, obj1, obj2, **hints):
        # A relation is only allowed inside one app's alias; None would let Django fall back to
        # its own rule (same database), which single-database mode would satisfy by accident.
        return alias_for_app(obj1._meta.app_label) == alias_for_app(obj2._meta.app_label)

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if app_label == KERNEL_APP_LABEL:
            return True
        # Django records applied migrations per physical database, not per alias: when several
        # aliases share one database, the app's tables are created through whichever of them
        # migrates first (docs/adr/0003-database-per-app-aliases.md).
        return same_database(db, alias_for_app(app_label))
