"""Fixtures for a WS-Management test server that pywinrm can talk to (WinRM targets)."""
