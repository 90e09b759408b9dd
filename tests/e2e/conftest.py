"""End-to-end fixtures: the API server process of the server tests, shared with the CLI tests."""

from tests.integration.server.conftest import server_process

__all__ = ["server_process"]
