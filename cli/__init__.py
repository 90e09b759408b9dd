"""The ``ferry`` command-line client."""

import os

# gRPC's C core logs handshake failures to stderr itself; the CLI reports every failure as one
# line of its own, so silence the core unless the user asks for its logs.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")
