"""Models of the targets context.

Targets, groups and tags, connection methods, sealed credentials, host keys and health.
"""
