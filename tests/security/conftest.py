"""The adversarial tier: repository content, URLs and requests built to break the repo server.

Each test reproduces one finding of the security review (or an Argo CD advisory of the same class)
against the repo server as its own process with the real tools, and asserts the precise outcome.
The repo-server client fixtures are those of the integration tier.
"""

from tests.integration.reposerver.conftest import client, status_of

__all__ = ["client", "status_of"]
