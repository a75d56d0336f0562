"""The only module of the execution app other apps may import.

The execution context owns runs: per-target and per-step results, live output, SSH/WinRM
transports, the pool.

Functions here take and return ids and frozen dataclasses, never model instances
(docs/architecture.md).
"""
