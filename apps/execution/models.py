"""Models of the execution context.

Runs: per-target and per-step results, live output, SSH/WinRM transports, the pool.
"""
