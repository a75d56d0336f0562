"""Models of the targets context: targets, groups and tags, connection methods, sealed credentials, host keys and health."""
