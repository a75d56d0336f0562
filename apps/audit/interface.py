"""The only module of the audit app other apps may import.

The audit context owns the audit trail: consumes every app's events, queries, export and retention.

Functions here take and return ids and frozen dataclasses, never model instances
(docs/architecture.md).
"""
