"""The only module of the targets app other apps may import.

The targets context owns targets, groups and tags, connection methods, sealed credentials, host
keys and health.

Functions here take and return ids and frozen dataclasses, never model instances
(docs/architecture.md).
"""
