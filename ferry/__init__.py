"""ferrycd: GitOps continuous delivery for Kubernetes.

This package is the code every component shares: the generated API stubs (``ferry.v1``), the pure
engine (``ferry.engine``: diff, health, sync ordering), and the edges to the outside world that
more than one component needs (logging, serving, Kubernetes access, cache). It never imports a
component (``server``, ``controller``, ``reposerver``, ``cli``); import-linter enforces it.
"""

__version__ = "0.1.0"
