"""Models of the jobs context: job definitions: ordered steps, typed parameters, versions and validation."""
