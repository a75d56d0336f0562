"""The only module of the jobs app other apps may import.

The jobs context owns job definitions: ordered steps, typed parameters, versions and validation.

Functions here take and return ids and frozen dataclasses, never model instances
(docs/architecture.md).
"""
