"""App of apps and shared resources: a parent with three child Applications in waves ends
Succeeded within 10 s of its last apply (children have no health check, as in Argo CD since
1.8; with Argo CD's documented Lua check turned on, a Progressing child holds the next wave and a
Missing one does not); two apps tracking one object both warn, name its owner, never hang, and
with self-heal on both back off as Argo CD does instead of flapping at full speed."""

from __future__ import annotations

from typing import Any

from tests.conftest import CONTROL_NS, GROUP, VERSION
from tests.e2e.conformance.conftest import (
    APPLICATION_HEALTH,
    APPLICATION_HEALTH_KEY,
    WAVE,
    Scenario,
    cm,
    conditions,
    gauge,
    health,
    message,
    operation,
    phase,
    stamp,
    sync_status,
)
from tests.e2e.conformance.test_waves import ends_soon_after_last_apply

IN_CLUSTER = "https://kubernetes.default.svc"


def child_app(
    name: str, wave: int, repo_url: str, path: str, namespace: str, *, auto: bool
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "project": "default",
        "source": {"repoURL": repo_url, "path": path, "targetRevision": "HEAD"},
        "destination": {"server": IN_CLUSTER, "namespace": namespace},
    }
    if auto:
        spec["syncPolicy"] = {"automated": {}}
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Application",
        "metadata": {"name": name, "namespace": CONTROL_NS, "annotations": {WAVE: str(wave)}},
        "spec": spec,
    }


def test_app_of_apps(scenario: Scenario) -> None:
    ns = scenario.namespace
    suffix = ns[-5:]
    names = [f"child-{i}-{suffix}" for i in range(4)]
    repo = scenario.repo(
        {"child-0": [gauge("g0", "Progressing")], "child-1": [cm("c1")], "child-2": [cm("c2")]}
    )
    url = f"file://{repo.bare}"
    children = [
        child_app(names[0], 0, url, "child-0", ns, auto=True),  # its Gauge stays Progressing
        child_app(names[1], 1, url, "child-1", ns, auto=False),  # never synced: health Missing
        child_app(names[2], 2, url, "child-2", ns, auto=True),
    ]
    scenario.commit(repo, "parent", children)
    scenario.apps += names  # cleaned up with the parent
    parent = scenario.app_on("parent", repo, "parent")

    # No health check on children (the default): each wave is done once applied.
    audit = scenario.audit()
    app = scenario.sync_and_finish(parent, timeout=60)
    assert phase(app) == "Succeeded", operation(app)
    assert message(app) == "successfully synced (all tasks run)"
    writes = [
        w for w in audit.writes(CONTROL_NS) if w.resource == "applications" and w.name in names and w.is_apply
    ]
    assert [w.what for w in writes] == [("patch", "applications", n) for n in names[:3]]
    ends_soon_after_last_apply(app, writes[-1].at)
    scenario.wait(names[0], lambda a: health(a) == "Progressing", what="child-0 Progressing")
    scenario.wait(
        names[1], lambda a: health(a) == "Missing" and sync_status(a) == "OutOfSync", what="child-1 Missing"
    )
    scenario.wait(names[2], lambda a: health(a) == "Healthy", what="child-2 Healthy")
    # the parent does not take its children's health: a Progressing child leaves it Healthy
    app = scenario.wait(
        parent, lambda a: health(a) == "Healthy" and sync_status(a) == "Synced", what="parent Healthy"
    )
    assert all("health" not in r for r in app["status"]["resources"])

    # Argo CD's documented health check for Applications, turned on in ferry-cm.
    scenario.harness.set_settings({APPLICATION_HEALTH_KEY: APPLICATION_HEALTH})
    try:
        scenario.wait(parent, lambda a: health(a) == "Progressing", what="the Application health rule in use")
        # a fourth child in wave 1: it comes after child-0, which is Progressing
        scenario.commit(repo, "parent", [*children, child_app(names[3], 1, url, "child-1", ns, auto=False)])
        scenario.refresh(parent, repo)
        audit = scenario.audit()
        token = scenario.sync(parent)
        scenario.running(parent, f"waiting for healthy state of ferrycd.io/Application/{names[0]}")
        assert not scenario.exists("applications", names[3], CONTROL_NS)
        scenario.set_gauge_status("g0", "Healthy")  # child-0 turns Healthy, the parent goes on
        app = scenario.finished(parent, token, timeout=90)
        assert phase(app) == "Succeeded", operation(app)
        # child-3 was never synced (Missing) and did not hold the last wave
        writes = [
            w
            for w in audit.writes(CONTROL_NS)
            if w.resource == "applications" and w.name in names and w.is_apply
        ]
        assert [w.what for w in writes] == [
            ("patch", "applications", names[0]),
            ("patch", "applications", names[1]),
            ("patch", "applications", names[3]),
            ("patch", "applications", names[2]),
        ]
        assert health(scenario.get(names[3])) == "Missing"
        scenario.wait(
            parent, lambda a: health(a) == "Healthy", what="parent Healthy (children Healthy or Missing)"
        )
    finally:
        scenario.harness.set_settings({APPLICATION_HEALTH_KEY: None})


