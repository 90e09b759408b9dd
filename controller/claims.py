"""Which apps claim which objects: so that when two apps track one object, both say so.

Argo CD warns only in the app that does not own a shared object (the tracking annotation names
another app); the owner looks clean, so nobody notices until the other app's self-heal takes the
object back. ferry also warns in the owner: after each comparison the controller records the
objects an app's manifests claim (per destination cluster), and an object claimed by another app
too gets a ``SharedResourceWarning`` in both, naming the owner.

Only apps this controller reconciles are known (with sharding: those of its shards); the index is
kept in memory and filled again by the first comparison after a restart.
"""

from __future__ import annotations

from collections import defaultdict

from controller.compare import Comparison, shared_resource_message
from ferry.engine.tracking import ResourceKey, owning_app


class Claims:
    def __init__(self) -> None:
        self._apps: dict[tuple[str, ResourceKey], set[str]] = defaultdict(set)
        self._keys: dict[str, set[tuple[str, ResourceKey]]] = {}

    def forget(self, app: str) -> None:
        for claim in self._keys.pop(app, set()):
            owners = self._apps.get(claim)
            if owners is not None:
                owners.discard(app)
                if not owners:
                    del self._apps[claim]

    def update(self, app: str, cluster: str, comparison: Comparison) -> list[tuple[str, str]]:
        """Records what ``app`` claims now; the warnings for objects it owns that other apps
        claim too (the others' own comparison warns them: the object is not theirs)."""
        self.forget(app)
        claims = {(cluster, r.key) for r in comparison.resources if r.desired is not None and not r.hook}
        self._keys[app] = claims
        warnings = []
        for claim in sorted(claims, key=lambda c: str(c[1])):
            self._apps[claim].add(app)
            state = next(r for r in comparison.resources if r.key == claim[1] and r.desired is not None)
            if state.live is None or owning_app(state.live) != app:
                continue
            for other in sorted(self._apps[claim] - {app}):
                warnings.append(("SharedResourceWarning", shared_resource_message(claim[1], app, other, app)))
        return warnings
