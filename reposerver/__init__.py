"""ferry-reposerver: serves ``ferry.v1.RepoService`` — Git access, revision resolution, rendering
(directory YAML/JSON/Jsonnet, Kustomize, Helm) and the manifest cache.

It never talks to Kubernetes and never imports another component.
"""
