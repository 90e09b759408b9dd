"""The ``ferry`` command: a thin gRPC client of ferry-server. No business logic lives here."""
