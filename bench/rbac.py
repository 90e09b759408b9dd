"""RBAC check cost: a policy of 200 team roles, 5,000 checks as a List of 5,000 apps makes;
baseline in the same run: a dict lookup per check (the floor of any per-app work)."""

from __future__ import annotations

import time

from ferry.rbac import Enforcer

APPS = 5000


def run() -> None:
    policy = "\n".join(
        f"p, role:team-{i}, applications, *, proj-{i}/*, allow\ng, user-{i}, role:team-{i}"
        for i in range(200)
    )
    enforcer = Enforcer.from_config(policy, default_role="")
    objects = [f"proj-{i % 200}/app-{i}" for i in range(APPS)]
    table = {obj: True for obj in objects}
    start = time.perf_counter()
    for obj in objects:
        _ = table[obj]
    baseline = time.perf_counter() - start
    start = time.perf_counter()
    allowed = sum(enforcer.enforce(["user-7", "group-x"], "applications", "get", obj) for obj in objects)
    elapsed = time.perf_counter() - start
    print(
        f"{APPS} checks: {elapsed * 1000:.1f} ms ({elapsed / APPS * 1e6:.1f} µs per check), {allowed} allowed"
    )
    print(f"baseline dict lookups: {baseline * 1000:.2f} ms; RBAC is {elapsed / baseline:.0f}x that")
