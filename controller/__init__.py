"""ferry-controller: the reconcile loop, cluster caches, sync engine, automation, history and
sharding; the only writer of ``Application.status``.

It never imports another component; it reaches the repo server through ``ferry.v1.RepoService``.
"""
