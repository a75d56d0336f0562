"""Transports the execution engine runs steps through (SSH now; WinRM later) and the pool."""
