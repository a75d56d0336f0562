"""Models of the audit context: the audit trail: consumes every app's events, queries, export and retention."""
