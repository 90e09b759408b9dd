"""RBAC: Argo CD's policy semantics, checked against pycasbin (Argo CD's RBAC is Casbin) on
hypothesis-generated policies, plus the cases people rely on."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any

import casbin
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ferry.rbac import (
    Enforcer,
    PolicyError,
    compile_csv,
    parse_csv,
    project_policy,
    project_policy_error,
    role_problems,
)

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
    e = Enforcer.from_config("", projects=[project])
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
        ("p, proj:web:ci, applications, sink, web/*, allow", "invalid action 'sink'"),
        ("p, proj:web:ci, applications, action/restart, web/*, allow", None),
        # review finding 5: a newline passed the old comma split and then broke the whole policy
        ("p, proj:web:ci, applications, get, web/x\ng", "must be one line without quotes"),
        ('p, proj:web:ci, applications, get, "web/x, y"', "must be one line without quotes"),
        ("p, proj:web:ci, applications, get, web/a b", "the object must be in the project"),
    ],
)
def test_project_role_policies_are_validated(policy: str, problem: str | None) -> None:
    error = project_policy_error("web", "ci", policy)
    if problem is None:
        assert error is None
    else:
        assert error is not None
        assert problem in error


INJECTION = "nobody, proj:team-a:dev\ng, mallory, role:admin\n#"


def team_a(role: Mapping[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "team-a"}, "spec": {"roles": [role]}}


def test_a_group_or_role_name_cannot_add_a_policy_line() -> None:
    """Review finding 5: the group below made mallory a global admin when policies were CSV text."""
    for role in (
        {"name": "dev", "groups": [INJECTION]},
        {"name": "dev\ng, mallory, role:admin", "groups": ["x"]},
        {
            "name": "dev",
            "policies": ["p, proj:team-a:dev, applications, get, team-a/*, allow\ng, mallory, role:admin"],
        },
    ):
        e = Enforcer.from_config("", projects=[team_a(role)])
        assert not e.enforce(["mallory"], "clusters", "delete", "https://x")
        assert not e.enforce(["mallory"], "applications", "get", "team-a/app")
        assert role_problems(team_a(role)), role  # and the API refuses to store it


def test_role_names_and_groups_are_validated_where_they_are_written() -> None:
    assert role_problems(team_a({"name": "dev", "groups": ["team-a-devs", "CN=x"]})) == []
    problems = role_problems(
        team_a({"name": "dev", "groups": [INJECTION, "a,b", 'say "hi"', "#x", "", " lead", "x" * 300]})
    )
    assert [p.split(":")[0] for p in problems] == [f"project.spec.roles[0].groups[{i}]" for i in range(7)]
    for name in ("", "dev,x", "dev\n", 'd"ev', "dev#", "proj:x", "-dev", "d" * 65):
        [problem] = role_problems(team_a({"name": name}))
        assert problem.startswith("project.spec.roles[0].name: "), problem
    twice = {"metadata": {"name": "team-a"}, "spec": {"roles": [{"name": "dev"}, {"name": "dev"}]}}
    assert role_problems(twice) == ["project.spec.roles[1].name: role 'dev' already exists"]


def test_a_hand_edited_project_loses_only_its_bad_entries() -> None:
    role = {
        "name": "dev",
        "policies": [
            "p, proj:team-a:dev, applications, get, team-a/x\ng",
            "p, proj:team-a:dev, applications, sync, team-a/*, allow",
        ],
        "groups": [INJECTION, "devs"],
    }
    policy, skipped = project_policy(team_a(role))
    assert len(skipped) == 2
    assert [(r.subject, r.action, r.obj) for r in policy.rules] == [("proj:team-a:dev", "sync", "team-a/*")]
    assert policy.edges == (("devs", "proj:team-a:dev"),)


def test_without_a_usable_configured_policy_only_admin_is_allowed() -> None:
    project = team_a({"name": "dev", "policies": ["p, proj:team-a:dev, applications, get, team-a/*, allow"]})
    e = Enforcer.combine(None, default_role="role:readonly", projects=[project_policy(project)[0]])
    assert e.enforce(["admin"], "clusters", "delete", "https://x")
    assert not e.enforce(["proj:team-a:dev"], "applications", "get", "team-a/app")
    assert not e.enforce(["anyone"], "applications", "get", "team-a/app")
    good = Enforcer.combine(compile_csv(""), projects=[project_policy(project)[0]])
    assert good.enforce(["proj:team-a:dev"], "applications", "get", "team-a/app")


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


def test_may_act_somewhere_is_a_sound_first_check() -> None:
    e = Enforcer.from_config("p, alice, applications, create, team-a/web-*, allow\ng, bob, role:readonly")
    assert e.may_act_somewhere(["alice"], "applications", "create")
    assert e.enforce(["alice"], "applications", "create", "team-a/web-1")
    assert not e.may_act_somewhere(["bob"], "applications", "create")
    assert not e.may_act_somewhere(["nobody"], "applications", "create")
    assert e.may_act_somewhere(["admin"], "applications", "create")
    assert Enforcer.from_config("", default_role="role:admin").may_act_somewhere([], "applications", "create")
