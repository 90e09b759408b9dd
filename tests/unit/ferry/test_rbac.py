"""RBAC: Argo CD's policy semantics, checked against pycasbin (Argo CD's RBAC is Casbin) on
hypothesis-generated policies, plus the cases people rely on."""

from __future__ import annotations

import fnmatch

import casbin
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ferry.rbac import Enforcer, PolicyError, parse_csv, project_policies, project_policy_error

MODEL = """
[request_definition]
r = sub, res, act, obj

[policy_definition]
p = sub, res, act, obj, eft

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = g(r.sub, p.sub) && argoGlob(r.res, p.res) && argoGlob(r.act, p.act) && argoGlob(r.obj, p.obj)
"""


def oracle(policy_csv: str) -> casbin.Enforcer:
    model = casbin.Enforcer.new_model(text=MODEL)
    enforcer = casbin.Enforcer(model)
    # Argo CD's glob (gobwas, no separators): "*" also matches "/".
    enforcer.add_function("argoGlob", fnmatch.fnmatchcase)
    rules, edges = parse_csv(policy_csv)
    for rule in rules:
        enforcer.add_policy(
            rule.subject, rule.resource, rule.action, rule.obj, "allow" if rule.allow else "deny"
        )
    for member, role in edges:
        enforcer.add_grouping_policy(member, role)
    return enforcer


def test_typical_policy() -> None:
    policy = """
p, role:dev, applications, get, web/*, allow
p, role:dev, applications, sync, web/*, allow
p, role:dev, applications, sync, web/prod-*, deny
g, team-web, role:dev
g, alice, team-web
p, bob, applications, *, */*, allow
"""
    e = Enforcer.from_config(policy)
    assert e.enforce(["alice"], "applications", "sync", "web/shop")
    assert not e.enforce(["alice"], "applications", "sync", "web/prod-shop")  # deny wins
    assert e.enforce(["alice"], "applications", "get", "web/prod-shop")
    assert not e.enforce(["alice"], "applications", "delete", "web/shop")
    assert not e.enforce(["alice"], "applications", "get", "other/x")
    assert e.enforce(["carol", "team-web"], "applications", "get", "web/a")  # through an OIDC group
    assert e.enforce(["bob"], "applications", "delete", "any/app")
    assert e.enforce(["admin"], "clusters", "delete", "https://x")  # built-in admin
    assert not e.enforce(["mallory"], "applications", "get", "web/a")


def test_default_role_applies_to_everyone_and_cannot_be_denied() -> None:
    e = Enforcer.from_config("p, mallory, applications, get, */*, deny", default_role="role:readonly")
    assert e.enforce(["mallory"], "applications", "get", "p/a")
    assert not e.enforce(["mallory"], "applications", "sync", "p/a")


def test_project_roles_are_confined_to_their_project() -> None:
    project = {
        "metadata": {"name": "web"},
        "spec": {
            "roles": [
                {
                    "name": "ci",
                    "policies": [
                        "p, proj:web:ci, applications, sync, web/*, allow",
                        "p, proj:web:ci, applications, sync, other/*, allow",
                        "p, proj:web:ci, clusters, delete, *, allow",
                    ],
                    "groups": ["ci-bots"],
                }
            ]
        },
    }
    e = Enforcer.from_config("", extra=[project_policies(project)])
    assert e.enforce(["proj:web:ci"], "applications", "sync", "web/shop")
    assert not e.enforce(["proj:web:ci"], "applications", "sync", "other/shop")
    assert e.enforce(["ci-bots"], "applications", "sync", "web/shop")
    assert not e.enforce(["proj:web:ci"], "clusters", "delete", "https://prod")


@pytest.mark.parametrize(
    ("policy", "problem"),
    [
        ("p, proj:web:ci, applications, sync, web/*, allow", None),
        ("p, proj:web:ci, logs, get, web/shop, deny", None),
        ("p, proj:web:ci, applications, sync, web/*", None),
        ("p, proj:web:ci, clusters, delete, *, allow", "may only be granted applications or logs"),
        (
            "p, proj:web:ci, applications, sync, other/*, allow",
            "the object must be in the project, web/<app>",
        ),
        ("p, role:admin, applications, sync, web/*, allow", "must grant to proj:web:ci"),
        ("p, proj:web:ci, applications, sync, web/*, maybe", "effect must be allow or deny"),
        ("g, proj:web:ci, role:admin", "is not 'p, proj:web:ci, applications"),
    ],
)
def test_project_role_policies_are_validated(policy: str, problem: str | None) -> None:
    error = project_policy_error("web", "ci", policy)
    if problem is None:
        assert error is None
    else:
        assert error is not None
        assert problem in error


def test_bad_lines_name_their_line() -> None:
    with pytest.raises(PolicyError, match=r"policy.csv:2: effect must be allow or deny"):
        parse_csv("p, a, applications, get, */*, allow\np, a, applications, get, */*, maybe\n")
    with pytest.raises(PolicyError, match=r"policy.csv:1: lines start with p or g"):
        parse_csv("x, a, b\n")


subjects = st.sampled_from(["alice", "bob", "team-a", "team-b", "role:x", "role:y"])
patterns = st.sampled_from(
    ["*", "applications", "projects", "get", "sync", "web/*", "*/a", "web/a", "other/*"]
)


@st.composite
def policies(draw: st.DrawFn) -> str:
    lines = []
    for _ in range(draw(st.integers(1, 8))):
        effect = draw(st.sampled_from(["allow", "allow", "deny"]))
        lines.append(f"p, {draw(subjects)}, {draw(patterns)}, {draw(patterns)}, {draw(patterns)}, {effect}")
    for _ in range(draw(st.integers(0, 5))):
        lines.append(f"g, {draw(subjects)}, {draw(st.sampled_from(['role:x', 'role:y', 'team-a']))}")
    return "\n".join(lines)


@given(
    policies(),
    subjects,
    st.sampled_from(["applications", "projects"]),
    st.sampled_from(["get", "sync"]),
    st.sampled_from(["web/a", "other/a", "web/b"]),
)
@settings(max_examples=300, deadline=None)
def test_agrees_with_casbin(policy: str, subject: str, resource: str, action: str, obj: str) -> None:
    ours = Enforcer(*parse_csv(policy)).allowed(subject, resource, action, obj)
    assert ours == oracle(policy).enforce(subject, resource, action, obj)
