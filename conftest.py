"""Suite-wide fixtures. Service checks fail with what to start, not with a stack trace."""
