"""Models of the jobs context.

Job definitions: ordered steps, typed parameters, versions and validation.
"""
