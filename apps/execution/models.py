"""Models of the execution context: runs: per-target and per-step results, live output, SSH/WinRM transports, the pool."""
