"""The pure engine: diff and normalisation, health, sync-task ordering, hook and wave parsing.

Functions over plain dicts, shared by the controller and the API server. Nothing here does I/O
(no Kubernetes, Git, network, subprocess); import-linter enforces it.
"""
