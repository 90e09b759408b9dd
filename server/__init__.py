"""ferry-server: the public API (ApplicationService, SessionService, management services) over
gRPC and REST/JSON, authentication, RBAC, web UI and Git webhooks.

It never applies manifests itself (the controller does) and never imports another component.
"""