def test_shared_resource_warns_both_apps_and_never_hangs(scenario: Scenario) -> None:
    first, _ = scenario.app("owner-a", [cm("shared"), cm("only-a")])
    second, _ = scenario.app("owner-b", [cm("shared"), cm("only-b")])
    assert phase(scenario.sync_and_finish(first)) == "Succeeded"
    app = scenario.sync_and_finish(second, timeout=60)
    assert phase(app) == "Succeeded", operation(app)
    expected_b = f"ConfigMap/shared is part of applications {second} and {first}; {second} owns it now"
    expected_a = f"ConfigMap/shared is part of applications {first} and {second}; {second} owns it now"
    b = scenario.wait(
        second,
        lambda a: any(m.startswith(expected_b) for m in conditions(a, "SharedResourceWarning")),
        what="warning in the owner",
    )
    a = scenario.wait(
        first,
        lambda a: any(m.startswith(expected_a) for m in conditions(a, "SharedResourceWarning")),
        what="warning in the other app",
    )
    assert sync_status(a) == "OutOfSync"  # the object is another app's now
    assert sync_status(b) == "Synced"
    scenario.health_is(first, "Healthy")
    scenario.health_is(second, "Healthy")


def test_self_heal_on_both_apps_backs_off(scenario: Scenario) -> None:
    """Two self-healing apps taking one object from each other: every operation ends, and each
    next self-heal waits longer (2 s, then 6 s: the controller's backoff), as Argo CD's
    autoHealAttemptsCount does — it does not flap at full speed."""
    auto = {"automated": {"selfHeal": True}}
    first, _ = scenario.app("heal-a", [cm("contested")], syncPolicy=auto)
    second, _ = scenario.app("heal-b", [cm("contested")], syncPolicy=auto)
    seen: dict[int, dict[str, Any]] = {}

    def heals(app: dict[str, Any]) -> bool:
        state = operation(app)
        attempts = int(((state.get("operation") or {}).get("sync") or {}).get("autoHealAttemptsCount") or 0)
        if attempts and state.get("phase") in ("Succeeded", "Failed", "Error"):
            seen.setdefault(attempts, state)
        return 3 in seen

    scenario.wait(first, heals, timeout=120, what="three self-heal attempts")
    assert all(s["phase"] == "Succeeded" for s in seen.values()), seen
    # attempt n+1 starts no sooner than backoff(n) = 2 x 3^(n-1) s after attempt n finished
    # (timestamps have 1 s resolution, hence the - 1)
    for attempt, backoff in ((1, 2), (2, 6)):
        gap = stamp(seen[attempt + 1]["startedAt"]) - stamp(seen[attempt]["finishedAt"])
        assert gap.total_seconds() >= backoff - 1, (attempt, seen)
    owner = scenario.get(second)
    assert any(
        "owns it now" in m
        for m in conditions(owner, "SharedResourceWarning")
        + conditions(scenario.get(first), "SharedResourceWarning")
    )
